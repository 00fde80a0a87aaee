"""The command line: parses, validates, calls the API. No training logic lives here.

Every user mistake ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from cifarbench import __version__
from cifarbench.errors import RunStopped, UserError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        # argparse (3.11) turns `--flag=--` into an empty list instead of refusing it
        for arg in sys.argv[1:] if args is None else args:
            if isinstance(arg, str) and arg.startswith("--") and arg.endswith("=--"):
                self.error(f"argument {arg.split('=', 1)[0]}: expected a value, got '--'")
        return super().parse_known_args(args, namespace)


def checkpoint_interval(text: str) -> tuple[int, str]:
    """'3' -> (3, 'epochs'); '500steps' or '500step' -> (500, 'steps')."""
    value = text.strip().lower()
    unit = "epochs"
    for suffix, name in (("steps", "steps"), ("step", "steps"), ("epochs", "epochs"), ("epoch", "epochs")):
        if value.endswith(suffix):
            value, unit = value[: -len(suffix)].strip(), name
            break
    if not value.isdigit() or (unit == "steps" and int(value) == 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not N (epochs, 0 = only at the end) or Nsteps (N >= 1), e.g. 2 or 500steps")
    return int(value), unit


def _add_bench_training_arguments(p: argparse.ArgumentParser, recipe: str | None, model: str | None,
                                  epochs: float, model_help: str = "default: the recipe's model") -> None:
    """The options every training benchmark shares: what to train, on what, for how long, where."""
    p.add_argument("--recipe", default=recipe, help=None if recipe else "default: the model's own recipe")
    p.add_argument("--model", default=model, help=model_help)
    p.add_argument("--dataset", help="real data instead of synthetic (e.g. cifar10, fashion-mnist)")
    p.add_argument("--epochs", type=float, default=epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", default="runs")


def logger_list(text: str) -> list[str]:
    """'csv,tensorboard' -> ['csv', 'tensorboard']; 'none' -> [] (names are checked by the config)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return [] if names == ["none"] else names


def one_of(values) -> str:
    """A choice list for --help, written from the code's own tuple so the two cannot disagree."""
    return "one of: " + ", ".join(map(str, values))


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    # the values --help lists come from the code that checks them
    from cifarbench.config import (
        FLIP_MODES,
        FRAMEWORKS,
        HYBRID_PRESETS,
        LOGGER_NAMES,
        NONFINITE,
        OPTIMIZERS,
        SCHEDULES,
        TRAINERS,
        TTA_LEVELS,
    )
    from cifarbench.data.registry import DATASET_NAMES
    from cifarbench.devices import DEVICES, PRECISIONS
    from cifarbench.train.recipes import DEFAULT_RECIPE

    p.add_argument("--recipe", help="named recipe (see `cifarbench list recipes`); default: the model's own "
                                    f"recipe with --model, else {DEFAULT_RECIPE}")
    p.add_argument("--config", metavar="YAML", help="YAML file of config sections, applied over the recipe")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override any config field, e.g. --set optim.nesterov=true (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--runs", type=int, default=1, metavar="N",
                   help="N runs with seeds seed..seed+N-1; prints mean, std and 95%% CI of accuracy and time. Under "
                        "torchrun, each process takes its share of the seeds as independent runs (no DDP)")
    p.add_argument("--jobs", type=int, default=1, metavar="K",
                   help="with --runs N: K runs at a time, the CPU cores shared out (one GPU each where there are "
                        "several). A seed gives the same run whatever K at the same threads per run: fix them "
                        "with --set train.threads=T to compare K=1 with K=2 bit for bit")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help=f"{one_of(DATASET_NAMES)} (default: the recipe's, else cifar10)")
    g.add_argument("--data-dir", help="the only folder the dataset is read from and downloaded to (default: search "
                                      "$CIFARBENCH_DATA, ~/.cache/cifarbench, then system copies)")
    g.add_argument("--offline", action="store_true", help="never download; fail if the data is not here")
    g.add_argument("--val-split", type=float, metavar="F",
                   help="hold out fraction F of the training split for validation (default: validate on test)")
    g.add_argument("--train-subset", type=int, metavar="N", help="train on the first N training images only")
    g.add_argument("--test-subset", type=int, metavar="N", help="evaluate on the first N test images only")
    g.add_argument("--coarse-labels", action="store_true", help="cifar100: the 20 superclasses")
    g = p.add_argument_group("model")
    g.add_argument("--model", help="model name (see `cifarbench list models`)")
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", dest="optim_name", help=one_of(OPTIMIZERS))
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--momentum", type=float)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--label-smoothing", type=float)
    g = p.add_argument_group("schedule")
    g.add_argument("--schedule", help=one_of(SCHEDULES))
    g = p.add_argument_group("augmentation")
    g.add_argument("--flip", help=one_of(FLIP_MODES))
    g.add_argument("--crop-padding", type=int, metavar="PX", help="random crop after padding PX pixels")
    g = p.add_argument_group("training and device")
    g.add_argument("--epochs", type=float, help="epochs (fractions allowed)")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--device", help=f"{one_of(DEVICES)} (auto: cuda, then mps, then cpu; cuda:N picks a GPU)")
    g.add_argument("--precision", help=f"{one_of(PRECISIONS)}. bf16/fp16: autocast; -pure: weights, activations "
                                       "and gradients in that dtype, BatchNorm in fp32, no loss scaling. auto: "
                                       "fp16-pure on CUDA for recipes with a summed loss (airbench's), fp16 "
                                       "otherwise; bf16 on a CPU with native bf16; else fp32")
    g.add_argument("--channels-last", action="store_true", default=None, help="NHWC memory format")
    g.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model; compilation runs in a warm-up before the clock and is reported "
                        "apart (run_log compile_seconds); --runs N reuses the compiled model")
    g.add_argument("--seed", type=int)
    g.add_argument("--deterministic", action="store_true", default=None,
                   help="deterministic algorithms (slower on GPU; same losses bit for bit)")
    g.add_argument("--checkpoint-every", type=checkpoint_interval, metavar="N|Nsteps",
                   help="save a checkpoint every N epochs (default 1), or every N optimizer steps with a "
                        "'steps' suffix (e.g. 500steps), mid-epoch included; a resumed run continues bit for bit")
    g.add_argument("--trainer", choices=TRAINERS,
                   help="hybrid: skip backward passes where the update can be predicted (warmup -> full -> predict "
                        "with corrections and a divergence detector); knobs: --set hybrid.tau=0.7 etc.")
    g.add_argument("--hybrid-preset", choices=tuple(HYBRID_PRESETS),
                   help="; ".join(f"{name}: tau {v['tau']:.2f}, horizon {v['horizon']}, correction every "
                                  f"{v['correct_every']}" for name, v in HYBRID_PRESETS.items()))
    g.add_argument("--framework", choices=FRAMEWORKS,
                   help="torch (default) or mlx: Apple's MLX (Metal on Apple silicon, CPU on Linux; "
                        "pip install 'cifarbench[mlx]'); MLX models: small-resnet, resnet18")
    g.add_argument("--nonfinite", choices=NONFINITE,
                   help="a non-finite loss: stop the run keeping the last good checkpoint (default), or skip "
                        "such steps and count them (costs one device sync per step)")
    g.add_argument("--tta", type=int, help=f"test-time augmentation of the final test, {one_of(TTA_LEVELS)} "
                                           "(1: mirror; 2: mirror and 1-pixel translations)")
    g = p.add_argument_group("output")
    g.add_argument("--logger", dest="loggers", type=logger_list, metavar="NAMES",
                   help=f"comma-separated, {one_of(LOGGER_NAMES)}, or none (default: csv, i.e. metrics.csv in the run "
                        "directory). tensorboard, mlflow and wandb each need their extra, e.g. "
                        "pip install 'cifarbench[tensorboard]'; MLFLOW_TRACKING_URI and WANDB_MODE=offline are honoured")
    g.add_argument("--runs-dir", help="where run directories are created (default: runs)")
    g.add_argument("--name", help="run folder label (default: <dataset>-<model>)")
    g.add_argument("--quiet", action="store_true", help="no progress bar; results only")
    g.add_argument("--no-plots", dest="plots", action="store_false", default=None,
                   help="skip the pictures at the end of the run (`cifarbench plot RUN_DIR` draws them later)")


def _add_base_config_arguments(p: argparse.ArgumentParser) -> None:
    """What a command that trains many runs (tune, ablate) starts each of them from."""
    from cifarbench.data.registry import DATASET_NAMES
    from cifarbench.devices import DEVICES, PRECISIONS

    p.add_argument("--recipe", help="named recipe (see `cifarbench list recipes`)")
    p.add_argument("--config", metavar="YAML", help="YAML file of config sections, applied over the recipe")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override any config field in every run, e.g. --set train.epochs=6 (repeatable)")
    p.add_argument("--dataset", help=f"{one_of(DATASET_NAMES)} (default: the recipe's)")
    p.add_argument("--data-dir", help="the only folder the dataset is read from and downloaded to")
    p.add_argument("--offline", action="store_true", help="never download; fail if the data is not here")
    p.add_argument("--val-split", type=float, metavar="F",
                   help="hold out fraction F of the training split for validation")
    p.add_argument("--train-subset", type=int, metavar="N", help="train on the first N training images only")
    p.add_argument("--test-subset", type=int, metavar="N", help="evaluate on the first N test images only")
    p.add_argument("--model", help="model name (see `cifarbench list models`)")
    p.add_argument("--epochs", type=float, help="epochs (fractions allowed)")
    p.add_argument("--device", help=one_of(DEVICES))
    p.add_argument("--precision", help=one_of(PRECISIONS))
    p.add_argument("--seed", type=int, help="the first seed (default 0)")
    p.add_argument("--runs-dir", default="runs", help="where the command's folder is created (default: runs)")
    p.add_argument("--quiet", action="store_true", help="results only")
    p.set_defaults(coarse_labels=False)


# flag -> (section, field): the command-line values that land in the config
_FLAG_FIELDS = {
    "dataset": ("data", "dataset"), "data_dir": ("data", "data_dir"), "val_split": ("data", "val_split"),
    "train_subset": ("data", "train_subset"), "test_subset": ("data", "test_subset"),
    "model": ("model", "name"), "optim_name": ("optim", "name"), "lr": ("optim", "lr"),
    "momentum": ("optim", "momentum"), "weight_decay": ("optim", "weight_decay"),
    "label_smoothing": ("optim", "label_smoothing"), "schedule": ("schedule", "name"),
    "flip": ("augment", "flip"), "crop_padding": ("augment", "crop_padding"),
    "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"), "device": ("train", "device"),
    "precision": ("train", "precision"), "channels_last": ("train", "channels_last"),
    "compile": ("train", "compile"), "seed": ("train", "seed"), "deterministic": ("train", "deterministic"),
    "nonfinite": ("train", "nonfinite"), "framework": ("train", "framework"), "trainer": ("train", "trainer"),
    "hybrid_preset": ("hybrid", "preset"), "tta": ("train", "tta"), "plots": ("train", "plots"),
    "loggers": ("train", "loggers"),
    "runs_dir": (None, "runs_dir"), "name": (None, "name"),
}


def explicit_values(args: argparse.Namespace) -> dict:
    """The config values given on the command line (flags, --set, --config), as nested sections."""
    from cifarbench.config import load_yaml, merge, parse_assignment

    flags: dict = {}
    for attr, (section, key) in _FLAG_FIELDS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if section is None:
            flags[key] = value
        else:
            flags.setdefault(section, {})[key] = value
    if getattr(args, "checkpoint_every", None) is not None:
        count, unit = args.checkpoint_every
        flags.setdefault("train", {})["checkpoint_every_steps" if unit == "steps" else "checkpoint_every"] = count
    if getattr(args, "hybrid_preset", None) and getattr(args, "trainer", None) is None:
        flags.setdefault("train", {})["trainer"] = "hybrid"  # a preset asks for the hybrid trainer
    if args.offline:
        flags.setdefault("data", {})["download"] = False
    if args.coarse_labels:
        flags.setdefault("data", {})["coarse_labels"] = True
    for text in args.assignments:
        flags = merge(flags, parse_assignment(text))
    return merge(load_yaml(args.config), flags) if args.config else flags


# ---------------------------------------------------------------- commands


def cmd_train(args) -> int:
    from cifarbench.api import resume, train
    from cifarbench.train.recipes import resolve_config

    asked = explicit_values(args)
    if args.runs < 1:
        raise UserError(f"--runs {args.runs} must be at least 1")
    if args.resume and args.runs > 1:
        raise UserError("--resume continues one run; it cannot be combined with --runs")
    if args.jobs != 1 and args.runs == 1:
        raise UserError(f"--jobs {args.jobs} shares out --runs N; with one run there is nothing to share")
    if args.runs > 1:
        from cifarbench.bench.repeat import train_repeated

        repeated = train_repeated(resolve_config(args.recipe, asked), args.runs, quiet=args.quiet, argv=sys.argv,
                                  jobs=args.jobs)
        if repeated.summary is not None:  # torchrun's other ranks leave the report to rank 0
            print((repeated.folder / "summary.md").read_text(), end="")
            print(f"runs in {repeated.folder}")
        return 0
    if args.resume:
        result = resume(args.resume, asked=asked, quiet=args.quiet, argv=sys.argv)
    else:
        result = train(resolve_config(args.recipe, asked), quiet=args.quiet, argv=sys.argv)
    if not result.run.writable:  # a distributed run's other ranks: rank 0 reports
        return 0
    m, log = result.metrics, result.run_log
    top5 = f"  top-5 {m['top5_accuracy']:.2%}" if "top5_accuracy" in m else ""
    print(f"test accuracy {m['accuracy']:.2%}{top5}  test loss {m['loss']:.4f}  "
          f"train time {log['train_seconds']:.1f}s  run {result.run.path}")
    return 0


def cmd_eval(args) -> int:
    import dataclasses

    from cifarbench.data.prepare import load_configured_dataset, test_split_of
    from cifarbench.eval.inference import evaluate_loaded, load_model
    from cifarbench.eval.metrics import classification_report

    loaded = load_model(args.checkpoint, args.device)
    d = loaded.config.data
    data_config = dataclasses.replace(d, dataset=args.dataset or d.dataset, data_dir=args.data_dir or d.data_dir,
                                      download=not args.offline, test_subset=args.test_subset, val_split=0.0)
    config = dataclasses.replace(loaded.config, data=data_config)
    test = test_split_of(config, load_configured_dataset(config, quiet=True))
    tta = loaded.config.train.tta if args.tta is None else args.tta
    metrics = evaluate_loaded(loaded, test.images, test.labels, tta=tta)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(classification_report(metrics), end="")
    return 0


def cmd_export(args) -> int:
    from cifarbench.export import export

    out = export(args.checkpoint, args.format, args.output)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.format})")
    return 0


def cmd_predict(args) -> int:
    from cifarbench.eval.inference import load_model, predict

    loaded = load_model(args.checkpoint, args.device)
    for path, top in zip(args.images, predict(loaded, args.images, args.top_k)):
        print(f"{path}: " + ", ".join(f"{name} {p:.1%}" for name, p in top))
    return 0


def cmd_reproduce(args) -> int:
    from cifarbench.bench.reproduce import reproduce
    from cifarbench.train.recipes import resolve_config

    if args.resume or args.runs != 1 or args.jobs != 1:
        raise UserError("reproduce trains twice from scratch; --resume, --runs and --jobs do not apply")
    result = reproduce(resolve_config(args.recipe, explicit_values(args)), quiet=args.quiet)
    print((Path(result["folder"]) / "reproduce.md").read_text(), end="")
    return 0 if result["all_match"] else 1


def cmd_compare_methods(args) -> int:
    from cifarbench.bench.methods import METHODS, compare_methods

    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    summary = compare_methods(args.dataset, methods, quick=args.quick, device=args.device, data_dir=args.data_dir,
                              runs_dir=args.runs_dir, download=not args.offline, seed=args.seed, quiet=args.quiet)
    print((Path(summary["folder"]) / "comparison.md").read_text(), end="")
    print(f"runs in {summary['folder']}")
    return 0


def _print_bench(result: dict) -> int:
    print((Path(result["folder"]) / "report.txt").read_text(), end="")
    print(f"report, JSON and chart in {result['folder']}")
    return 0


def cmd_bench_devices(args) -> int:
    from cifarbench.bench.devices import bench_devices

    result = bench_devices(args.devices.split(",") if args.devices else None, recipe=args.recipe, model=args.model,
                           dataset=args.dataset, epochs=args.epochs, repeats=args.repeats, seed=args.seed,
                           runs_dir=args.runs_dir, quiet=True)
    return _print_bench(result)


def cmd_bench_scaling(args) -> int:
    from cifarbench.bench.scaling import bench_scaling, parse_nproc

    result = bench_scaling(parse_nproc(args.nproc), recipe=args.recipe, model=args.model, dataset=args.dataset,
                           epochs=args.epochs, repeats=args.repeats, seed=args.seed, device=args.device,
                           runs_dir=args.runs_dir)
    return _print_bench(result)


def cmd_bench_frameworks(args) -> int:
    from cifarbench.bench.frameworks import bench_frameworks
    from cifarbench.mlx import require_mlx

    require_mlx()
    result = bench_frameworks(args.model, recipe=args.recipe, dataset=args.dataset, epochs=args.epochs,
                              device=args.device, seed=args.seed, runs_dir=args.runs_dir,
                              train_images=args.train_images, image_size=args.image_size)
    return _print_bench(result)


def cmd_bench_throughput(args) -> int:
    from cifarbench.bench.results import print_table
    from cifarbench.bench.throughput import bench_throughput
    from cifarbench.models import list_models

    models = args.models.split(",") if args.models else list_models()
    unknown = sorted(set(models) - set(list_models()))
    if unknown:
        raise UserError(f"unknown model {unknown[0]!r}; known models: {', '.join(list_models())}")
    result = bench_throughput(models, runs_dir=args.runs_dir, batch_size=args.batch_size, precision=args.precision,
                              channels_last=not args.nchw, device=args.device, steps=args.steps)
    rows = [[r["model"], f"{r['parameters']:,}", r["train_images_per_second"], r["infer_images_per_second"],
             f"{r['train_flops_per_image'] / 1e9:.3f}", f"{r['train_fraction_of_peak']:.1%}",
             f"{(r['peak_memory_bytes'] or 0) / 2**20:,.0f}"] for r in result["models"]]
    first = result["models"][0]
    print_table(f"throughput on {first['device']} ({first['precision']}, batch {args.batch_size}, "
                f"{'NCHW' if args.nchw else 'channels_last'})",
                ["model", "params", "train img/s", "infer img/s", "train GFLOP/img", "of matmul peak", "peak MiB"],
                rows)
    print(f"JSON and chart in {result['folder']}")
    return 0


def cmd_tune(args) -> int:
    from cifarbench.bench.space import load_space
    from cifarbench.bench.tune import TuneRequest, require_optuna, tune
    from cifarbench.tables import percent

    require_optuna()  # before anything is read or written
    base = explicit_values(args)
    base.pop("runs_dir", None)
    request = TuneRequest(args.recipe, load_space(args.space), base, trials=args.trials, budget_s=args.budget_s,
                          target=args.target, storage=args.storage, study=args.study, jobs=args.jobs,
                          resume=args.resume, runs_dir=args.runs_dir, quiet=args.quiet, heartbeat_s=args.heartbeat_s)
    result = tune(request)
    print((Path(result["folder"]) / "trials.md").read_text(), end="")
    best = result.get("best_config")
    if best is None:
        print("no trial completed: nothing to recommend yet")
    else:
        trial = next(r for r in result["trials"] if r["number"] == result["best_trial"])
        print(f"best: trial {trial['number']}, {percent(trial['val_accuracy'])} validation accuracy in "
              f"{trial['seconds']:.1f} s -> {Path(result['folder']) / 'best.yaml'}")
    print(f"study {result['study']} ({result['storage']}); this command ran {sum(result['ran_here'])} trials; "
          f"table, JSON and charts in {result['folder']}")
    return 0


def cmd_ablate(args) -> int:
    from cifarbench.bench.ablate import ablate

    if not args.recipe:
        raise UserError("ablate needs --recipe: the recipe whose tricks to take apart")
    base = explicit_values(args)
    base.pop("runs_dir", None)
    result = ablate(args.recipe, base, mode=args.mode, seeds=args.seeds, target=args.target,
                    runs_dir=args.runs_dir, quiet=args.quiet)
    return _print_bench(result)


def cmd_plot(args) -> int:
    from cifarbench.plots.run import plot_run
    from cifarbench.runs import RunDir

    for path in plot_run(RunDir.open(args.run_dir)):
        print(path)
    return 0


def cmd_activations(args) -> int:
    from cifarbench.bench.results import print_table
    from cifarbench.eval.inference import load_model
    from cifarbench.report.activations import activations

    if args.image is not None and args.index is not None:
        raise UserError("give --image or --index, not both")
    loaded = load_model(args.source, args.device)
    source = Path(args.source)
    out = Path(args.output) if args.output else (source if source.is_dir() else source.parent) / "activations"
    layers = [name.strip() for name in args.layers.split(",") if name.strip()] if args.layers else None
    captured, paths, described = activations(loaded, out, layers, args.image, args.index)
    print_table(f"activations of {described}", ["layer", "channels", "resolution", "sparsity (<= 0)", "grid"],
                [[a.name, a.channels, a.resolution, f"{a.sparsity:.1%}", str(path)] for a, path in zip(captured, paths)])
    return 0


def cmd_compare(args) -> int:
    from cifarbench.report.compare import compare

    print(compare(args.run_dirs), end="")
    return 0


def cmd_report(args) -> int:
    from cifarbench.report.results import build_report

    summary = build_report(args.runs_dir, args.output, args.targets)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary["statuses"].items()))
    print(f"{summary['runs']} runs ({statuses or 'none'}), {summary['images']} charts")
    print(summary["markdown"])
    print(summary["html"])
    return 0


def cmd_info(args) -> int:
    import torch

    from cifarbench.devices import configure_threads, cpu_supports_fast_bf16, resolve_device
    from cifarbench.fingerprint import fingerprint

    configure_threads()
    info = fingerprint(resolve_device("auto"))
    info["auto_device"] = str(resolve_device("auto"))
    info["cpu_fast_bf16"] = cpu_supports_fast_bf16()
    info["cuda_available"] = torch.cuda.is_available()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def cmd_list(args) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    if args.what == "models":
        from cifarbench.models import MODELS, build_model, count_parameters

        for col in ("model", "parameters (3x32x32, 10 classes)", "inputs", "source"):
            table.add_column(col, justify="right" if col.startswith("param") else "left")
        for name in sorted(MODELS):
            params = count_parameters(build_model(name, 10, 3, 32))
            table.add_row(name, f"{params:,}", "3x32x32, 1x28x28 (any square)", MODELS[name].source)
    elif args.what == "datasets":
        from cifarbench.data.registry import DATASETS
        from cifarbench.data.store import locate

        for col in ("dataset", "classes", "shape", "on this machine", "source"):
            table.add_column(col)
        for name, spec in DATASETS.items():
            where = locate(name)
            table.add_row(name, str(spec.num_classes), "x".join(map(str, spec.shape)), str(where or "no"), spec.source)
        table.add_row("synthetic", "any", "any", "generated", "cifarbench (for benchmarks and tests)")
    else:
        from cifarbench.train.recipes import DEFAULT_RECIPE, RECIPES

        for col in ("recipe", "model", "dataset", "optimizer", "schedule", "epochs", "batch"):
            table.add_column(col)
        for name, r in RECIPES.items():
            table.add_row(name + (" (default)" if name == DEFAULT_RECIPE else ""), r["model"]["name"],
                          r.get("data", {}).get("dataset", "cifar10"),
                          f"{r['optim']['name']} lr {r['optim']['lr']}", r["schedule"]["name"],
                          str(r["train"]["epochs"]), str(r["train"]["batch_size"]))
    Console(width=160).print(table)
    return 0


def cmd_data(args) -> int:
    from cifarbench.data.download import ensure_files
    from cifarbench.data.registry import get_spec
    from cifarbench.data.store import load_dataset

    spec = get_spec(args.dataset)
    if args.action == "download":
        ds = load_dataset(args.dataset, data_dir=args.data_dir, quiet=False)
        print(f"{ds.name}: {len(ds.train):,} train / {len(ds.test):,} test images, "
              f"mean {ds.mean} std {ds.std} ({ds.location})")
    else:
        _, records = ensure_files(spec, args.data_dir, download=False)  # verifies every file
        for record in records:
            print(f"ok  {record['path']}  md5 {record['md5']}")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> Parser:
    parser = Parser(prog="cifarbench", description="Train and benchmark small-image classifiers on any device.")
    parser.add_argument("--version", action="version", version=f"cifarbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("train", help="train a model (no flags: the best CIFAR-10 recipe on the best device)",
                       description="Train a model. Values resolve as: defaults < recipe < --config YAML < flags and --set.")
    _add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a run directory or checkpoint on its test split")
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--dataset", help="evaluate on another dataset with the same classes")
    p.add_argument("--data-dir")
    p.add_argument("--offline", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--tta", type=int, choices=(0, 1, 2), help="test-time augmentation level (default: the run's)")
    p.add_argument("--test-subset", type=int, metavar="N")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify image files (PNG or JPEG) with a checkpoint")
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_predict)

    from cifarbench.export import FORMATS

    p = sub.add_parser(
        "export", help="write a run's model as safetensors, ONNX or TorchScript",
        description="safetensors: the weights, with the model name, class names, normalisation and input shape in "
                    "its metadata (eval and predict take it). onnx and torchscript: a graph that takes float32 "
                    "pixels in [0, 1], shape (N, C, H, W), normalises them itself and returns logits; onnx needs "
                    "pip install 'cifarbench[onnx]'. MLX runs export through their PyTorch twin.")
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--format", required=True, help=one_of(FORMATS))
    p.add_argument("-o", "--output", metavar="FILE", help="default: <run>/export/model.<format suffix>")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reproduce", help="train the same config twice and show whether the runs match bit for bit",
                       description="Train twice with the same seed and compare losses, accuracy and final weights. "
                                   "Exit code 1 if they differ.")
    _add_train_arguments(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("compare-methods", help="baseline resnet18 against airbench94/95/96: accuracy, time, speedup",
                       description="Train the baseline and each airbench recipe on the same data and device; "
                                   "write comparison.md and comparison.json.")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--methods", metavar="R1,R2,...", help="recipes to compare, the first is the baseline "
                                                            "(default: resnet18-onecycle,airbench94,airbench95,airbench96)")
    p.add_argument("--quick", action="store_true",
                   help="2,000 training / 1,000 test images and a quarter of each recipe's epochs: a pipeline check")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-dir")
    p.add_argument("--offline", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_compare_methods)

    p = sub.add_parser(
        "tune", help="search config values with Optuna on a validation split (never the test split)",
        description="Search config fields with Optuna (pip install 'cifarbench[tune]'). Every trial is a normal "
                    "run that trains on the training split less a validation part (data.val_split, 0.1 by default) "
                    "and is scored on that part; its test split is sealed. The study is kept in a database "
                    "(SQLite in <runs-dir>/tune-<study>/ by default): the same command again continues it.")
    _add_base_config_arguments(p)
    p.add_argument("--space", required=True, metavar="YAML",
                   help="the search space: section.field: {choices: [...]} or {low: L, high: H[, log: true][, step: S]}")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20)")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--budget-s", type=float, metavar="S",
                      help="maximise validation accuracy with training stopped once it has run S seconds")
    goal.add_argument("--target", type=float, metavar="ACC",
                      help="minimise the seconds of a run ending at >= ACC validation accuracy (e.g. 0.93)")
    p.add_argument("--study", help="study name (default: <recipe>-<dataset>)")
    p.add_argument("--storage", metavar="URL", help="any SQLAlchemy URL; a server database such as "
                                                    "postgresql://user@host/db for processes on several machines "
                                                    "(default: SQLite in the study folder, for one machine)")
    from cifarbench.bench.tune import GRACE_BEATS, HEARTBEAT_S

    p.add_argument("--heartbeat-s", type=int, default=HEARTBEAT_S, metavar="S",
                   help=f"a running trial's heartbeat interval (default {HEARTBEAT_S}); a trial silent for "
                        f"{GRACE_BEATS} intervals (its process killed, its machine lost) is failed and run again")
    p.add_argument("--jobs", type=int, default=1, metavar="K", help="K worker processes here, the cores shared out")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed search: its unfinished trials are run again (use only when no other "
                        "process works on the study)")
    p.set_defaults(func=cmd_tune)

    from cifarbench.bench.ablate import MODES

    p = sub.add_parser(
        "ablate", help="train a recipe with each trick removed (or added one by one): accuracy, time, time to target",
        description="Take a recipe's tricks apart. Its tricks are read from the recipe (and its model): "
                    "leave-one-out trains the full recipe, then each trick off in turn; cumulative starts with "
                    "every trick off and adds them in the recipe's order. N seeds per row.")
    _add_base_config_arguments(p)
    p.add_argument("--mode", default="leave-one-out", help=one_of(MODES) + " (default leave-one-out)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="runs per row (default 3)")
    p.add_argument("--target", type=float, metavar="ACC", help="also report training seconds to this test accuracy")
    p.set_defaults(func=cmd_ablate)

    bench = sub.add_parser("bench", help="benchmarks: devices, throughput, scaling, frameworks").add_subparsers(
        dest="bench", metavar="BENCHMARK", parser_class=Parser, required=True)
    p = bench.add_parser("devices", help="the same training on every available device: time, images/s, speedup",
                         description="Train the same recipe with the same data and seed on each device; one warm-up "
                                     "run, then timed repeats. Default: synthetic CIFAR-shaped data, 1 epoch.")
    p.add_argument("--devices", metavar="D1,D2", help="default: every available device (cpu, cuda, mps)")
    _add_bench_training_arguments(p, "airbench94", None, 1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=cmd_bench_devices)
    p = bench.add_parser("scaling", help="the same training at several world sizes (torchrun, DDP): speedup, "
                                          "efficiency", description="Launch `torchrun --standalone --nproc_per_node=N "
                         "-m cifarbench train` for each N with the same global batch, recipe and seed; report time, "
                         "images/s, speedup, efficiency (speedup / N) and accuracy. Default: synthetic CIFAR-shaped "
                         "data, 1 epoch, lenet-small-onecycle. On one CPU the processes share its cores.")
    p.add_argument("--nproc", default="1,2", metavar="N1,N2,...", help="process counts (default 1,2)")
    _add_bench_training_arguments(p, "lenet-small-onecycle", None, 1.0)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", default="auto", help="cpu (Gloo) or cuda (NCCL, one GPU per process)")
    p.set_defaults(func=cmd_bench_scaling)
    p = bench.add_parser("frameworks", help="PyTorch and MLX on the same device class, data, weights and schedule",
                         description="Train the same recipe with PyTorch and with MLX (same splits, batches, "
                         "augmentation, initial weights and schedule); time per epoch (first epoch apart), images/s, "
                         "final loss, accuracy; table, JSON and chart. Default: 512 synthetic 3x32x32 images, 2 epochs.")
    _add_bench_training_arguments(p, None, "small-resnet", 2.0, "small-resnet or resnet18 (the models MLX has)")
    p.add_argument("--device", default="cpu", help="cpu (both frameworks' CPU backends) or a GPU class: cuda/mps "
                                                   "(PyTorch) against MLX's GPU")
    p.add_argument("--train-images", type=int, default=512, help="synthetic training images (default 512)")
    p.add_argument("--image-size", type=int, default=32, help="synthetic image side (default 32)")
    p.set_defaults(func=cmd_bench_frameworks)
    p = bench.add_parser("throughput", help="training and inference images/s, FLOPs and peak memory per model")
    p.add_argument("--models", metavar="M1,M2", help="default: every model in the zoo")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--precision", default="auto")
    p.add_argument("--nchw", action="store_true", help="NCHW instead of channels_last")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_bench_throughput)

    p = sub.add_parser("plot", help="draw a run's training curves, per-class accuracy and confusion matrices")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("activations", help="feature maps of chosen layers for one image, and each layer's sparsity",
                       description="One eval-mode forward pass with forward hooks: a grid PNG per layer (first 64 "
                                   "channels, each scaled to its own range) and a table of each layer's sparsity, the "
                                   "share of its output values <= 0 (zeros after a ReLU).")
    p.add_argument("source", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--layers", help="comma-separated module names, e.g. stem,layer1,layer2,layer3 for resnet18 (default: "
                                    "every top-level layer that outputs feature maps)")
    p.add_argument("--image", help="an image file (PNG or JPEG), converted and resized to the model's input")
    p.add_argument("--index", type=int, help="the test split's image number I (default: 0)")
    p.add_argument("--output", "-o", help="folder for the grids (default: RUN_DIR/activations)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_activations)

    p = sub.add_parser("compare", help="runs side by side: results, config differences, per-class deltas, machines",
                       description="Markdown on stdout: results; the config fields that differ; per-class test "
                                   "accuracy with a delta column against the first run (top and bottom 10 past 20 "
                                   "classes); the hardware-fingerprint fields that differ.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="RESULTS.md and a static HTML page with the charts, from a folder of runs",
                       description="Reads every run directory under RUNS_DIR (safe while runs are still being "
                                   "written) and writes OUT/RESULTS.md, OUT/index.html (charts embedded) and "
                                   "OUT/images/. A targets YAML adds a met / not met table: "
                                   "targets: [{name: ..., dataset: fashion-mnist, model: lenet-small, "
                                   "accuracy: 0.90, seconds: 60}]")
    p.add_argument("runs_dir", metavar="RUNS_DIR")
    p.add_argument("--output", "-o", required=True, metavar="OUT")
    p.add_argument("--targets", metavar="YAML", help="accuracy targets to judge (see the description)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("info", help="print this machine's fingerprint (what every run records)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("list", help="list models, datasets or recipes")
    p.add_argument("what", choices=("models", "datasets", "recipes"))
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("data", help="download or verify a dataset")
    p.add_argument("action", choices=("download", "verify"))
    p.add_argument("dataset")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "top_k", 1) < 1:
        parser.error(f"argument --top-k: {args.top_k} must be at least 1")
    try:
        return args.func(args)
    except UserError as exc:
        print(f"cifarbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunStopped as exc:
        print(f"cifarbench: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cifarbench: interrupted", file=sys.stderr)
        return 130
