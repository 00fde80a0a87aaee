"""Training and inference images/s for models of the zoo, like timm's benchmark.py, with
FLOPs per image and the share of the device's measured matmul peak that they achieve (the faster
of fp32 and the run's precision; reference_peak).

Each model is measured in a fresh process (so peak memory is its own) with the trainer's own
`train_step`: warm-up steps are timed apart, then `steps` timed steps, device-synchronised. When
compiled, the warm-up steps hold the compilation.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from cifarbench.data.loader import DeviceLoader
from cifarbench.data.store import load_dataset
from cifarbench.devices import (
    configure_threads,
    peak_memory_bytes,
    resolve_device,
    resolve_precision,
    synchronize,
)
from cifarbench.models import build_model, count_parameters
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table
from cifarbench.training.trainer import Trainer


@dataclass(frozen=True)
class ThroughputSpec:
    model: str
    batch_size: int = 128
    precision: str = "auto"
    channels_last: bool = True
    device: str = "auto"
    shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10
    warmup_steps: int = 3
    steps: int = 10
    widths: tuple[int, ...] | None = None  # model.widths, for the nets that take them
    compile: bool = False  # torch.compile (train.compiled.COMPILE_OPTIONS), compiled in the warm-up steps


def matmul_size(device: torch.device, dtype: torch.dtype, largest: int = 2048, limit_s: float = 2.0) -> int:
    """The matrix size to time a dtype's matmul at: `largest`, unless one product there would take
    longer than `limit_s`, projected from a timed 256 x 256 product (time grows as n^3); then the
    largest power-of-two size within it. A dtype the hardware runs in software (bf16 on a CPU
    without native bf16, hundreds of times slower than fp32) is timed small: at 2048 one product
    would take minutes, and its rate is far below fp32's at any size. A fast dtype is always timed
    at `largest`, however busy the machine, so its ceiling does not depend on the moment."""
    size = min(256, largest)
    if size == largest:
        return size
    a = torch.randn(size, size, device=device, dtype=dtype)
    a @ a  # warm-up
    seconds = _timed(device, lambda: a @ a, 1)
    while size < largest and seconds * (2 * size / 256) ** 3 <= limit_s:
        size *= 2
    return size


def matmul_peak_flops(
    device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5
) -> float:
    """The best FLOP/s of an n x n matmul (n at most: matmul_size): the ceiling the models are
    measured against."""
    n = matmul_size(device, dtype, n)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    best = 0.0
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def reference_peak(device: torch.device, dtype: torch.dtype) -> tuple[float, torch.dtype]:
    """The ceiling a run is measured against, and the dtype that reached it: the faster of an fp32
    matmul and one in the run's dtype. A CPU without native bf16 multiplies bf16 matrices far
    slower than its convolutions run under bf16 autocast (oneDNN converts to fp32 inside), so the
    bf16 matmul alone is no ceiling: runs measured against it reached 22 times their 'peak'."""
    rates = {torch.float32: matmul_peak_flops(device, torch.float32)}
    if dtype != torch.float32:
        rates[dtype] = matmul_peak_flops(device, dtype)
    best = max(rates, key=rates.__getitem__)
    return rates[best], best


def flops_per_image(model: torch.nn.Module, x: torch.Tensor, train: bool) -> float:
    """FLOPs of a forward (and backward, when training) pass per image, counted by torch."""
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x)
        if train:
            out.float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def _timed(device: torch.device, fn, steps: int) -> float:
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)  # sync point: every queued kernel has run
    return time.perf_counter() - start


def measure(spec: ThroughputSpec) -> dict:
    """One model's figures, in this process."""
    configure_threads()
    device = resolve_device(spec.device)
    precision = resolve_precision(spec.precision, device)
    c, h, _ = spec.shape
    n_images = spec.batch_size * (spec.warmup_steps + spec.steps)
    data = load_dataset(
        "synthetic", shape=spec.shape, num_classes=spec.num_classes, train_size=n_images, test_size=spec.batch_size
    )
    options = {"widths": tuple(spec.widths)} if spec.widths else {}  # the net's own keywords, and its config's
    config = resolve_config(
        "resnet18-onecycle",
        {
            "model": {"name": spec.model, **options},
            "train": {"batch_size": spec.batch_size, "epochs": 1},
            "hardware": {
                "precision": spec.precision,
                "channels_last": spec.channels_last,
                "device": str(device),
                "compile": spec.compile,
            },
        },
    )
    loader = DeviceLoader(
        data.train, data.mean, data.std, spec.batch_size, device, shuffle=False, channels_last=spec.channels_last
    )
    model = build_model(spec.model, spec.num_classes, c, h, **options)
    trainer = Trainer(config, model, loader, loader, device, precision, data.classes)
    batches = list(loader.epoch(0))
    x, y = batches[0]
    train_flops = flops_per_image(trainer.model, trainer.cast(x), train=True)
    infer_flops = flops_per_image(trainer.model, trainer.cast(x), train=False)
    trainer.model.train()
    it = iter(batches)
    warmup = _timed(device, lambda: trainer.train_step(*next(it)), spec.warmup_steps)
    train_time = _timed(device, lambda: trainer.train_step(*next(it)), spec.steps)
    trainer.model.eval()

    @torch.no_grad()
    def infer():
        with precision.context(device):
            trainer.model(trainer.cast(x))

    infer_warmup = _timed(device, infer, spec.warmup_steps)
    infer_time = _timed(device, infer, spec.steps)
    peak, peak_dtype = reference_peak(device, precision.inference_dtype() or torch.float32)
    train_ips = spec.steps * spec.batch_size / train_time
    infer_ips = spec.steps * spec.batch_size / infer_time
    return {
        **asdict(spec),
        "device": str(device),
        "precision": precision.name,
        "parameters": count_parameters(trainer.model),
        "train_images_per_second": train_ips,
        "infer_images_per_second": infer_ips,
        "train_warmup_seconds": warmup,
        "infer_warmup_seconds": infer_warmup,
        "train_flops_per_image": train_flops,
        "infer_flops_per_image": infer_flops,
        "train_flops_per_second": train_flops * train_ips,
        "matmul_peak_flops_per_second": peak,
        "matmul_peak_dtype": str(peak_dtype).removeprefix("torch."),
        "train_fraction_of_peak": train_flops * train_ips / peak,
        "peak_memory_bytes": peak_memory_bytes(device),
    }


def measure_isolated(spec: ThroughputSpec) -> dict:
    """`measure` in a fresh process, so peak memory and allocator state are the model's own."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(measure, (spec,))


# The benchmark's own defaults, above the recipe and below what the user gives: the input shape
# and class count are data.synthetic_shape and data.synthetic_classes (the inputs are synthetic).
DEFAULTS = {"train": {"batch_size": 128}, "hardware": {"channels_last": True}}


def bench_throughput(models: list[str] | None = None, layers: dict | None = None, steps: int = 10) -> dict:
    """Every model's figures (each in its own process), a table, JSON and a chart in one folder.
    `layers`: config values asked for (cli/options.py): train.batch_size, precision, channels_last,
    device and the synthetic data's shape and classes; models default to model.name when it is
    given, else the whole zoo."""
    from pathlib import Path

    from cifarbench.config import get_path
    from cifarbench.errors import UserError
    from cifarbench.files import atomic_write_json, new_folder
    from cifarbench.models import list_models
    from cifarbench.plots.charts import bar_chart

    layers = layers or {}
    asked_model = get_path(layers, "model.name")
    models = models or ([asked_model] if asked_model else list_models())
    unknown = sorted(set(models) - set(list_models()))
    if unknown:
        raise UserError(f"unknown model {unknown[0]!r}; known models: {', '.join(list_models())}")
    config = resolve_config(None, DEFAULTS, layers)
    t, hw, d = config.train, config.hardware, config.data
    rows = [
        measure_isolated(
            ThroughputSpec(
                model=m,
                batch_size=t.batch_size,
                precision=hw.precision,
                channels_last=hw.channels_last,
                device=hw.device,
                shape=(d.synthetic_shape[0], d.synthetic_shape[1], d.synthetic_shape[2]),
                num_classes=d.synthetic_classes,
                steps=steps,
            )
        )
        for m in models
    ]
    folder = new_folder(Path(config.runs_dir), "bench-throughput")
    result: dict[str, Any] = {"models": rows}
    atomic_write_json(result, folder / "throughput.json")
    bar_chart(
        [r["model"] for r in rows],
        [r["train_images_per_second"] for r in rows],
        f"training images/s ({rows[0]['device']}, {rows[0]['precision']}, batch {rows[0]['batch_size']})",
        "images/s",
        folder / "throughput",
        annotate="{:,.0f}",
    )
    result["folder"] = str(folder)
    return result


def throughput_table(result: dict) -> tuple[str, list[str], list[list]]:
    """Title, columns and rows of the table `cifarbench bench throughput` prints."""
    rows = [
        [
            r["model"],
            f"{r['parameters']:,}",
            r["train_images_per_second"],
            r["infer_images_per_second"],
            f"{r['train_flops_per_image'] / 1e9:.3f}",
            f"{r['train_fraction_of_peak']:.1%}",
            f"{(r['peak_memory_bytes'] or 0) / 2**20:,.0f}",
        ]
        for r in result["models"]
    ]
    first = result["models"][0]
    title = (
        f"throughput on {first['device']} ({first['precision']}, batch {first['batch_size']}, "
        f"{'channels_last' if first['channels_last'] else 'NCHW'})"
    )
    return (
        title,
        ["model", "params", "train img/s", "infer img/s", "train GFLOP/img", "of matmul peak", "peak MiB"],
        rows,
    )


def run(args, layers: dict) -> dict:
    """`cifarbench bench throughput` (bench/__init__.py registers it)."""
    return bench_throughput(args.models, layers, steps=args.steps)


def report(result: dict) -> None:
    print_table(*throughput_table(result))
    print(f"JSON and chart in {result['folder']}")
