"""The schema of a run's configuration: one frozen dataclass per section, validated when built,
and RunConfig, which holds them. Each field is written with opt() (config/fields.py): its help,
flags and allowed values are what the command line is generated from."""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass

from cifarbench.config.fields import (
    FLIP_MODES,
    FRAMEWORKS,
    INTERVALS,
    LOSS_REDUCTIONS,
    NONFINITE,
    OPTIMIZERS,
    PAD_MODES,
    SCHEDULES,
    TRAINERS,
    TTA_LEVELS,
    Flag,
    check_choices,
    checkpoint_interval,
    logger_names,
    opt,
    positive,
)
from cifarbench.config.values import build, get_path, merge, plain
from cifarbench.device_names import DEVICES, PRECISIONS
from cifarbench.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    dataset: str = opt(
        "cifar10",
        "the dataset (`cifarbench list datasets`), or your own images (data/sources/)",
        flags=Flag("--dataset"),
        registry="datasets",
        also="folder:PATH (a subfolder per class), csv:FILE (path and label columns) or npz:FILE",
    )
    data_dir: str | None = opt(
        None,
        "the only folder the dataset is read from and downloaded to (default: search "
        "$CIFARBENCH_DATA, ~/.cache/cifarbench, then system copies)",
        flags=Flag("--data-dir", metavar="DIR"),
    )
    download: bool = opt(
        True,
        "download the dataset when it is not here (--offline: never; fail instead)",
        flags=Flag("--offline", value=False),
    )
    coarse_labels: bool = opt(
        False, "cifar100's 20 superclasses instead of its 100 classes", flags=Flag("--coarse-labels", value=True)
    )
    val_split: float = opt(
        0.0,
        "hold out this fraction of the training split for validation, in [0, 1) (0: validate on the test split)",
        flags=Flag("--val-split", metavar="F"),
    )
    train_subset: int | None = opt(
        None, "train on the first N training images only", flags=Flag("--train-subset", metavar="N")
    )
    test_subset: int | None = opt(
        None, "evaluate on the first N test images only", flags=Flag("--test-subset", metavar="N")
    )
    image_size: int | None = opt(
        None, "your own images: the square side they are resized to (null: the median side, rounded to a multiple of 8)"
    )
    test_split: float = opt(
        0.2,
        "your own images without a test split: the share of each class held out for "
        "testing, in (0, 1); the same split for every run (seed 0, recorded)",
    )
    skip_bad: bool = opt(
        False,
        "your own images: skip files that are not readable images (counted and listed in "
        "run_log.json) instead of refusing the dataset",
    )
    path_column: str = opt("path", "csv:FILE: the column of image paths (relative to the CSV)")
    label_column: str = opt("label", "csv:FILE: the column of class names")
    split_column: str = opt("split", "csv:FILE: the optional column saying train or test")
    synthetic_shape: tuple[int, int, int] = opt((3, 32, 32), "synthetic dataset: image shape C,H,W")
    synthetic_classes: int = opt(10, "synthetic dataset: number of classes")
    synthetic_train_size: int = opt(5000, "synthetic dataset: training images")
    synthetic_test_size: int = opt(1000, "synthetic dataset: test images")

    def __post_init__(self):
        # the dataset name is checked against the dataset registry by resolve.check_registered
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"data.val_split {self.val_split} must be in [0, 1)")
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"data.{name} {value} must be a positive number of images")
        if self.image_size is not None and self.image_size < 8:
            raise ConfigError(f"data.image_size {self.image_size} must be at least 8 pixels")
        if not 0.0 < self.test_split < 1.0:
            raise ConfigError(f"data.test_split {self.test_split} must be in (0, 1)")


@dataclass(frozen=True)
class ModelConfig:
    name: str = opt("resnet18", "the model (`cifarbench list models`)", flags=Flag("--model"), registry="models")
    whiten_bias_epochs: int | None = opt(
        None,
        "airbench: train the whitening layer's bias for this many epochs, then freeze it (null: never freeze)",
        trick="frozen whitening bias",
        torch_only="airbench's whitening layer is PyTorch-only",
    )
    data_init: bool = opt(
        True,
        "models with a data-dependent first layer (airbench's whitening): set it from the "
        "training images before the first step; false leaves its random init (still "
        "frozen), for ablations",
    )
    identity_init: bool = opt(
        True, "airbench's convs start as identity (dirac) on their first in_channels filters; false: PyTorch's init"
    )
    zero_init_residual: bool = opt(
        False,
        "resnets: zero the last BatchNorm weight of every residual branch, so "
        "each block starts as its shortcut (Goyal et al. 2017, arXiv 1706.02677; "
        "torchvision's zero_init_residual)",
        trick="zero-init residual",
    )

    widths: tuple[int, ...] | None = opt(
        None,
        "airbench nets: one conv group per width, so their count is the depth (null: the net's own, e.g. "
        "airbench-tiny's 16,32,64)",
        torch_only="airbench is PyTorch-only",
    )

    def __post_init__(self):
        # the name is checked against the model registry by resolve.check_registered
        if self.whiten_bias_epochs is not None and self.whiten_bias_epochs < 0:
            raise ConfigError(f"model.whiten_bias_epochs {self.whiten_bias_epochs} must be >= 0")
        if self.widths is not None and (not self.widths or min(self.widths) < 1):
            raise ConfigError(
                f"model.widths {','.join(map(str, self.widths)) or '(empty)'} must be one or more "
                "positive integers, or null (the net's own)"
            )


@dataclass(frozen=True)
class OptimConfig:
    name: str = opt("sgd", "the optimizer", flags=Flag("--optimizer"), choices=OPTIMIZERS)
    lr: float = opt(0.1, "learning rate", flags=Flag("--lr"))
    momentum: float = opt(0.9, "momentum, in [0, 1)", flags=Flag("--momentum"))
    nesterov: bool = opt(False, "Nesterov momentum (sgd)", trick="nesterov")
    weight_decay: float = opt(5e-4, "L2 weight decay (>= 0)", flags=Flag("--weight-decay"))
    betas: tuple[float, float] = opt((0.9, 0.999), "adam, adamw: the two betas")
    rho: float = opt(0.9, "adadelta: rho")
    label_smoothing: float = opt(
        0.0, "label smoothing of the loss, in [0, 1)", flags=Flag("--label-smoothing"), trick="label smoothing"
    )
    grad_clip: float | None = opt(
        None,
        "clip the gradients' global L2 norm to this (null: no clipping)",
        torch_only="gradient clipping is PyTorch-only",
    )
    loss_reduction: str = opt("mean", "per-example losses averaged or summed (airbench sums)", choices=LOSS_REDUCTIONS)
    decoupled: bool = opt(
        False,
        "airbench's decoupled form: lr and weight decay given per 1024 examples, momentum-free",
        torch_only="airbench's decoupled SGD is PyTorch-only",
    )
    bias_lr_scale: float = opt(
        1.0,
        "multiplies the lr (not the decay) of BatchNorm biases",
        trick="bias lr scale",
        torch_only="per-group learning rates are PyTorch-only",
    )
    lookahead: bool = opt(
        False,
        "airbench's lookahead: every lookahead_every steps, weights <- EMA of weights "
        "with decay lookahead_decay ** lookahead_every * (step / total) ** 3, and a final "
        "copy at the last step",
        trick="lookahead",
        torch_only="airbench's lookahead is PyTorch-only",
    )
    lookahead_every: int = opt(5, "lookahead: steps between syncs (>= 1)")
    lookahead_decay: float = opt(0.95, "lookahead: EMA decay per step, in (0, 1]")
    aux_momentum: float = opt(
        0.85,
        "muon (training/muon.py): Nesterov SGD momentum of the parameters Muon does not "
        "take (biases, the linear head); lr, momentum and nesterov are Muon's, for the "
        "conv filters; weight_decay is per example (x batch size), decoupled",
    )
    bias_lr: float | None = opt(None, "muon: lr of the biases (BatchNorm, whitening); required with muon")
    head_lr: float | None = opt(None, "muon: lr of the linear head; required with muon")
    ns_steps: int = opt(3, "muon: Newton-Schulz iterations per update (airbench94_muon.py uses 3)")

    def __post_init__(self):
        check_choices(self, "optim")
        if self.name == "muon":
            if self.bias_lr is None or self.head_lr is None:
                raise ConfigError("optim.name 'muon' needs optim.bias_lr and optim.head_lr (the SGD side's lrs)")
            positive("optim.bias_lr", self.bias_lr)
            positive("optim.head_lr", self.head_lr)
            if self.ns_steps < 1:
                raise ConfigError(f"optim.ns_steps {self.ns_steps} must be at least 1")
            if not 0.0 <= self.aux_momentum < 1.0:
                raise ConfigError(f"optim.aux_momentum {self.aux_momentum} must be in [0, 1)")
        positive("optim.lr", self.lr)
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"optim.momentum {self.momentum} must be in [0, 1)")
        if self.weight_decay < 0:
            raise ConfigError(f"optim.weight_decay {self.weight_decay} must be >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"optim.label_smoothing {self.label_smoothing} must be in [0, 1)")
        if self.grad_clip is not None:
            positive("optim.grad_clip", self.grad_clip)
        positive("optim.bias_lr_scale", self.bias_lr_scale)
        if self.lookahead_every < 1 or not 0.0 < self.lookahead_decay <= 1.0:
            raise ConfigError("optim.lookahead_every must be >= 1 and optim.lookahead_decay in (0, 1]")


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = opt("onecycle", "the learning-rate schedule", flags=Flag("--schedule"), choices=SCHEDULES)
    interval: str = opt("batch", "when the scheduler steps", choices=INTERVALS)
    step_size: int = opt(5, "step: every this many intervals (>= 1)")
    gamma: float = opt(0.1, "step, multistep: lr factor")
    milestones: tuple[int, ...] = opt((), "multistep: the intervals at which the lr is multiplied by gamma")
    max_lr: float | None = opt(None, "onecycle: peak lr (null: optim.lr)")
    pct_start: float = opt(0.3, "onecycle, triangle: share of the run spent warming up, in (0, 1)")
    anneal: str = opt("cos", "onecycle: the shape of the anneal", choices=("cos", "linear"))
    warmup_epochs: float = opt(0.0, "linear warm-up before constant, step, multistep or cosine (epochs)")
    start_factor: float = opt(0.2, "triangle: lr factor at step 0")
    end_factor: float = opt(0.07, "triangle: lr factor at the last step")
    pace: tuple[float, ...] | None = opt(
        None,
        "the schedule's progress per step, one rate for each 8 steps, as a run that annealed on the clock "
        "(a planned --budget-s) took them: it writes them into its config.yaml, so replaying that file takes "
        "the same steps with the same schedule (null: one step, one step of the schedule)",
        torch_only="MLX runs follow the step count",
    )

    def __post_init__(self):
        check_choices(self, "schedule")
        if not 0.0 < self.pct_start < 1.0:
            raise ConfigError(f"schedule.pct_start {self.pct_start} must be in (0, 1)")
        if self.step_size < 1:
            raise ConfigError(f"schedule.step_size {self.step_size} must be at least 1")
        if self.warmup_epochs < 0:
            raise ConfigError(f"schedule.warmup_epochs {self.warmup_epochs} must be >= 0")
        if self.max_lr is not None:
            positive("schedule.max_lr", self.max_lr)
        if self.pace is not None:
            if not self.pace or min(self.pace) <= 0:
                raise ConfigError(
                    "schedule.pace must be one or more positive rates (a clocked run's config.yaml holds them), or null"
                )
            if self.interval != "batch" or self.name == "onecycle":
                raise ConfigError(
                    f"schedule.pace needs a per-batch schedule other than onecycle; {self.name} "
                    f"every {self.interval} follows the step count only"
                )


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = opt(40.0, "epochs; a fraction stops mid-epoch (airbench94 trains 9.9)", flags=Flag("--epochs"))
    batch_size: int = opt(128, "training batch size", flags=Flag("--batch-size"))
    eval_batch_size: int = opt(1000, "evaluation batch size")
    seed: int = opt(0, "the seed (with --runs N, the first of N)", flags=Flag("--seed"))
    deterministic: bool = opt(
        False,
        "deterministic algorithms (slower on GPU; the same losses bit for bit)",
        flags=Flag("--deterministic", value=True),
        torch_only="MLX has no deterministic-algorithms switch",
    )
    nonfinite: str = opt(
        "stop",
        "a non-finite loss: stop the run keeping the last good checkpoint, or skip such "
        "steps and count them (costs one device sync per step)",
        flags=Flag("--nonfinite"),
        choices=NONFINITE,
        torch_only="MLX runs stop on a non-finite loss",
    )
    trainer: str = opt(
        "plain",
        "hybrid: skip backward passes where the update can be predicted (warmup -> full "
        "-> predict with corrections and a divergence detector; training/hybrid.py); knobs: "
        "--hybrid.*",
        flags=Flag("--trainer"),
        choices=TRAINERS,
        torch_only="the hybrid trainer is a policy of the PyTorch loop",
    )
    framework: str = opt(
        "torch",
        "torch (every model and recipe) or mlx: Apple's MLX (Metal on Apple silicon, CPU "
        "on Linux; pip install 'cifarbench[mlx]'; models small-resnet, resnet18)",
        flags=Flag("--framework"),
        choices=FRAMEWORKS,
    )
    eval_every: int = opt(
        1,
        "epochs between validations (the last epoch is always validated); 0: none in the loop, the final "
        "evaluation only (with no validation split the loop's validations read the test split)",
    )
    tta: int = opt(
        0,
        "test-time augmentation of the final evaluation: 0 none, 1 mirror, 2 mirror and 1-pixel translations",
        flags=Flag("--tta"),
        choices=TTA_LEVELS,
        trick="TTA",
    )
    tta_share: float | None = opt(
        None,
        "selective TTA: the views past the plain one only for this share of each "
        "evaluation batch, its least confident images (null: every image)",
        flags=Flag("--tta-share", metavar="SHARE"),
        trick="selective TTA",
    )
    drop_last: bool = opt(False, "drop the last, smaller training batch of each epoch")

    def __post_init__(self):
        positive("train.epochs", self.epochs)
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size {self.batch_size} must be a positive integer")
        if self.eval_batch_size < 1:
            raise ConfigError(f"train.eval_batch_size {self.eval_batch_size} must be a positive integer")
        check_choices(self, "train")
        if self.tta_share is not None and not 0 < self.tta_share <= 1:
            raise ConfigError(f"train.tta_share {self.tta_share} must be a share in (0, 1], or null (every image)")
        if self.eval_every < 0:
            raise ConfigError(f"train.eval_every {self.eval_every} must be 0 (no validation in the loop) or more")


@dataclass(frozen=True)
class HardwareConfig:
    """Where a run computes and how: the device, the number format, the memory layout, compilation,
    CPU threads, and how long a distributed collective may wait."""

    device: str = opt(
        "auto",
        "auto: cuda, then mps, then cpu; cuda:N picks a GPU",
        flags=Flag("--device"),
        allowed="one of: " + ", ".join(DEVICES) + ", or cuda:N",
    )
    precision: str = opt(
        "auto",
        "bf16/fp16: autocast; -pure: weights, activations and gradients in that dtype, "
        "BatchNorm in fp32, no loss scaling. auto: fp16-pure on CUDA for recipes with a "
        "summed loss (airbench's), fp16 otherwise; bf16 on a CPU with native bf16; else fp32",
        flags=Flag("--precision"),
        choices=PRECISIONS,
    )
    channels_last: bool = opt(
        False,
        "NHWC memory format",
        flags=Flag("--channels-last", value=True),
        trick="channels last",
        torch_only="MLX models are NHWC already",
    )
    compile: bool = opt(
        False,
        "torch.compile the model; compilation runs in a warm-up before the clock and is "
        "reported apart (run_log compile_seconds); --runs N reuses the compiled model",
        flags=Flag("--compile", value=True),
        torch_only="MLX compiles the whole step with mx.compile itself",
    )
    threads: int | None = opt(
        None,
        "CPU threads per run (null: one per core this process may use). Results depend "
        "on it in the last bits (summation order), so fix it to compare runs trained "
        "with different --jobs",
    )
    dist_timeout: float = opt(300.0, "seconds a distributed collective may wait for a missing rank")

    def __post_init__(self):
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"hardware.device {self.device!r} is not one of {', '.join(DEVICES)}")
        check_choices(self, "hardware")
        positive("hardware.dist_timeout", self.dist_timeout)
        if self.threads is not None and self.threads < 1:
            raise ConfigError(
                f"hardware.threads {self.threads} must be a positive number of threads (or null: all cores)"
            )


@dataclass(frozen=True)
class OutputConfig:
    """What a run leaves besides its metrics: checkpoints, plots, and the loggers its numbers go to."""

    checkpoint_every: int = opt(
        1,
        "epochs between checkpoints (0: only at the end)",
        flags=Flag(
            "--checkpoint-every",
            parse=checkpoint_interval,
            metavar="N|Nsteps",
            help="N: output.checkpoint_every N; Nsteps (e.g. 500steps): output.checkpoint_every_steps N",
        ),
    )
    checkpoint_every_steps: int = opt(
        0,
        "also a checkpoint every N optimizer steps, mid-epoch included (0: off); "
        "--checkpoint-every 500steps sets it. A resumed run continues bit for bit",
        torch_only="MLX runs save weights at epoch ends only (and cannot --resume)",
    )
    plots: bool = opt(
        True,
        "draw curves, per-class bars and confusion matrices into the run directory "
        "(`cifarbench plot RUN_DIR` draws them later)",
        flags=Flag("--no-plots", value=False),
    )
    loggers: tuple[str, ...] = opt(
        ("csv",),
        "where a run's numbers are also sent, comma-separated (none: no "
        "logger); csv writes metrics.csv in the run directory; tensorboard, "
        "mlflow and wandb each need their extra, e.g. pip install "
        "'cifarbench[tensorboard]'; MLFLOW_TRACKING_URI and WANDB_MODE=offline "
        "are honoured",
        flags=Flag("--logger", parse=logger_names, metavar="NAMES", help="output.loggers, comma-separated, or none"),
        registry="loggers",
    )

    def __post_init__(self):
        if isinstance(self.loggers, str) or len(set(self.loggers)) != len(self.loggers):
            raise ConfigError(f"output.loggers {self.loggers!r} must be a list of distinct logger names")
        if self.checkpoint_every < 0:
            raise ConfigError(f"output.checkpoint_every {self.checkpoint_every} must be >= 0 (0 = only at the end)")
        if self.checkpoint_every_steps < 0:
            raise ConfigError(f"output.checkpoint_every_steps {self.checkpoint_every_steps} must be >= 0 (0 = off)")


@dataclass(frozen=True)
class Augment:
    """What happens to each training image, in this order: flip, crop, rotate, cutout, then the scaling of
    progressive resizing."""

    flip: str = opt(
        "none",
        "random: each image with p=0.5; alternating: airbench's derandomised flip",
        flags=Flag("--flip"),
        choices=FLIP_MODES,
        trick="flip",
    )
    crop_padding: int = opt(
        0,
        "random crop after padding each side by this many pixels (= translate)",
        flags=Flag("--crop-padding", metavar="PX"),
        trick="translate",
    )
    pad_mode: str = opt(
        "zeros", "zeros: torchvision RandomCrop(padding=p); reflect: airbench's translate", choices=PAD_MODES
    )
    rotate_degrees: float = opt(0.0, "uniform rotation in [-d, d]", trick="rotation")
    cutout: int = opt(
        0, "zero a random square of this side (DeVries & Taylor 2017; airbench96 uses 12)", trick="cutout"
    )
    progressive_from: int = opt(
        0,
        "progressive resizing: the first epoch's training images scaled down to this "
        "height (bilinear, antialiased), growing linearly to full size at epoch "
        "progressive_epochs; evaluation is always at full size (0: off)",
        trick="progressive resizing",
    )
    progressive_epochs: int = opt(2, "progressive resizing: the first epoch trained at full size (>= 1)")

    def __post_init__(self):
        check_choices(self, "augment")
        for name in ("crop_padding", "rotate_degrees", "cutout", "progressive_from"):
            if getattr(self, name) < 0:
                raise ConfigError(f"augment.{name} {getattr(self, name)} must be >= 0")
        if self.progressive_epochs < 1:
            raise ConfigError(f"augment.progressive_epochs {self.progressive_epochs} must be >= 1")


# The hybrid trainer's presets (training/hybrid.py): threshold, predict horizon, correction interval.
HYBRID_PRESETS = {
    "conservative": {"tau": 0.60, "horizon": 50, "correct_every": 15},
    "aggressive": {"tau": 0.55, "horizon": 75, "correct_every": 10},
}


@dataclass(frozen=True)
class HybridConfig:
    """Knobs of the hybrid predictive trainer (training/hybrid.py explains each)."""

    preset: str = opt(
        "conservative",
        "; ".join(
            f"{name}: tau {v['tau']:.2f}, horizon {v['horizon']}, correction every {v['correct_every']}"
            for name, v in HYBRID_PRESETS.items()
        )
        + "; a preset given asks for the hybrid trainer",
        flags=Flag("--hybrid-preset"),
        choices=tuple(HYBRID_PRESETS),
        implies={"train": {"trainer": "hybrid"}},
    )
    warmup: int = opt(50, "W: real steps before anything is predicted")
    full: int = opt(20, "F: real steps in each full block (their losses calibrate the detector)")
    horizon: int | None = opt(None, "H: most steps in one predict phase (null: the preset's)")
    correct_every: int | None = opt(None, "K: predicted steps between corrections (null: the preset's)")
    tau: float | None = opt(None, "confidence threshold (null: the preset's)")
    alpha: float = opt(1.0, "predicted step = alpha * m (>= 0)")
    beta: float = opt(0.9, "EMA of the real updates, in [0, 1)")
    confidence_window: int = opt(10, "k real steps averaged")
    monitor_every: int = opt(5, "n: a no_grad forward every n predicted steps (0: never)")
    detector_window: int = opt(5, "w monitored losses")
    z: float = opt(2.2, "the divergence detector's z threshold")
    backoff: float = opt(0.5, "alpha multiplier after a divergence, in (0, 1] (1: none)")
    passive: bool = opt(False, "run the divergence detector on a plain run and count its alarms only")

    def __post_init__(self):
        check_choices(self, "hybrid")
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
    recipe: str = opt(
        "custom",
        "a named recipe (`cifarbench list recipes`)",
        flags=Flag("--recipe"),
        registry="recipes",
        shown_default="the model's own recipe with --model, else {registry_default}",
    )
    data: DataConfig = opt(factory=DataConfig, help="data")
    augment: Augment = opt(factory=Augment, help="augmentation")
    model: ModelConfig = opt(factory=ModelConfig, help="model")
    optim: OptimConfig = opt(factory=OptimConfig, help="optimizer")
    schedule: ScheduleConfig = opt(factory=ScheduleConfig, help="learning-rate schedule")
    train: TrainConfig = opt(factory=TrainConfig, help="training")
    hardware: HardwareConfig = opt(factory=HardwareConfig, help="device, precision and processes")
    output: OutputConfig = opt(factory=OutputConfig, help="checkpoints, plots and loggers")
    hybrid: HybridConfig = opt(factory=HybridConfig, help="the hybrid trainer (with train.trainer hybrid)")
    runs_dir: str = opt("runs", "where run folders are created", flags=Flag("--runs-dir", metavar="DIR"))
    name: str | None = opt(None, "run folder label (default: <dataset>-<model>)", flags=Flag("--name"))

    def to_dict(self) -> dict:
        return plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        return build(cls, current_paths(values), "")


# Fields that moved out of the training section into their own; the old path (a run folder's
# config.yaml, a frontier's or a study's layers, `--set train.device=cpu`) still means the new one.
MOVED = {
    **{
        f"train.{name}": f"hardware.{name}"
        for name in ("device", "precision", "channels_last", "compile", "threads", "dist_timeout")
    },
    **{
        f"train.{name}": f"output.{name}" for name in ("checkpoint_every", "checkpoint_every_steps", "plots", "loggers")
    },
}


def current_paths(values: dict) -> dict:
    """`values` (nested sections, as a layer or a config.yaml holds them) with every moved field at
    its current path; where both paths are given, the current one wins."""
    train = values.get("train") if isinstance(values, dict) else None
    if not isinstance(train, dict) or not any(f"train.{key}" in MOVED for key in train):
        return values
    out = {**values, "train": {k: v for k, v in train.items() if f"train.{k}" not in MOVED}}
    for key, value in train.items():
        if f"train.{key}" in MOVED:
            section, name = MOVED[f"train.{key}"].split(".")
            current = out.get(section)
            given = current if isinstance(current, dict) else {}
            out[section] = {name: value, **given}
    return out


def schema_fields(cls=None, prefix: str = ""):
    """(path, field, type) of every leaf field of the config, in the order they are written:
    ("recipe", ...), ("data.dataset", ...), ... The command line is generated from this."""
    return _schema_fields(cls or RunConfig, prefix)


@functools.cache
def _schema_fields(cls, prefix: str) -> tuple:
    # cached: the schema does not change while a process runs, and resolving its type hints is
    # most of what building the command line costs
    hints = typing.get_type_hints(cls)
    found: list[tuple[str, dataclasses.Field[typing.Any], typing.Any]] = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            found.extend(_schema_fields(hints[f.name], f"{prefix}{f.name}."))
        else:
            found.append((f"{prefix}{f.name}", f, hints[f.name]))
    return tuple(found)


def with_implied(values: dict) -> dict:
    """`values` plus what its fields imply (metadata `implies`) where that is not given too:
    hybrid.preset asks for the hybrid trainer."""
    out = values
    for path, f, _ in schema_fields():
        if f.metadata.get("implies") and get_path(values, path) is not None:
            implied = f.metadata["implies"]
            out = merge(implied, out)  # what is given wins over what is implied
    return out
