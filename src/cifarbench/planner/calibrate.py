"""Calibration on the spot: what one training step and one evaluated image cost on this machine.

For a candidate schedule (its net, batch, precision, memory format and augmentation) the real
Trainer runs a few warm-up steps and then timed steps on synthetic images of the dataset's shape;
the final evaluation's cost is timed per image and per TTA view, and a data-dependent init
(airbench's whitening) once. Nothing here depends on the device: the same code times CPU, CUDA
and MPS, synchronising the device around each clock.

Figures are cached per machine and software (the fingerprint's CPU, ISA, GPU, library versions,
threads) and per candidate, in <cache>/calibration.json, so a second plan on the same machine
skips the measuring; the plan records the figures it used either way. A few steps after a
warm-up are not a whole run (a long run settles into faster steps, and its evaluation pays for
its first batches), so each planned run, once finished, writes the figures it actually ran at
into the cache (`observe`): the next plan on this machine starts from what a run measured.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock

from cifarbench import __version__
from cifarbench.config import RunConfig, merge
from cifarbench.data.download import cache_root
from cifarbench.data.prepare import make_loaders, prepare_data
from cifarbench.devices import (
    configure_threads,
    resolve_device,
    resolve_precision,
    synchronize,
)
from cifarbench.eval.tta import views_per_image
from cifarbench.files import atomic_write_json
from cifarbench.fingerprint import fingerprint
from cifarbench.models.configured import build_configured_model
from cifarbench.training.trainer import Trainer

log = logging.getLogger(__name__)

WARMUP_STEPS = 5  # kernel selection, allocator growth: not timed
TIMED_STEPS = 20  # at most; timing stops after MIN_TIMED_STEPS once TIMED_SECONDS have passed
MIN_TIMED_STEPS = 6
TIMED_SECONDS = 1.5
VERSION = 2  # of the figures' meaning: a change makes old cache entries miss


@dataclass(frozen=True)
class Timing:
    """What a schedule's parts cost here: seconds per step, per evaluated image view, and the
    data-dependent init; `seconds` is what measuring them took (0 when read from the cache)."""

    step_seconds: float
    image_view_seconds: float
    init_seconds: float
    seconds: float = 0.0
    cached: bool = False
    # the slowest evaluation seen (calibrated or in a run): what a budget keeps in reserve for it
    image_view_seconds_max: float | None = None
    runs: int = 0  # the planned runs these figures come from (0: the calibration alone)

    @property
    def eval_reserve_per_view(self) -> float:
        return max(self.image_view_seconds, self.image_view_seconds_max or 0.0)


@functools.lru_cache(maxsize=1)
def _machine() -> tuple:
    """The fingerprint's fields that decide speed, read once a process (it runs subprocesses)."""
    info = fingerprint()
    return tuple(
        (k, json.dumps(info.get(k), default=str))
        for k in ("cpu_model", "cpu_id", "cpu_isa", "cpu_capability", "gpu_name", "torch", "cifarbench")
    )


def machine_key(config: RunConfig) -> dict:
    """What the figures depend on besides the candidate: the machine and the software."""
    return {k: json.loads(v) for k, v in _machine()} | {
        "device": config.hardware.device,
        "threads": config.hardware.threads,
        "version": VERSION,
        "cifarbench_version": __version__,
    }


def candidate_key(config: RunConfig, shape: tuple[int, int, int], num_classes: int) -> dict:
    t, hw = config.train, config.hardware
    return {
        "model": config.model.name,
        "batch_size": t.batch_size,
        "precision": hw.precision,
        "channels_last": hw.channels_last,
        "compile": hw.compile,
        "shape": list(shape),
        "classes": num_classes,
        "augment": dataclasses.asdict(config.augment),
        "loss_reduction": config.optim.loss_reduction,
        "data_init": config.model.data_init,
        "widths": config.model.widths,
    }


def cache_file() -> Path:
    return cache_root() / "calibration.json"


def _key(config: RunConfig, shape: tuple[int, int, int], num_classes: int) -> str:
    return hashlib.sha256(
        json.dumps(
            [machine_key(config), candidate_key(config, shape, num_classes)], sort_keys=True, default=str
        ).encode()
    ).hexdigest()[:20]


def calibrate(config: RunConfig, shape: tuple[int, int, int], num_classes: int, *, cache: bool = True) -> Timing:
    """The candidate's figures: from the cache where this machine has measured them, else measured."""
    key = _key(config, shape, num_classes)
    path = cache_file()
    if cache and path.is_file():
        entry = _read(path).get(key)
        if entry:
            return _from_entry(entry)
    started = time.perf_counter()
    timing = measure(config, shape, num_classes)
    timing = dataclasses.replace(timing, seconds=time.perf_counter() - started)
    if cache:
        _store(key, timing)
    return timing


OBSERVED = 5  # the last planned runs whose figures a plan averages: one run's speed is noise (about 10% here)


def observe(config: RunConfig, shape: tuple[int, int, int], num_classes: int, timing: Timing) -> None:
    """Keep the figures a whole run of this candidate ran at, for the next plan on this machine:
    plans then use the mean of the last OBSERVED runs, and reserve for the slowest evaluation seen."""
    _store(_key(config, shape, num_classes), timing, observed=True)


def end_key(plots: bool, num_classes: int) -> str:
    return hashlib.sha256(
        json.dumps(
            [{k: json.loads(v) for k, v in _machine()}, {"end": VERSION, "plots": plots, "classes": num_classes}],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:20]


def calibrate_end(plots: bool, num_classes: int, *, cache: bool = True) -> float:
    """The seconds a run's end takes here, after its final evaluation: its files (metrics, history,
    the report, the run log) and, with plots, its charts. The charts are timed by drawing those of
    a made-up run of `num_classes` classes in a temporary folder, once per machine; after that, the
    slowest end the last planned runs took (`observe_end`). Without plots: nothing measurable."""
    if not plots:
        return 0.0
    key, path = end_key(plots, num_classes), cache_file()
    entry = _read(path).get(key) if cache and path.is_file() else None
    if entry:
        return max([entry["end_seconds"], *entry.get("observed", [])])
    started = time.perf_counter()
    _draw_made_up_run(num_classes)
    seconds = time.perf_counter() - started
    if cache:
        _update(key, lambda old: {"end_seconds": seconds, "observed": (old or {}).get("observed", [])})
    return seconds


def observe_end(plots: bool, num_classes: int, seconds: float) -> None:
    """Keep the end a planned run took, for the next plan's reserve (the last OBSERVED runs)."""
    if plots:
        _update(
            end_key(plots, num_classes),
            lambda old: {
                "end_seconds": (old or {}).get("end_seconds", seconds),
                "observed": [*(old or {}).get("observed", []), seconds][-OBSERVED:],
            },
        )


def _draw_made_up_run(num_classes: int) -> None:
    import tempfile

    import numpy as np

    from cifarbench.eval.metrics import classification_metrics
    from cifarbench.plots.run import draw_run

    rng = np.random.default_rng(0)
    labels = np.arange(1000) % num_classes
    logits = rng.normal(size=(1000, num_classes)) + 3 * np.eye(num_classes)[labels]
    metrics = classification_metrics(logits, labels, [f"class {i}" for i in range(num_classes)])
    history = [
        {
            "epoch": e + 1,
            "step": 10 * (e + 1),
            "train_loss": 1.0 / (e + 1),
            "train_accuracy": 0.5 + e / 20,
            "lr": 0.1,
            "epoch_seconds": 1.0,
            "images_per_second": 1000.0,
            "val_loss": 1.2 / (e + 1),
            "val_accuracy": 0.5 + e / 25,
        }
        for e in range(5)
    ]
    with tempfile.TemporaryDirectory() as folder:
        draw_run({"model": "made-up", "dataset": "made-up"}, history, metrics, Path(folder))


def _update(key: str, change) -> None:
    """entries[key] = change(entries.get(key)), under the cache's lock; a read-only cache is skipped."""
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            entries = _read(path) if path.is_file() else {}
            entries[key] = change(entries.get(key))
            atomic_write_json(entries, path)
    except OSError as exc:  # a read-only cache costs a calibration next time, nothing else
        log.warning("could not keep the calibration in %s: %s", path, exc)


def _from_entry(entry: dict) -> Timing:
    runs = entry.get("observed") or []
    if not runs:
        return Timing(
            step_seconds=entry["step_seconds"],
            image_view_seconds=entry["image_view_seconds"],
            init_seconds=entry["init_seconds"],
            cached=True,
            image_view_seconds_max=entry.get("image_view_seconds_max"),
        )
    return Timing(
        step_seconds=sum(r[0] for r in runs) / len(runs),
        image_view_seconds=sum(r[1] for r in runs) / len(runs),
        init_seconds=entry["init_seconds"],
        cached=True,
        runs=len(runs),
        image_view_seconds_max=max([entry.get("image_view_seconds_max") or 0.0, *(r[1] for r in runs)]),
    )


def _store(key: str, timing: Timing, observed: bool = False) -> None:
    def change(entry: dict | None) -> dict:
        if entry is None or not observed:  # a calibration (or a run with none before it) starts the entry
            entry = {f: getattr(timing, f) for f in ("step_seconds", "image_view_seconds", "init_seconds")}
            entry["image_view_seconds_max"] = timing.image_view_seconds
        if observed:
            entry["observed"] = [*entry.get("observed", []), [timing.step_seconds, timing.image_view_seconds]][
                -OBSERVED:
            ]
        return entry

    _update(key, change)


def _read(path: Path) -> dict:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return values if isinstance(values, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}  # an unreadable cache is measured again, never trusted


def measure(config: RunConfig, shape: tuple[int, int, int], num_classes: int) -> Timing:
    """Time the candidate's training step, evaluation and init on synthetic images of `shape`."""
    configure_threads(requested=config.hardware.threads)
    device = resolve_device(config.hardware.device)
    precision = resolve_precision(config.hardware.precision, device, summed_loss=config.optim.loss_reduction == "sum")
    batch = config.train.batch_size
    eval_images = min(config.train.eval_batch_size, 1000)  # one batch of the run's own evaluation
    synthetic = RunConfig.from_dict(
        merge(
            config.to_dict(),
            {
                "data": {
                    "dataset": "synthetic",
                    "synthetic_shape": list(shape),
                    "synthetic_classes": num_classes,
                    "synthetic_train_size": batch * (WARMUP_STEPS + TIMED_STEPS),
                    "synthetic_test_size": eval_images,
                    "val_split": 0.0,
                    "train_subset": None,
                    "test_subset": None,
                }
            },
        )
    )
    data = prepare_data(synthetic, quiet=True)
    train_loader, val_loader = make_loaders(synthetic, data, device)
    model = build_configured_model(config.model, shape, num_classes)
    trainer = Trainer(synthetic, model, train_loader, val_loader, device, precision, data.dataset.classes)
    init_seconds = 0.0
    if hasattr(trainer.model, "init_from_data") and config.model.data_init:
        init_seconds = _seconds(
            device, lambda: trainer.model.init_from_data(train_loader.normalise(train_loader.images[:5000]))
        )
    trainer.model.train()
    # a full-size epoch: under progressive resizing epoch 0's steps are the cheapest of the run, and
    # augment.progressive_epochs is the first epoch at full size
    aug = train_loader.augment
    batches = iter(train_loader.epoch(aug.progressive_epochs if aug.progressive_from else 0))
    for _ in range(WARMUP_STEPS):
        trainer.train_step(*next(batches))
    # each step timed alone and the median kept: a cold process's first steps and the odd stall of
    # a shared machine would otherwise make a budget that fits look as if it did not
    times: list[float] = []
    while len(times) < TIMED_STEPS and (len(times) < MIN_TIMED_STEPS or sum(times) < TIMED_SECONDS):
        times.append(_seconds(device, lambda: trainer.train_step(*next(batches))))
    step_seconds = statistics.median(times)
    views = views_per_image(config.train.tta, config.train.tta_share)
    # timed cold, as a run's final evaluation is: its first batches pay for the new shapes
    eval_seconds = _seconds(
        device, lambda: trainer.evaluate(val_loader, tta=config.train.tta, tta_share=config.train.tta_share)
    )
    return Timing(
        step_seconds=step_seconds, image_view_seconds=eval_seconds / (eval_images * views), init_seconds=init_seconds
    )


def _seconds(device: torch.device, work) -> float:
    synchronize(device)
    started = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - started
