"""The configuration of a run: frozen dataclasses, one per concern, validated when built.

Values are resolved in this order, each overriding the one before:
defaults < recipe < YAML file (--config) < command-line flags and `--set section.field=value`.
Unknown keys and wrong types are refused with a ConfigError naming the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cifarbench.devices import DEVICES, PRECISIONS
from cifarbench.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta", "muon")
SCHEDULES = ("constant", "step", "multistep", "onecycle", "cosine", "triangle", "linear_decay")
NONFINITE = ("stop", "skip")  # what a non-finite loss does to a run
INTERVALS = ("batch", "epoch")
LOSS_REDUCTIONS = ("mean", "sum")
FLIP_MODES = ("none", "random", "alternating")
PAD_MODES = ("zeros", "reflect")
FRAMEWORKS = ("torch", "mlx")
TRAINERS = ("plain", "hybrid")
TTA_LEVELS = (0, 1, 2)
LOGGER_NAMES = ("csv", "tensorboard", "mlflow", "wandb")  # loggers/: where a run's numbers are also sent


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "cifar10"
    data_dir: str | None = None  # default: $CIFARBENCH_DATA, then ~/.cache/cifarbench
    download: bool = True
    coarse_labels: bool = False  # cifar100's 20 superclasses instead of its 100 classes
    val_split: float = 0.0  # hold out this fraction of train for validation; 0 = validate on test
    train_subset: int | None = None  # first N training images only (quick runs, tests)
    test_subset: int | None = None
    # synthetic dataset only
    synthetic_shape: tuple[int, int, int] = (3, 32, 32)
    synthetic_classes: int = 10
    synthetic_train_size: int = 5000
    synthetic_test_size: int = 1000

    def __post_init__(self):
        # the dataset name is checked against the dataset registry by recipes.check_registered
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"data.val_split {self.val_split} must be in [0, 1)")
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"data.{name} {value} must be a positive number of images")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "resnet18"
    # airbench: train the whitening layer's bias for this many epochs, then freeze it (None: never freeze)
    whiten_bias_epochs: int | None = None
    # models with a data-dependent first layer (airbench's whitening): set it from the training
    # images before the first step; False leaves its random init (still frozen), for ablations
    data_init: bool = True
    # airbench's convs start as identity (dirac) on their first in_channels filters; False: PyTorch's init
    identity_init: bool = True

    def __post_init__(self):
        # the name is checked against the model registry by recipes.check_registered
        if self.whiten_bias_epochs is not None and self.whiten_bias_epochs < 0:
            raise ConfigError(f"model.whiten_bias_epochs {self.whiten_bias_epochs} must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    rho: float = 0.9  # adadelta
    label_smoothing: float = 0.0
    grad_clip: float | None = None  # max global L2 norm of the gradients
    loss_reduction: str = "mean"  # airbench sums the per-example losses
    # airbench's decoupled form: lr and weight decay given per 1024 examples, momentum-free
    decoupled: bool = False
    bias_lr_scale: float = 1.0  # multiplies the lr (not the decay) of BatchNorm biases
    # airbench's lookahead: every `lookahead_every` steps, weights <- EMA of weights with decay
    # lookahead_decay ** lookahead_every * (step / total) ** 3, and a final copy at the last step
    lookahead: bool = False
    lookahead_every: int = 5
    lookahead_decay: float = 0.95
    # muon (train/muon.py): lr, momentum and nesterov are Muon's, for the conv filters; the other
    # parameters take Nesterov SGD with this momentum, biases (BatchNorm, whitening) at bias_lr and
    # the rest (the linear head) at head_lr; weight_decay is per example (x batch size), decoupled
    aux_momentum: float = 0.85
    bias_lr: float | None = None
    head_lr: float | None = None
    ns_steps: int = 3  # Newton-Schulz iterations per update (airbench94_muon.py uses 3)

    def __post_init__(self):
        _choice("optim.name", self.name, OPTIMIZERS)
        if self.name == "muon":
            if self.bias_lr is None or self.head_lr is None:
                raise ConfigError("optim.name 'muon' needs optim.bias_lr and optim.head_lr (the SGD side's lrs)")
            _positive("optim.bias_lr", self.bias_lr)
            _positive("optim.head_lr", self.head_lr)
            if self.ns_steps < 1:
                raise ConfigError(f"optim.ns_steps {self.ns_steps} must be at least 1")
            if not 0.0 <= self.aux_momentum < 1.0:
                raise ConfigError(f"optim.aux_momentum {self.aux_momentum} must be in [0, 1)")
        _choice("optim.loss_reduction", self.loss_reduction, LOSS_REDUCTIONS)
        _positive("optim.lr", self.lr)
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"optim.momentum {self.momentum} must be in [0, 1)")
        if self.weight_decay < 0:
            raise ConfigError(f"optim.weight_decay {self.weight_decay} must be >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"optim.label_smoothing {self.label_smoothing} must be in [0, 1)")
        if self.grad_clip is not None:
            _positive("optim.grad_clip", self.grad_clip)
        _positive("optim.bias_lr_scale", self.bias_lr_scale)
        if self.lookahead_every < 1 or not 0.0 < self.lookahead_decay <= 1.0:
            raise ConfigError("optim.lookahead_every must be >= 1 and optim.lookahead_decay in (0, 1]")


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = "onecycle"
    interval: str = "batch"  # when the scheduler steps
    step_size: int = 5  # step: every this many intervals
    gamma: float = 0.1  # step, multistep: lr factor
    milestones: tuple[int, ...] = ()  # multistep
    max_lr: float | None = None  # onecycle peak; default optim.lr
    pct_start: float = 0.3  # onecycle, triangle: share of the run spent warming up
    anneal: str = "cos"  # onecycle: cos or linear
    warmup_epochs: float = 0.0  # linear warm-up before constant, step, multistep or cosine
    start_factor: float = 0.2  # triangle: lr factor at step 0
    end_factor: float = 0.07  # triangle: lr factor at the last step

    def __post_init__(self):
        _choice("schedule.name", self.name, SCHEDULES)
        _choice("schedule.interval", self.interval, INTERVALS)
        _choice("schedule.anneal", self.anneal, ("cos", "linear"))
        if not 0.0 < self.pct_start < 1.0:
            raise ConfigError(f"schedule.pct_start {self.pct_start} must be in (0, 1)")
        if self.step_size < 1:
            raise ConfigError(f"schedule.step_size {self.step_size} must be at least 1")
        if self.warmup_epochs < 0:
            raise ConfigError(f"schedule.warmup_epochs {self.warmup_epochs} must be >= 0")
        if self.max_lr is not None:
            _positive("schedule.max_lr", self.max_lr)


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 40.0  # fractional epochs stop mid-epoch (airbench94 trains 9.9)
    batch_size: int = 128
    eval_batch_size: int = 1000
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    checkpoint_every: int = 1  # epochs between checkpoints (0 = only at the end)
    checkpoint_every_steps: int = 0  # also every N optimizer steps, mid-epoch included (0 = off)
    nonfinite: str = "stop"  # a non-finite loss: stop (keep the last good checkpoint) or skip the step
    dist_timeout: float = 300.0  # seconds a distributed collective may wait for a missing rank
    trainer: str = "plain"  # plain, or hybrid: predicted steps where an update can be predicted (train/hybrid.py)
    framework: str = "torch"  # torch (every model and recipe) or mlx (small-resnet, resnet18; mlx/backend.py)
    eval_every: int = 1  # epochs between validations (the last epoch is always validated)
    tta: int = 0  # test-time augmentation of the final evaluation: 0 none, 1 mirror, 2 mirror + translate
    drop_last: bool = False
    plots: bool = True  # draw curves, per-class bars and confusion matrices into the run directory
    loggers: tuple[str, ...] = ("csv",)  # any of LOGGER_NAMES; () for none
    # CPU threads per run (None: one per core this process may use). Results depend on it in the
    # last bits (summation order), so fix it to compare runs trained with different --jobs
    threads: int | None = None

    def __post_init__(self):
        _positive("train.epochs", self.epochs)
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size {self.batch_size} must be a positive integer")
        if self.eval_batch_size < 1:
            raise ConfigError(f"train.eval_batch_size {self.eval_batch_size} must be a positive integer")
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"train.device {self.device!r} is not one of {', '.join(DEVICES)}")
        _choice("train.precision", self.precision, PRECISIONS)
        if self.checkpoint_every < 0:
            raise ConfigError(f"train.checkpoint_every {self.checkpoint_every} must be >= 0 (0 = only at the end)")
        if self.checkpoint_every_steps < 0:
            raise ConfigError(f"train.checkpoint_every_steps {self.checkpoint_every_steps} must be >= 0 (0 = off)")
        if self.eval_every < 1:
            raise ConfigError(f"train.eval_every {self.eval_every} must be at least 1")
        _choice("train.nonfinite", self.nonfinite, NONFINITE)
        _positive("train.dist_timeout", self.dist_timeout)
        _choice("train.framework", self.framework, FRAMEWORKS)
        _choice("train.trainer", self.trainer, TRAINERS)
        _choice("train.tta", self.tta, TTA_LEVELS)
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"train.threads {self.threads} must be a positive number of threads (or null: all cores)")
        if isinstance(self.loggers, str) or len(set(self.loggers)) != len(self.loggers):
            raise ConfigError(f"train.loggers {self.loggers!r} must be a list of distinct names from "
                              f"{', '.join(LOGGER_NAMES)}")
        for name in self.loggers:
            _choice("train.loggers entry", name, LOGGER_NAMES)


@dataclass(frozen=True)
class Augment:
    """What happens to each training image, in this order: flip, crop, rotate, cutout."""

    flip: str = "none"  # random: each image with p=0.5; alternating: airbench's derandomised flip
    crop_padding: int = 0  # random crop after padding each side by this many pixels (= translate)
    pad_mode: str = "zeros"  # zeros: torchvision RandomCrop(padding=p); reflect: airbench's translate
    rotate_degrees: float = 0.0  # uniform rotation in [-d, d]
    cutout: int = 0  # zero a random square of this side (DeVries & Taylor 2017; airbench96 uses 12)

    def __post_init__(self):
        _choice("augment.flip", self.flip, FLIP_MODES)
        _choice("augment.pad_mode", self.pad_mode, PAD_MODES)
        for name in ("crop_padding", "rotate_degrees", "cutout"):
            if getattr(self, name) < 0:
                raise ConfigError(f"augment.{name} {getattr(self, name)} must be >= 0")


# The hybrid trainer's presets (train/hybrid.py): threshold, predict horizon, correction interval.
HYBRID_PRESETS = {
    "conservative": {"tau": 0.60, "horizon": 50, "correct_every": 15},
    "aggressive": {"tau": 0.55, "horizon": 75, "correct_every": 10},
}


@dataclass(frozen=True)
class HybridConfig:
    """Knobs of the hybrid predictive trainer (train/hybrid.py explains each)."""

    preset: str = "conservative"
    warmup: int = 50  # W: real steps before anything is predicted
    full: int = 20  # F: real steps in each full block (their losses calibrate the detector)
    horizon: int | None = None  # H: most steps in one predict phase (preset)
    correct_every: int | None = None  # K: predicted steps between corrections (preset)
    tau: float | None = None  # confidence threshold (preset)
    alpha: float = 1.0  # predicted step = alpha * m
    beta: float = 0.9  # EMA of the real updates
    confidence_window: int = 10  # k real steps averaged
    monitor_every: int = 5  # n: a no_grad forward every n predicted steps (0: never)
    detector_window: int = 5  # w monitored losses
    z: float = 2.2
    backoff: float = 0.5  # alpha multiplier after a divergence (1: none)
    passive: bool = False  # run the divergence detector on a plain run and count its alarms only

    def __post_init__(self):
        _choice("hybrid.preset", self.preset, HYBRID_PRESETS)
        for name in ("warmup", "full", "confidence_window", "detector_window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"hybrid.{name} {getattr(self, name)} must be at least 1")
        if self.monitor_every < 0 or self.alpha < 0 or not 0 <= self.beta < 1 or not 0 < self.backoff <= 1:
            raise ConfigError("hybrid: monitor_every >= 0, alpha >= 0, 0 <= beta < 1 and 0 < backoff <= 1 are required")

    def resolved(self) -> dict:
        """Every knob with the preset's values filled in."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in HYBRID_PRESETS[self.preset].items():
            if values[key] is None:
                values[key] = value
        return values


@dataclass(frozen=True)
class RunConfig:
    recipe: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    augment: Augment = field(default_factory=Augment)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)  # used with train.trainer = hybrid
    runs_dir: str = "runs"
    name: str | None = None  # run folder label; default <dataset>-<model>

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        return _build(cls, values, "")


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} {value!r} is not one of {', '.join(map(str, allowed))}")


def _positive(name: str, value) -> None:
    if not value > 0:
        raise ConfigError(f"{name} {value} must be positive")


def _plain(value):
    """Tuples to lists, so the dict is plain YAML and JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------- building from plain values


def _build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        where = f"in {prefix.rstrip('.')}" if prefix else "at the top level"
        raise ConfigError(f"unknown config key {prefix + unknown[0]!r}; keys {where}: {', '.join(sorted(known))}")
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, hint, f"{prefix}{key}")
    return cls(**kwargs)


def _coerce(value: Any, hint, name: str):
    """Convert a YAML or command-line value to the field's type, or say why it cannot be."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], name)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace("x", ",").split(",") if v.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} {value!r} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], name) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{name} {value!r} must have {len(args)} values")
        return tuple(_coerce(v, a, name) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{name} {value!r} must be true or false")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float):  # 512.0 is refused like "512.0": an integer field takes integers
            raise ConfigError(f"{name} {value!r} must be an integer")
        try:
            return int(str(value).strip())  # exact for big integers, which float() would round
        except ValueError:
            raise ConfigError(f"{name} {value!r} must be an integer") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} {value!r} must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{name} {value!r} must be a finite number")
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be a string")
        return str(value)
    raise ConfigError(f"{name}: unsupported field type {hint}")


def merge(base: dict, update: dict) -> dict:
    """Nested dict merge: values in `update` win; sections merge key by key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_assignment(text: str) -> dict:
    """`section.field=value` (value parsed as YAML) -> {"section": {"field": value}}."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like section.field=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    nested: dict = value
    for part in reversed(key.strip().split(".")):
        if not part:
            raise ConfigError(f"--set {text!r}: empty key")
        nested = {part: nested}
    return nested


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A YAML file's content, or a one-line ConfigError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def load_yaml(path: str | Path) -> dict:
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(values).__name__}")
    return values
