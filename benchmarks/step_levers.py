"""The training step itself, lever by lever, on this CPU: training images/s of the trainer's own
step and the FLOP rate it reaches against the base's measured matmul peak, side by side.

    python benchmarks/step_levers.py [--models airbench94,airbench-tiny] [--variants base,nchw,...]
                                     [--batch-size 64] [--repeats 3] [--out FILE]

Issue 25 asks where the step loses its time on a CPU with AMX (airbench94 in bf16 at 30% of the
bf16 matmul peak there): shapes that fill AMX tiles (bf16 tiles take 32 channels a row: airbench-
tiny's first group has 16), batch shapes, oneDNN's own settings (bf16 math inside fp32 ops; its ISA
ceiling, to see what AMX itself adds) and inductor's max-autotune. Each setting is measured in a
fresh process (oneDNN reads its environment once), `--repeats` times in turn with the others, so
a drift of the machine falls on every setting alike; the table gives the median. A lever that
cannot act on this CPU (AMX off where there is no AMX) is listed as not applicable, not run.
Results: benchmarks/results/step-levers-<cpu class>.json (the CPU's fingerprint inside).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from cifarbench.bench.throughput import ThroughputSpec, measure
from cifarbench.devices import cpu_class, cpu_flags, resolve_precision
from cifarbench.models.registry import MODELS
from cifarbench.results import print_table, write_result

# name: what it changes against "base" (the precision auto picks, channels_last, eager). `spec`:
# ThroughputSpec fields; `env`: the child's environment (amx-off: oneDNN's ISA capped at
# AVX512-BF16); `fp32_math`: torch.backends.mkldnn's fp32_precision for convolutions and matmuls
# (bf16 math inside fp32 ops); `compile_options`: torch.compile's keywords; `tile_widths`: each of
# the net's widths rounded up to a multiple of 32; `batch_factor`: times the base's batch; `needs`:
# the CPU flag without which the lever cannot act.
VARIANTS = {
    "base": {},
    "fp32": {"spec": {"precision": "fp32"}},
    "fp32-onednn-bf16-math": {"spec": {"precision": "fp32"}, "fp32_math": "bf16", "needs": "avx512_bf16"},
    "amx-off": {"env": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, "needs": "amx_bf16"},
    "nchw": {"spec": {"channels_last": False}},
    "batch-x4": {"batch_factor": 4},
    "widths-x32": {"tile_widths": True},
    "compile": {"spec": {"compile": True}},
    "compile-max-autotune": {"spec": {"compile": True}, "compile_options": {"mode": "max-autotune"}},
}


def default_widths(model: str) -> tuple[int, ...] | None:
    """The widths a net's factory builds by default (None: a net without model.widths)."""
    parameter = inspect.signature(MODELS[model].factory).parameters.get("widths")
    return None if parameter is None else tuple(parameter.default)


def tile_widths(widths: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-w // 32) * 32 for w in widths)


def spec_for(model: str, variant: str, batch_size: int, steps: int) -> ThroughputSpec:
    lever = VARIANTS[variant]
    fields = {"model": model, "batch_size": batch_size * lever.get("batch_factor", 1), "steps": steps,
              **lever.get("spec", {})}
    widths = default_widths(model)
    if lever.get("tile_widths") and widths and tile_widths(widths) != widths:
        fields["widths"] = tile_widths(widths)
    return ThroughputSpec(**fields)


def same_as_base(variant: str, spec: ThroughputSpec, base: ThroughputSpec, auto_precision: str) -> bool:
    """Whether a variant would measure the base again here: fp32 where "auto" is fp32, tile widths
    on a net whose widths already are multiples of 32."""
    if any(key in VARIANTS[variant] for key in ("env", "fp32_math", "compile_options")):
        return False
    resolved = [replace(s, precision=auto_precision if s.precision == "auto" else s.precision) for s in (spec, base)]
    return resolved[0] == resolved[1]


def not_applicable(variant: str) -> str | None:
    """Why a variant cannot act on this CPU, or None."""
    needs = VARIANTS[variant].get("needs")
    return f"needs {needs}, which this CPU lacks" if needs and needs not in cpu_flags() else None


def measure_in_child() -> None:
    """The child: one setting, measured; its JSON is the last line of stdout."""
    from cifarbench.training.compiled import COMPILE_OPTIONS

    job = json.loads(sys.argv[2])
    if job["fp32_math"]:
        torch.backends.mkldnn.conv.fp32_precision = job["fp32_math"]
        torch.backends.mkldnn.matmul.fp32_precision = job["fp32_math"]
    COMPILE_OPTIONS.update(job["compile_options"])
    spec = ThroughputSpec(**{**job["spec"], "shape": tuple(job["spec"]["shape"]),
                             "widths": tuple(job["spec"]["widths"]) if job["spec"]["widths"] else None})
    result = measure(spec)
    result["seen"] = {"fp32_math": torch.backends.mkldnn.conv.fp32_precision,
                      "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
                      "compile_options": dict(COMPILE_OPTIONS)}
    print(json.dumps(result))


def run_child(variant: str, spec: ThroughputSpec) -> dict:
    lever = VARIANTS[variant]
    job = {"spec": asdict(spec), "fp32_math": lever.get("fp32_math"), "compile_options": lever.get("compile_options",
                                                                                                    {})}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                          env={**os.environ, **lever.get("env", {})})
    if done.returncode != 0:
        raise SystemExit(f"{variant} on {spec.model} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict], base_peak: float) -> dict:
    ips = [r["train_images_per_second"] for r in runs]
    flops = [r["train_flops_per_second"] for r in runs]
    return {"train_images_per_second": statistics.median(ips), "train_images_per_second_all": ips,
            "train_flops_per_image": runs[0]["train_flops_per_image"],
            "train_flops_per_second": statistics.median(flops),
            "fraction_of_base_peak": statistics.median(flops) / base_peak,
            "precision": runs[0]["precision"], "batch_size": runs[0]["batch_size"], "widths": runs[0]["widths"],
            "warmup_seconds": statistics.median(r["train_warmup_seconds"] for r in runs), "seen": runs[0]["seen"]}


def table(data: dict) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the levers' table, from the result JSON (the README renders it too)."""
    rows = []
    for model, result in data["models"].items():
        base_ips = result["variants"]["base"]["train_images_per_second"]
        for variant, s in result["variants"].items():
            if "not_applicable" in s:
                rows.append([model, variant, "–", "–", "–", "–", s["not_applicable"]])
                continue
            widths = f", widths {'/'.join(map(str, s['widths']))}" if s["widths"] else ""
            rows.append([model, variant, f"{s['precision']}, batch {s['batch_size']}{widths}",
                         f"{s['train_images_per_second']:,.0f}", f"{s['train_images_per_second'] / base_ips:.2f}x",
                         f"{s['fraction_of_base_peak']:.1%}", f"{s['warmup_seconds']:.1f}"])
    return ["model", "lever", "runs as", "train img/s", "vs base", "of base's matmul peak", "warm-up s"], rows


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        measure_in_child()
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="airbench94,airbench-tiny")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    p.add_argument("--batch-size", type=int, default=64, help="the base's batch (the issue's figure is at 64)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per measurement, after 3 warm-up steps")
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per setting, taken in turn")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / f"step-levers-{cpu_class()}.json"))
    args = p.parse_args()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or "base" not in variants:
        p.error(f"--variants {args.variants!r}: must include base; known: {', '.join(VARIANTS)}")
    auto = resolve_precision("auto", torch.device("cpu")).name
    results = {}
    for model in args.models.split(","):
        specs = {v: spec_for(model, v, args.batch_size, args.steps) for v in variants}
        skipped = {v: not_applicable(v) or ("the same as base here" if v != "base" and same_as_base(
            v, specs[v], specs["base"], auto) else None) for v in variants}
        runs = {v: [] for v in variants if not skipped[v]}
        for repeat in range(args.repeats):
            for variant in runs:
                runs[variant].append(run_child(variant, specs[variant]))
                print(f"{model} / {variant}, repeat {repeat + 1}: "
                      f"{runs[variant][-1]['train_images_per_second']:,.0f} images/s", flush=True)
        base_peak = statistics.median(r["matmul_peak_flops_per_second"] for r in runs["base"])
        results[model] = {"base_matmul_peak_flops_per_second": base_peak,
                          "base_matmul_peak_dtype": runs["base"][0]["matmul_peak_dtype"], "variants": {}}
        for variant in variants:
            results[model]["variants"][variant] = ({"not_applicable": skipped[variant]} if skipped[variant] else
                                                   summary(runs[variant], base_peak))
    data = {"settings": vars(args), "models": results}
    print_table(f"the training step on this {cpu_class()} CPU, median of {args.repeats} fresh processes", *table(data))
    write_result(args.out, "step-levers", data)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
