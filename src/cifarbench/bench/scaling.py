"""`cifarbench bench scaling --nproc 1,2,...`: the same recipe at each world size.

Each world size is a fresh `torchrun --standalone --nproc_per_node=N -m cifarbench train` on
this node (so each point pays its own start-up, and nothing is shared between points); the
global batch stays the same, so every point trains the same number of steps on the same
images. Reported per N: training time (median over repeats), time per epoch, images/s,
speedup = time(first N) / time(N), efficiency = speedup / (N / first N), and test accuracy.

On a CPU node the processes share its cores (each gets cores / N threads), so scaling there
measures how well data parallelism uses the same cores, not added hardware.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from cifarbench.bench.devices import SYNTHETIC_DEFAULT
from cifarbench.errors import UserError
from cifarbench.files import atomic_write_text, new_folder
from cifarbench.resolve import resolve_config
from cifarbench.results import publish, summarise, table_report
from cifarbench.tables import percent


def parse_nproc(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        counts = []
    if not counts or any(n < 1 for n in counts):
        raise UserError(f"--nproc {text!r} must be a comma-separated list of positive process counts, e.g. 1,2,4")
    return counts


def run_world(config_path: Path, nproc: int, runs_dir: Path, timeout: float) -> dict:
    """One torchrun launch; the run_log.json of the run it wrote."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "cifarbench",
        "train",
        "--config",
        str(config_path),
        "--quiet",
        "--runs-dir",
        str(runs_dir),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        raise UserError(f"training with {nproc} processes failed (exit {done.returncode}): {tail}")
    logs = sorted(runs_dir.glob("*/run_log.json"))
    return json.loads(logs[-1].read_text(encoding="utf-8"))


# The benchmark's own defaults, above the recipe and below what the user gives.
DEFAULTS = {
    "recipe": "lenet-small-onecycle",
    "data": SYNTHETIC_DEFAULT,
    "train": {"epochs": 1.0},
    "output": {"plots": False},
}


def bench_scaling(nprocs: list[int], layers: dict | None = None, repeats: int = 1, timeout: float = 3600.0) -> dict:
    """`layers`: config values asked for (cli/options.py), over DEFAULTS."""
    config = resolve_config(None, DEFAULTS, layers or {})
    folder = new_folder(Path(config.runs_dir), "bench-scaling")
    for n in nprocs:  # fail before any training if a world size cannot split the global batch
        if config.train.batch_size % n:
            raise UserError(
                f"the global batch {config.train.batch_size} cannot be split over {n} processes; "
                "choose process counts that divide it (or another --recipe)"
            )
    config_path = folder / "config.yaml"
    atomic_write_text(yaml.safe_dump(config.to_dict()), config_path)
    rows = []
    for n in nprocs:
        logs = [run_world(config_path, n, folder / f"nproc-{n}", timeout) for _ in range(repeats)]
        seconds = summarise([log["train_seconds"] for log in logs])
        images = logs[0]["train_images"] * config.train.epochs
        rows.append(
            {
                "nproc": n,
                "device": logs[0].get("device", "?"),
                "world_size": logs[0].get("world_size", 1),
                "threads_per_process": logs[0]["threads"],
                "train_seconds": seconds,
                "epoch_seconds": seconds["median"] / max(1, logs[0]["epochs_completed"]),
                "images_per_second": images / seconds["median"],
                "test_accuracy": summarise([log["test_accuracy"] for log in logs]),
                "runs": [Path(p).name for p in sorted((folder / f"nproc-{n}").iterdir())],
            }
        )
    base = rows[0]
    for r in rows:
        r["speedup"] = base["train_seconds"]["median"] / r["train_seconds"]["median"]
        r["efficiency"] = r["speedup"] / (r["nproc"] / base["nproc"])
    result = {
        "recipe": config.recipe,
        "model": config.model.name,
        "dataset": config.data.dataset,
        "epochs": config.train.epochs,
        "global_batch": config.train.batch_size,
        "repeats": repeats,
        "seed": config.train.seed,
        "device": rows[0]["device"],
        "scaling": rows,
    }
    return publish(
        folder,
        "scaling",
        result,
        scaling_report(result),
        dict(
            labels=[f"{r['nproc']} proc" for r in rows],
            values=[r["speedup"] for r in rows],
            title=f"{result['model']} on {result['dataset']}: speedup over {base['nproc']} process(es)",
            ylabel="speedup",
            file="scaling",
            annotate="{:.2f}x",
        ),
    )


def scaling_report(result: dict) -> str:
    rows = [
        [
            r["nproc"],
            r["threads_per_process"],
            f"{r['train_seconds']['median']:.2f}",
            f"{r['epoch_seconds']:.2f}",
            f"{r['images_per_second']:,.0f}",
            f"{r['speedup']:.2f}x",
            f"{r['efficiency']:.0%}",
            percent(r["test_accuracy"]["mean"]),
        ]
        for r in result["scaling"]
    ]
    return table_report(
        f"{result['model']} ({result['recipe']}) on {result['dataset']}, {result['epochs']:g} epoch(s), "
        f"global batch {result['global_batch']}, {result['device']}, {result['repeats']} run(s) per "
        "world size",
        ["processes", "threads", "median s", "s/epoch", "img/s", "speedup", "efficiency", "accuracy"],
        rows,
        align="rrrrrrrr",
    )


def run(args, layers: dict) -> dict:
    """`cifarbench bench scaling` (bench/__init__.py registers it)."""
    return bench_scaling(parse_nproc(args.nproc), layers, repeats=args.repeats)
