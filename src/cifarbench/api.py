"""The Python API: one way through a run, whichever framework trains it.

    from cifarbench.api import train, resume
    from cifarbench.resolve import resolve_config

    result = train(resolve_config("airbench94", {"data": {"dataset": "fashion-mnist"}}))
    result.metrics["accuracy"], result.run.path
    resume("runs/20260101T000000Z-cifar10-airbench94-1a2b3c")   # after a kill or Ctrl-C

The lifecycle of every run, owned here so that the frameworks cannot drift apart:

    refuse what the framework cannot honour ─> device, processes, seeds ─> the splits
    ─> the run directory (its lock, config.yaml, run_log.json: fingerprint, data files, status running)
    ─> the framework's loop (training/backend.py: PyTorch; mlx/backend.py: MLX), checkpoints in its format
    ─> the final test evaluation, TTA included (a run with a validation split reads the test split
       here only; with none, `data.val_split 0`, the loop's validations read it too, and nothing is
       chosen from them; a run told `final="validation"` ends on its validation split instead and
       never reads the test split)
    ─> metrics.json, history.json, classification_report.txt, plots ─> status completed

Every way a run can end is recorded in run_log.json: completed, failed (with the reason) or
interrupted (with the signal, and the checkpoint to resume from).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from cifarbench.checkpoints import load_training_state
from cifarbench.config import RunConfig, current_paths, get_path, merge, schema_fields
from cifarbench.console import CONSOLE
from cifarbench.contract.backend import Backend
from cifarbench.contract.callbacks import Callback
from cifarbench.data.prepare import PreparedData, load_configured_dataset, prepare_data, test_split_of
from cifarbench.errors import CheckpointError, RunStopped, UserError
from cifarbench.eval.inference import evaluate_loaded, load_model
from cifarbench.eval.metrics import classification_metrics, classification_report
from cifarbench.files import utc_now
from cifarbench.loggers import LoggerSet
from cifarbench.process_clock import command_seconds
from cifarbench.resolve import check_registered
from cifarbench.runs import RunDir
from cifarbench.training import distributed
from cifarbench.training.backend import TorchBackend

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run left: its folder, the final evaluation's metrics, the epochs' history, the run log,
    and (`model`) the trained model, loaded from the run's checkpoint when first asked for."""

    run: RunDir
    metrics: dict  # the final evaluation: on the test split, unless the run was told otherwise
    history: list[dict]
    run_log: dict

    @functools.cached_property
    def model(self) -> torch.nn.Module:
        """The trained model, in eval mode, on the best device here (the run's checkpoint, loaded strictly)."""
        return load_model(self.run.path).model

    def summary_line(self) -> str:
        """The one line `cifarbench train` prints: a script can read it (tests/test_cli.py)."""
        m, log = self.metrics, self.run_log
        top5 = f"  top-5 {m['top5_accuracy']:.2%}" if "top5_accuracy" in m else ""
        return (
            f"test accuracy {m['accuracy']:.2%}{top5}  test loss {m['loss']:.4f}  "
            f"train time {log['train_seconds']:.1f}s  run {self.run.path}"
        )


def train(
    config: RunConfig,
    *,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    argv: list[str] | None = None,
    final: str = "test",
    record: dict | None = None,
) -> RunResult:
    """Train as the config says into a new run directory; evaluate once on the test split, or,
    with `final="validation"`, on the validation split with the test split sealed (a search's
    trials: data.val_split must be > 0). `record`: fields added to run_log.json when it starts
    (a budget run's plan)."""
    check_registered(config)
    with contextlib.ExitStack() as held:  # the run directory's lock and the processes, until the run ends
        return _run(config, None, None, held, quiet, callbacks, argv, final, record or {})


def resume(
    run_dir: str | Path,
    *,
    asked: dict | None = None,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    argv: list[str] | None = None,
) -> RunResult:
    """Continue a run from its last checkpoint, with the run's own config. `asked` holds values the
    user gave explicitly: a different model or dataset is refused, other differences are ignored
    with a warning."""
    with contextlib.ExitStack() as held:
        run = RunDir(RunDir.open(Path(run_dir)).path, writable=distributed.is_main_process())
        held.enter_context(run.lock())  # before reading: a run still training elsewhere is refused
        config = RunConfig.from_dict(run.read_config())
        check_registered(config)
        if config.train.framework != "torch":
            raise CheckpointError(f"{run.path} was trained with {config.train.framework}; --resume is PyTorch-only")
        check_resume_request(config, asked or {})
        return _run(config, load_training_state(run.path), run, held, quiet, callbacks, argv)


def backend_for(config: RunConfig, quiet: bool, callbacks: Sequence[Callback]) -> Backend:
    if config.train.framework == "mlx":
        from cifarbench.mlx.backend import MlxBackend  # MLX is optional: imported only when asked for

        return MlxBackend(config, quiet, callbacks)
    return TorchBackend(config, quiet, callbacks)


def _run(
    config: RunConfig,
    checkpoint: dict | None,
    run: RunDir | None,
    held: contextlib.ExitStack,
    quiet: bool,
    callbacks: Sequence[Callback],
    argv: list[str] | None,
    final: str = "test",
    record: dict | None = None,
) -> RunResult:
    loggers = LoggerSet(config.output.loggers)  # a missing package is refused before anything is written
    # PyTorch's loop feeds the loggers live; MLX takes no callbacks, so its epochs are replayed at the end
    live = config.train.framework == "torch"
    backend = backend_for(config, quiet, [*callbacks, loggers] if live else callbacks)
    backend.setup(held)
    quiet = quiet or not backend.is_main
    data = prepare_data(config, quiet, final)
    in_memory = time.perf_counter()  # run_seconds counts from here: the data loaded, the run about to start
    backend.build(data)
    new_run = checkpoint is None
    if checkpoint is None:
        if backend.is_main:
            run = RunDir.create(Path(config.runs_dir), data.dataset.name, config.model.name, config.name)
            held.enter_context(run.lock())
            run.write_config(config.to_dict())
            backend.share(str(run.path))
        else:  # the main process's run directory, read-only here
            run = RunDir(Path(backend.share(None)), writable=False)
    else:
        assert run is not None  # resume() passes the run with its checkpoint
        check_compatible(checkpoint, config, data)
        backend.restore(checkpoint)
    meta = checkpoint_meta(config, data)
    backend.prepare(run, meta)
    described = backend.describe()
    if new_run:
        run_log = run.update_run_log(
            **start_fields(config, data, argv), **described, **(record or {}), status="running"
        )
    else:  # the machine may differ on resume: record where the rest ran
        run_log = run.update_run_log(
            resumed_at=utc_now(),
            world_size=described.get("world_size", 1),
            ranks=described.get("ranks"),
            status="running",
        )
    if backend.is_main:
        loggers.start(run, config, run_log)
    if not quiet:
        widths = f" widths {','.join(map(str, config.model.widths))}" if config.model.widths else ""
        CONSOLE.print(
            f"[bold]{config.recipe}[/]: {config.model.name}{widths} ({run_log['parameters']:,} parameters) on "
            f"{data.dataset.name} [{len(data.train):,} train / {len(data.val):,} {data.val_name}], "
            f"{described['device']} {described['precision']}, {backend.num_epochs} epochs -> {run.path}",
            highlight=False,
        )
    with _recorded_end(run, loggers):
        state = backend.fit(run, meta)
        backend.synchronize()
        started = time.perf_counter()
        last = backend.evaluate_final(data)
        backend.synchronize()
        final_seconds = time.perf_counter() - started
    evaluated = time.perf_counter()
    run_seconds = evaluated - in_memory  # build, init, training, validations, final evaluation
    metrics = classification_metrics(last.logits.numpy(), last.labels.numpy(), data.dataset.classes)
    metrics.update(split=data.final, loss=last.loss, tta_level=config.train.tta)
    if config.train.tta and config.train.tta_share is not None:
        metrics["tta_extra_view_share"] = last.extra_view_share
    replay = backend.replay_layer()
    if replay and run.writable:  # a clocked schedule: config.yaml replays the steps it took, on no clock
        config = RunConfig.from_dict(merge(config.to_dict(), replay))
        run.write_config(config.to_dict())
    run.write_json(RunDir.METRICS, metrics)
    run.write_json(RunDir.HISTORY, state.history)
    run.write_text(RunDir.REPORT, classification_report(metrics))
    if config.output.plots and run.writable:
        _make_plots(run)
    run_log = run.update_run_log(
        **backend.summary(),
        status="completed",
        end_time=utc_now(),
        epochs_completed=state.epoch,
        # the files and plots after the final evaluation, and the whole process so far (as `time` counts)
        end_seconds=time.perf_counter() - evaluated,
        command_seconds=command_seconds(),
        steps=state.step,
        train_seconds=state.train_seconds,
        eval_seconds=state.eval_seconds,
        final_eval_seconds=final_seconds,
        run_seconds=run_seconds,
        best_val_accuracy=state.best_val_accuracy,
        best_epoch=state.best_epoch,
        final_split=data.final,
        **{f"{data.final}_accuracy": metrics["accuracy"], f"{data.final}_loss": last.loss},
        per_class_accuracy={k: v["accuracy"] for k, v in metrics["per_class"].items()},
    )
    if not live:
        for record in state.history:
            loggers.log_epoch(record)
    loggers.finish("completed", metrics)
    return RunResult(run, metrics, state.history, run_log)


@contextlib.contextmanager
def _recorded_end(run: RunDir, loggers: LoggerSet):
    """Whatever stops the run, run_log.json (and each logger) says how: the backend's RunStopped
    carries its status and fields; a second Ctrl-C, a bug or a crash is recorded as such and re-raised."""
    try:
        yield
    except RunStopped as stop:
        run.update_run_log(status=stop.status, end_time=utc_now(), **stop.record)
        loggers.finish(stop.status, None)
        raise
    except KeyboardInterrupt:
        run.update_run_log(status="interrupted", interrupted_by="SIGINT (twice: no checkpoint)", end_time=utc_now())
        loggers.finish("interrupted", None)
        raise
    except BaseException as exc:
        run.update_run_log(status="failed", failure=f"{type(exc).__name__}: {exc}", end_time=utc_now())
        loggers.finish("failed", None)
        raise


def start_fields(config: RunConfig, data: PreparedData, argv: list[str] | None) -> dict:
    """What run_log.json records at the start of every run, whichever framework trains it."""
    return {
        "framework": config.train.framework,
        "command": argv if argv is not None else sys.argv,
        "start_time": utc_now(),
        "dataset": data.dataset.name,
        "data_location": data.dataset.location,
        "data_files": data.dataset.files,
        "train_images": len(data.train),
        "val_images": len(data.val),
        "test_images": None if data.test_sealed else len(data.test),
        "validation_split": data.val_name,
        "model": config.model.name,
        "recipe": config.recipe,
        "seed": config.train.seed,
        "deterministic": config.train.deterministic,
    }


def checkpoint_meta(config: RunConfig, data: PreparedData) -> dict:
    """What every checkpoint carries beside the weights: enough to use them with no other file."""
    d = data.dataset
    return {
        "config": config.to_dict(),
        "model_name": config.model.name,
        "data": {
            "dataset": d.name,
            "classes": d.classes,
            "mean": list(d.mean),
            "std": list(d.std),
            "shape": list(d.shape),
        },
    }


def _make_plots(run: RunDir) -> None:
    """The run's pictures; a plotting failure is logged, never allowed to lose a finished run."""
    from cifarbench.plots.run import plot_run

    try:
        plot_run(run)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not draw the plots of %s: %s (run `cifarbench plot` to retry)", run.path, exc)


def check_resume_request(saved: RunConfig, asked: dict) -> None:
    """Resuming keeps the run's own config. A different model or dataset cannot continue the
    run (an error); other values asked for on the command line are ignored, with a warning."""
    current = saved.to_dict()
    for section, values in current_paths(asked).items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            was = current.get(section, {}).get(key)
            if (section, key) in (("model", "name"), ("data", "dataset")) and value != was:
                raise CheckpointError(
                    f"the run to resume trained {section}.{key} {was!r}; it cannot continue with {value!r}"
                )
            if value != was:
                log.warning("resume keeps %s.%s = %r from the run (ignoring %r)", section, key, was, value)


def check_compatible(checkpoint: dict, config: RunConfig, data: PreparedData) -> None:
    if checkpoint.get("model_name") != config.model.name:
        raise CheckpointError(f"checkpoint is for model {checkpoint.get('model_name')!r}, not {config.model.name!r}")
    classes = checkpoint.get("data", {}).get("classes")
    if classes is not None and len(classes) != data.dataset.num_classes:
        raise CheckpointError(
            f"checkpoint has {len(classes)} classes, dataset {data.dataset.name!r} has {data.dataset.num_classes}"
        )


# The fields `evaluate` takes from the command line; the rest of the config is the checkpoint's.
EVALUATION_FIELDS = ("data.", "hardware.device", "train.tta", "train.eval_batch_size")  # "train.tta" takes tta_share


def evaluate(source: str | Path, asked: dict | None = None) -> dict:
    """A trained model (run folder or checkpoint) evaluated on its dataset's test split, or on
    another dataset with the same classes; `asked` may change the data section, the device, the
    TTA level and the evaluation batch. Its metrics (eval/metrics.py)."""
    asked = current_paths(asked or {})
    for path, _, _ in schema_fields():
        if get_path(asked, path) is not None and not path.startswith(EVALUATION_FIELDS):
            raise UserError(
                f"{path} does not apply to evaluating a trained model (the checkpoint fixes it); "
                f"eval takes data.*, hardware.device, train.tta, train.tta_share and train.eval_batch_size"
            )
    loaded = load_model(source, get_path(asked, "hardware.device", "auto"))
    values = merge(loaded.config.to_dict(), asked)
    values["data"]["val_split"] = 0.0  # the whole test split, whatever the run validated on
    config = RunConfig.from_dict(values)
    test = test_split_of(config, load_configured_dataset(config, quiet=True))
    return evaluate_loaded(
        loaded,
        test.images,
        test.labels,
        tta=config.train.tta,
        batch_size=config.train.eval_batch_size,
        tta_share=config.train.tta_share,
    )
