"""One run from a config: data, model, trainer, run directory, final evaluation.

This is the Python API the CLI calls:

    from cifarbench.train.recipes import resolve_config
    from cifarbench.train.session import train
    result = train(resolve_config("tutorial", {"data": {"dataset": "fashion-mnist"}}))
    result.metrics["accuracy"], result.run.path
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from cifarbench.config import RunConfig
from cifarbench.data.loader import DeviceLoader
from cifarbench.data.sources import ImageDataset, Split, load_dataset, split_validation
from cifarbench.devices import (Stopwatch, configure_threads, precision_name, resolve_device, resolve_precision,
                                synchronize)
from cifarbench.errors import CheckpointError, ConfigError, RunStopped
from cifarbench.eval.metrics import classification_metrics, classification_report
from cifarbench.fingerprint import fingerprint
from cifarbench.models import build_model, count_parameters
from cifarbench.runs import RunDir, utc_now
from cifarbench.train import distributed
from cifarbench.train.callbacks import Callback
from cifarbench.train.checkpoint import CheckpointSaver, load_checkpoint
from cifarbench.train.progress import CONSOLE, JsonlLog, LogEpochs, ProgressBar
from cifarbench.train.signals import exit_code, signal_name, stop_after_step_on_signal
from cifarbench.train.trainer import StopRequested, Trainer, TrainingError, seed_everything
from cifarbench.train.tricks import tricks_for

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    dataset: ImageDataset
    train: Split
    val: Split
    test: Split
    val_name: str  # "validation" or "test (used as validation)"


@dataclass
class RunResult:
    run: RunDir
    metrics: dict  # final evaluation on the test split
    history: list[dict]
    run_log: dict


def prepare_data(config: RunConfig, quiet: bool = False) -> PreparedData:
    d = config.data
    dataset = load_dataset(
        d.dataset, data_dir=d.data_dir, download=d.download, coarse_labels=d.coarse_labels, quiet=quiet,
        shape=d.synthetic_shape, num_classes=d.synthetic_classes, train_size=d.synthetic_train_size,
        test_size=d.synthetic_test_size, seed=config.train.seed)
    train_split = dataset.train.take(slice(0, d.train_subset)) if d.train_subset else dataset.train
    test_split = dataset.test.take(slice(0, d.test_subset)) if d.test_subset else dataset.test
    if d.val_split > 0:
        train_split, val_split = split_validation(train_split, d.val_split, config.train.seed)
        return PreparedData(dataset, train_split, val_split, test_split, "validation")
    # The seeds' convention: validate on the test split. Every output says so.
    return PreparedData(dataset, train_split, test_split, test_split, "test (used as validation)")


def make_loaders(config: RunConfig, data: PreparedData, device: torch.device,
                 ctx: distributed.DistContext = distributed.SINGLE) -> tuple[DeviceLoader, DeviceLoader]:
    t = config.train
    if t.batch_size > len(data.train):
        raise ConfigError(f"train.batch_size {t.batch_size} is larger than the {len(data.train)} training images")
    stats = dict(mean=data.dataset.mean, std=data.dataset.std, device=device, channels_last=t.channels_last)
    # each rank takes its share of the global batch, from its shard of the epoch's order
    train_loader = DeviceLoader(data.train, batch_size=distributed.local_batch_size(t.batch_size, ctx),
                                augment=config.augment, shuffle=True, drop_last=t.drop_last, seed=t.seed,
                                rank=ctx.rank, world_size=ctx.world_size, **stats)
    val_loader = DeviceLoader(data.val, batch_size=t.eval_batch_size, shuffle=False, seed=t.seed, **stats)
    return train_loader, val_loader


def model_for(config: RunConfig, dataset: ImageDataset) -> torch.nn.Module:
    c, h, w = dataset.shape
    if h != w:
        raise ConfigError(f"dataset {dataset.name!r} has {h}x{w} images; the model zoo takes square images")
    return build_model(config.model.name, num_classes=dataset.num_classes, in_channels=c, image_size=h)


def train(config: RunConfig | None, *, quiet: bool = False, resume: str | Path | None = None,
          asked: dict | None = None, callbacks: list[Callback] = (), argv: list[str] | None = None) -> RunResult:
    """Train as the config says, write the run directory, evaluate on the test split.

    With `resume`, the run directory's own config is used (and `config` ignored); `asked` holds
    the values the user gave explicitly, checked against it.
    """
    if resume is None and config.train.framework == "mlx":
        if distributed.launched_by_torchrun() or callbacks:
            raise ConfigError("--framework mlx trains in one process without callbacks (no torchrun)")
        from cifarbench.mlx.train import train_mlx

        return train_mlx(config, quiet, argv)
    with contextlib.ExitStack() as held:  # the run directory's lock, held until training ends
        if resume is None:
            return _train(config, None, None, held, quiet, callbacks, argv)
        run = RunDir(RunDir.open(resume).path, writable=distributed.is_main_process())
        held.enter_context(run.lock())  # before reading: a run still training elsewhere is refused
        config = RunConfig.from_dict(run.read_config())
        if config.train.framework != "torch":
            raise CheckpointError(f"{run.path} was trained with {config.train.framework}; --resume is PyTorch-only")
        check_resume_request(config, asked or {})
        return _train(config, load_checkpoint(run.path), run, held, quiet, callbacks, argv)


def _train(config: RunConfig, checkpoint: dict | None, run: RunDir | None, held: contextlib.ExitStack,
           quiet: bool, callbacks: list[Callback], argv: list[str] | None) -> RunResult:
    ctx, device = distributed.setup(resolve_device(config.train.device), config.train.dist_timeout)
    held.callback(distributed.teardown, ctx)
    threads = configure_threads(processes_per_node=ctx.local_world_size)
    seed_everything(config.train.seed, config.train.deterministic)
    amp_dtype = resolve_precision(config.train.precision, device)
    data = prepare_data(config, quiet or not ctx.is_main)
    model = model_for(config, data.dataset)
    train_loader, val_loader = make_loaders(config, data, device, ctx)
    quiet = quiet or not ctx.is_main  # one progress bar: rank 0's

    if run_is_new := checkpoint is None:
        if ctx.is_main:
            run = RunDir.create(Path(config.runs_dir), data.dataset.name, config.model.name, config.name)
            held.enter_context(run.lock())
            run.write_config(config.to_dict())
        path = distributed.broadcast_object(str(run.path) if ctx.is_main else None, ctx)
        run = run if ctx.is_main else RunDir(Path(path), writable=False)
    extra = {
        "config": config.to_dict(),
        "model_name": config.model.name,
        "data": {"dataset": data.dataset.name, "classes": data.dataset.classes, "mean": list(data.dataset.mean),
                 "std": list(data.dataset.std), "shape": list(data.dataset.shape)},
    }
    # tricks first: they change the weights, which the log and the checkpoint then record
    saver = CheckpointSaver(run, config.train.checkpoint_every, extra, config.train.checkpoint_every_steps)
    all_callbacks = [*tricks_for(config), JsonlLog(run), saver, LogEpochs() if quiet else ProgressBar(), *callbacks]
    trainer = Trainer(config, model, train_loader, val_loader, device, amp_dtype, data.dataset.classes, all_callbacks,
                      dist=ctx)
    if config.train.trainer == "hybrid":
        from cifarbench.train.hybrid import HybridPolicy

        trainer.step_policy = HybridPolicy(config.hybrid)
    if checkpoint is not None:
        _check_compatible(checkpoint, config, data.dataset)
        trainer.load_state_dict(checkpoint)
        log.info("resuming %s at epoch %d (step %d)", run.path, trainer.state.epoch, trainer.state.step)
    params = count_parameters(trainer.model)
    ranks = distributed.ranks_description(device, ctx)  # a collective: every rank takes part
    run_log = run.update_run_log(world_size=ctx.world_size, ranks=ranks, **({
        **fingerprint(device),
        "command": argv if argv is not None else sys.argv,
        "start_time": utc_now(),
        "dataset": data.dataset.name, "data_location": data.dataset.location,
        "train_images": len(data.train), "val_images": len(data.val), "test_images": len(data.test),
        "validation_split": data.val_name,
        "model": config.model.name, "parameters": params, "recipe": config.recipe,
        "device": str(device), "precision": precision_name(amp_dtype), "threads": threads,
        "seed": config.train.seed, "deterministic": config.train.deterministic,
    } if run_is_new else {"resumed_at": utc_now()}), status="running")
    if not quiet:
        CONSOLE.print(
            f"[bold]{config.recipe}[/]: {config.model.name} ({params:,} parameters) on {data.dataset.name} "
            f"[{len(data.train):,} train / {len(data.val):,} {data.val_name}], {device} {precision_name(amp_dtype)}, "
            f"{trainer.num_epochs} epochs -> {run.path}", highlight=False)
    state = _fit(trainer, saver, run)

    test_loader = DeviceLoader(data.test, data.dataset.mean, data.dataset.std, config.train.eval_batch_size, device,
                               shuffle=False, channels_last=config.train.channels_last)
    with Stopwatch(device).region() as final_watch:
        final = trainer.evaluate(test_loader, tta=config.train.tta)
    metrics = classification_metrics(final.logits.numpy(), final.labels.numpy(), data.dataset.classes)
    metrics.update(split="test", loss=final.loss, tta_level=config.train.tta)
    run.write_json(RunDir.METRICS, metrics)
    run.write_json(RunDir.HISTORY, state.history)
    run.write_text(RunDir.REPORT, classification_report(metrics))
    if config.train.plots and run.writable:
        _make_plots(run)
    if trainer.step_policy is not None:  # its counters, measured where the steps happened
        run.update_run_log(hybrid=trainer.step_policy.summary())
    run_log = run.update_run_log(
        status="completed", end_time=utc_now(), epochs_completed=state.epoch, steps=state.step,
        train_seconds=state.train_seconds, eval_seconds=state.eval_seconds, final_eval_seconds=final_watch.seconds,
        best_val_accuracy=state.best_val_accuracy, best_epoch=state.best_epoch,
        test_accuracy=metrics["accuracy"], test_loss=final.loss,
        per_class_accuracy={k: v["accuracy"] for k, v in metrics["per_class"].items()})
    return RunResult(run, metrics, state.history, run_log)


def _fit(trainer: Trainer, saver: CheckpointSaver, run: RunDir):
    """trainer.fit(), with every way it can end recorded in run_log.json (status and reason)."""
    def failed(reason: str, **fields) -> None:
        run.update_run_log(status="failed", failure=reason, end_time=utc_now(), **fields)

    try:
        with stop_after_step_on_signal(trainer):
            _data_init(trainer, trainer.train_loader)
            try:
                return trainer.fit()
            except StopRequested as stop:
                saver.save(trainer)  # between two steps: a whole state, mid-epoch or not
                name = signal_name(stop.signum)
                run.update_run_log(status="interrupted", interrupted_by=name, end_time=utc_now(),
                                   epochs_completed=trainer.state.epoch, steps=trainer.state.step)
                raise RunStopped(
                    f"interrupted by {name} after step {trainer.state.step} (epoch {trainer.state.epoch + 1}, "
                    f"batch {trainer.state.batch}); checkpoint saved. Resume with: "
                    f"cifarbench train --resume {run.path}", exit_code(stop.signum)) from None
    except RunStopped:
        raise
    except TrainingError as exc:
        failed(str(exc), nonfinite_steps=int(trainer._bad_steps), steps=trainer.state.step)
        raise RunStopped(f"run failed: {exc}", 1) from None
    except torch.OutOfMemoryError as exc:
        failed(f"out of memory: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise RunStopped(
            f"run failed: {trainer.device} ran out of memory at batch size {trainer.config.train.batch_size}; "
            f"try a smaller --batch-size (half: {max(1, trainer.config.train.batch_size // 2)}) or --precision bf16",
            1) from None
    except KeyboardInterrupt:
        run.update_run_log(status="interrupted", interrupted_by="SIGINT (twice: no checkpoint)", end_time=utc_now())
        raise
    except RuntimeError as exc:
        if not (trainer.dist.enabled and distributed.is_peer_failure(exc)):
            failed(f"{type(exc).__name__}: {exc}")
            raise
        reason = (f"rank {trainer.dist.rank} lost its peers: another process of the distributed run stopped or "
                  f"did not answer within {trainer.config.train.dist_timeout:g} s ({str(exc).splitlines()[0][:160]})")
        failed(reason)
        raise RunStopped(f"run failed: {reason}", 1) from None
    except BaseException as exc:
        failed(f"{type(exc).__name__}: {exc}")
        raise


def _make_plots(run: RunDir) -> None:
    """The run's pictures; a plotting failure is logged, never allowed to lose a finished run."""
    from cifarbench.report.run_plots import plot_run

    try:
        plot_run(run)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not draw the plots of %s: %s (run `cifarbench plot` to retry)", run.path, exc)


def _data_init(trainer: Trainer, loader: DeviceLoader, count: int = 5000) -> None:
    """Data-dependent initialisation (airbench's whitening), timed as training, done once."""
    model = trainer.model
    if trainer.state.step or not hasattr(model, "init_from_data"):
        return
    trainer.stopwatch.start()
    model.init_from_data(loader.normalise(loader.images[:count]))
    synchronize(trainer.device)
    trainer.state.train_seconds += trainer.stopwatch.stop()


def check_resume_request(saved: RunConfig, asked: dict) -> None:
    """Resuming keeps the run's own config. A different model or dataset cannot continue the
    run (an error); other values asked for on the command line are ignored, with a warning."""
    current = saved.to_dict()
    for section, values in asked.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            was = current.get(section, {}).get(key)
            if (section, key) in (("model", "name"), ("data", "dataset")) and value != was:
                raise CheckpointError(f"the run to resume trained {section}.{key} {was!r}; "
                                      f"it cannot continue with {value!r}")
            if value != was:
                log.warning("resume keeps %s.%s = %r from the run (ignoring %r)", section, key, was, value)


def _check_compatible(checkpoint: dict, config: RunConfig, dataset: ImageDataset) -> None:
    if checkpoint.get("model_name") != config.model.name:
        raise CheckpointError(f"checkpoint is for model {checkpoint.get('model_name')!r}, not {config.model.name!r}")
    classes = checkpoint.get("data", {}).get("classes")
    if classes is not None and len(classes) != dataset.num_classes:
        raise CheckpointError(f"checkpoint has {len(classes)} classes, dataset {dataset.name!r} has {dataset.num_classes}")
