"""Where a training step's time goes, and how close it runs to the machine's peak, for each net the
planner's frontier holds, on the CPU at hand.

For each net, a real `cifarbench` run of its frontier recipe on Fashion-MNIST (the planner's
dataset) is profiled by a callback: after a warm-up, `torch.profiler` records a window of steps and
their ops' self time is put in classes (convolution, normalisation, activation, pooling, the
optimizer's update, copies and layout, the loss, the rest); then the same number of steps is
timed with the profiler off. The step's FLOPs (forward and backward, counted by torch's
FlopCounterMode on the same batch shape) over its measured seconds is its rate, set against the
measured matmul peak of the run's precision (`bench throughput`'s ceiling). The floor is what the
net's whole schedule to a target would take at that peak: FLOPs per training image times the
images the frontier says the target takes, over the peak, with no fixed cost at all. Last, the
same steps run once more under ONEDNN_VERBOSE=1 (in a child process) to list which oneDNN
kernels the convolutions ran.

    python benchmarks/step_profile.py [--steps 20] [--target 0.93] [--nets airbench-tiny,airbench-small]

Results: benchmarks/results/step-profile-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from cifarbench.api import train
from cifarbench.bench.throughput import flops_per_image, reference_peak
from cifarbench.contract.callbacks import Callback
from cifarbench.devices import cpu_class
from cifarbench.models.configured import build_configured_model
from cifarbench.planner.frontier import frontier_path
from cifarbench.planner.plan import interpolate
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, write_result

# op name fragments -> class, first match wins (aten names, forward and backward)
CLASSES = (
    ("convolution", ("conv",)),
    ("normalisation", ("batch_norm", "layer_norm", "group_norm")),
    ("activation", ("gelu", "relu", "silu", "threshold", "sigmoid", "tanh")),
    ("pooling", ("pool",)),
    ("matmul", ("addmm", "::mm", "bmm", "linear")),
    ("optimizer", ("Optimizer.", "_foreach", "lerp", "addcmul", "addcdiv")),
    ("zeroing", ("fill_", "zero_")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss", "_softmax")),
    ("copies and layout", ("copy", "_to_copy", "contiguous", "clone", "permute", "flip", "cat", "pad", "empty")),
)


def class_of(op: str) -> str:
    for name, fragments in CLASSES:
        if any(f in op for f in fragments):
            return name
    return "other"


class ProfileSteps(Callback):
    """After `warmup` steps, profile `steps` steps; then time `steps` more with the profiler off."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps, self.seen = warmup, steps, 0
        self.profiler: profile | None = None
        self.ops: dict[str, float] = {}
        self.step_seconds: float | None = None
        self._timing_from = None

    def on_batch_end(self, trainer, batch_index):
        self.seen += 1
        if self.seen == self.warmup:
            self.profiler = profile(activities=[ProfilerActivity.CPU])
            self.profiler.__enter__()
        elif self.seen == self.warmup + self.steps and self.profiler is not None:
            self.profiler.__exit__(None, None, None)
            self.ops = {e.key: e.self_cpu_time_total / 1e6 for e in self.profiler.key_averages()}
            self._timing_from = time.perf_counter()
        elif self.seen == self.warmup + 2 * self.steps:
            self.step_seconds = (time.perf_counter() - self._timing_from) / self.steps
            trainer.should_stop = True


def net_config(model: str, recipe: str, steps: int, runs_dir: str):
    """The frontier recipe on its net, on enough of Fashion-MNIST for the profiled and timed steps."""
    probe = resolve_config(recipe, {"model": {"name": model}, "data": {"dataset": "fashion-mnist"}})
    images = probe.train.batch_size * (3 * steps + 8)
    return resolve_config(recipe, {"model": {"name": model}, "data": {"dataset": "fashion-mnist",
                                                                     "train_subset": images, "test_subset": 256},
                                   "train": {"epochs": 1, "eval_every": 0}, "output": {"plots": False,
                                                                                       "loggers": []},
                                   "runs_dir": runs_dir})


def flops_per_training_image(config) -> float:
    """Forward and backward FLOPs per image of the run's own net (its options), at Fashion-MNIST's shape."""
    model = build_configured_model(config.model, (1, 28, 28), 10)
    return flops_per_image(model.train(), torch.randn(config.train.batch_size, 1, 28, 28), train=True)


def images_to(target: float, model: str) -> float | None:
    """Training images the frontier's test points say `model` needs to reach `target` (None: it does not)."""
    points = [p for p in json.loads(frontier_path("fashion-mnist").read_text())["points"]
              if p["model"] == model and p.get("test")]
    curve = sorted((p["epochs"], p["test"]) for p in points)
    if not curve or curve[-1][1]["mean"] < target:
        return None
    low, high = curve[0][0], curve[-1][0]
    for _ in range(60):  # accuracy grows with epochs along the frontier: bisect in log(epochs)
        mid = math.sqrt(low * high)
        low, high = (mid, high) if interpolate(curve, mid)[0] < target else (low, mid)
    return high * (points[0].get("test_train_images") or 60_000)


def onednn_kernels(model: str, recipe: str, steps: int) -> dict[str, int]:
    """{primitive: implementation -> executions} over a few steps, from ONEDNN_VERBOSE in a child."""
    here = str(Path(__file__).parent)
    code = (f"import sys, tempfile; from cifarbench.api import train; sys.path.insert(0, {here!r}); "
            "import step_profile as s; d = tempfile.mkdtemp(); "
            f"train(s.net_config({model!r}, {recipe!r}, {steps}, d), quiet=True, callbacks=[s.StopAfter({steps})])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "ONEDNN_VERBOSE": "1"})
    counts: collections.Counter[str] = collections.Counter()
    for line in done.stdout.splitlines():
        fields = line.split(",")
        if len(fields) > 6 and fields[0].startswith("onednn_verbose") and "exec" in fields:
            at = fields.index("exec")
            counts[f"{fields[at + 2]}: {fields[at + 3]}"] += 1  # primitive, implementation
    return dict(counts.most_common())


class StopAfter(Callback):
    def __init__(self, steps: int):
        self.steps = steps

    def on_batch_end(self, trainer, batch_index):
        if batch_index + 1 >= self.steps:
            trainer.should_stop = True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--target", type=float, default=0.93)
    p.add_argument("--nets", default="airbench-tiny,airbench-small")
    p.add_argument("--recipe", default="fashion-tiny-8ep")
    p.add_argument("--out", type=Path,
                   default=Path(__file__).parent / "results" / f"step-profile-{cpu_class()}.json")
    args = p.parse_args()
    nets = {}
    for model in args.nets.split(","):
        with tempfile.TemporaryDirectory() as runs:
            config = net_config(model, args.recipe, args.steps, runs)
            probe = ProfileSteps(warmup=5, steps=args.steps)
            result = train(config, quiet=True, callbacks=[probe])
        precision = result.run_log["precision"]
        dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float32
        peak, peak_dtype = reference_peak(torch.device("cpu"), dtype)
        per_image = flops_per_training_image(config)
        rate = per_image * config.train.batch_size / probe.step_seconds
        shares = collections.Counter()
        for op, seconds in probe.ops.items():
            shares[class_of(op)] += seconds
        total = sum(shares.values())
        images = images_to(args.target, model)
        nets[model] = {
            "recipe": args.recipe, "precision": precision, "batch_size": config.train.batch_size,
            "step_seconds": probe.step_seconds, "flops_per_training_image": per_image, "flops_per_second": rate,
            "peak_flops_per_second": peak, "peak_dtype": str(peak_dtype).removeprefix("torch."),
            "share_of_peak": rate / peak,
            "op_seconds_by_class": {k: v / total for k, v in shares.most_common()},
            "top_ops": dict(sorted(probe.ops.items(), key=lambda kv: -kv[1])[:15]),
            "target": args.target, "images_to_target": images,
            "floor_seconds": None if images is None else per_image * images / peak,
            "measured_step_seconds_to_target": None if images is None
            else probe.step_seconds * images / config.train.batch_size,
            "onednn_kernels": onednn_kernels(model, args.recipe, 3),
        }
    rows = [[m, n["precision"], f"{n['step_seconds'] * 1e3:.1f}", f"{n['flops_per_second'] / 1e9:.0f}",
             f"{n['peak_flops_per_second'] / 1e9:.0f} ({n['peak_dtype']})", f"{n['share_of_peak']:.0%}",
             "-" if n["floor_seconds"] is None else f"{n['floor_seconds']:.1f}",
             "-" if n["measured_step_seconds_to_target"] is None else f"{n['measured_step_seconds_to_target']:.1f}"]
            for m, n in nets.items()]
    print_table(f"one training step, {args.recipe} on Fashion-MNIST", ["net", "precision", "ms/step", "GFLOP/s",
                "peak GFLOP/s", "of peak", f"floor to {args.target:.0%} s", f"steps to {args.target:.0%} s"], rows)
    classes = sorted({c for n in nets.values() for c in n["op_seconds_by_class"]})
    print_table("share of the step's op time", ["class", *nets],
                [[c, *(f"{n['op_seconds_by_class'].get(c, 0):.0%}" for n in nets.values())] for c in classes])
    write_result(args.out, "step_profile", {"steps": args.steps, "nets": nets})
    print(f"JSON in {args.out}")


if __name__ == "__main__":
    main()
