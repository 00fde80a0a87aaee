"""Measurement: the same training measured side by side on devices, world sizes, frameworks and
models. Every benchmark is registered here in BENCHMARKS (bench/registry.py) with what the command
line shows (help, description, its own options); what measures is in its own module, imported only
when it runs (registry.lazy), so `cifarbench --help` and `cifarbench bench --help` load no torch.
`cifarbench bench` and its help are generated from BENCHMARKS. Nothing that makes a run imports
this package.
"""

from __future__ import annotations

from cifarbench.bench.registry import BENCHMARKS, Benchmark
from cifarbench.config import comma_list
from cifarbench.mlx import require_mlx
from cifarbench.registry import lazy

__all__ = ["BENCHMARKS", "Benchmark"]


def _devices_options(p) -> None:
    p.add_argument(
        "--devices",
        type=comma_list,
        metavar="D1,D2",
        help="default: hardware.device when given, else every available device (cpu, cuda, mps)",
    )
    p.add_argument("--repeats", type=int, default=3, help="timed runs per device (default 3)")


def _scaling_options(p) -> None:
    p.add_argument("--nproc", default="1,2", metavar="N1,N2,...", help="process counts (default 1,2)")
    p.add_argument("--repeats", type=int, default=1, help="runs per world size (default 1)")


def _throughput_options(p) -> None:
    p.add_argument(
        "--models", type=comma_list, metavar="M1,M2", help="default: model.name when given, else every model in the zoo"
    )
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (default 10)")


BENCHMARKS.add(
    "devices",
    Benchmark(
        help="the same training on every available device: time, images/s, speedup",
        description="Train the same recipe with the same data and seed on each device; one warm-up run, then timed "
        "repeats. Defaults: recipe airbench94, synthetic CIFAR-shaped data, 1 epoch; the config options "
        "change any of it.",
        options=_devices_options,
        run=lazy("cifarbench.bench.devices:run"),
    ),
)
BENCHMARKS.add(
    "frameworks",
    Benchmark(
        help="PyTorch and MLX on the same device class, data, weights and schedule",
        description="Train the same recipe with PyTorch and with MLX (same splits, batches, augmentation, initial "
        "weights and schedule); time per epoch (first epoch apart), images/s, final loss, accuracy; table, "
        "JSON and chart. Defaults: small-resnet (MLX has small-resnet and resnet18), 512 synthetic 3x32x32 "
        "images, 2 epochs, fp32 on the CPU; hardware.device cuda or mps puts PyTorch on that GPU against "
        "MLX's.",
        run=lazy("cifarbench.bench.frameworks:run"),
        needs=require_mlx,
    ),
)
BENCHMARKS.add(
    "scaling",
    Benchmark(
        help="the same training at several world sizes (torchrun, DDP): speedup, efficiency",
        description="Launch `torchrun --standalone --nproc_per_node=N -m cifarbench train` for each N with the same "
        "global batch, recipe and seed; report time, images/s, speedup, efficiency (speedup / N) and "
        "accuracy. Defaults: recipe lenet-small-onecycle, synthetic CIFAR-shaped data, 1 epoch; "
        "hardware.device cpu runs Gloo, cuda NCCL with one GPU per process. On one CPU the processes share its "
        "cores.",
        options=_scaling_options,
        run=lazy("cifarbench.bench.scaling:run"),
    ),
)
BENCHMARKS.add(
    "throughput",
    Benchmark(
        help="training and inference images/s, FLOPs and peak memory per model",
        description="Training and inference images/s of each model on synthetic inputs (data.synthetic_shape, "
        "data.synthetic_classes) at train.batch_size, hardware.precision and hardware.channels_last (default: "
        "batch 128, channels_last).",
        options=_throughput_options,
        run=lazy("cifarbench.bench.throughput:run"),
        report=lazy("cifarbench.bench.throughput:report"),
    ),
)
