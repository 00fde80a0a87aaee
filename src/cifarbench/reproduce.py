"""The reproducibility check: the same config trained twice, compared point by point.

Same seed, same device, same software should give the same losses bit for bit (the loader
draws every random choice from (seed, epoch), and the RNG states are set once per run). On
another device or library version, floating-point reductions run in another order and are
not associative, so the last bits differ and the difference grows with training: compare
such runs by their accuracy statistics (`--runs N`), not bit for bit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from cifarbench.api import train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.config import RunConfig
from cifarbench.files import atomic_write_json, atomic_write_text, new_folder
from cifarbench.tables import markdown_table


def reproduce(config: RunConfig, quiet: bool = False) -> dict:
    folder = new_folder(Path(config.runs_dir), f"reproduce-{config.recipe}-seed{config.train.seed}")
    runs = [train(dataclasses.replace(config, runs_dir=str(folder), name=f"run{i}"), quiet=quiet) for i in (1, 2)]
    rows = []
    for a, b in zip(runs[0].history, runs[1].history):
        for key in ("train_loss", "val_loss"):
            if key in a:
                rows.append(
                    {
                        "epoch": a["epoch"],
                        "step": a["step"],
                        "measure": key,
                        "run1": a[key],
                        "run2": b[key],
                        "match": a[key] == b[key],
                    }
                )
    acc = [r.metrics["accuracy"] for r in runs]
    rows.append(
        {
            "epoch": runs[0].history[-1]["epoch"],
            "step": runs[0].history[-1]["step"],
            "measure": "test_accuracy",
            "run1": acc[0],
            "run2": acc[1],
            "match": acc[0] == acc[1],
        }
    )
    w1, w2 = (load_checkpoint(r.run.path)["model"] for r in runs)
    max_diff = max_weight_difference(w1, w2)
    rows.append(
        {
            "epoch": runs[0].history[-1]["epoch"],
            "step": runs[0].history[-1]["step"],
            "measure": "final weights (largest |difference|)",
            "run1": 0.0,
            "run2": max_diff,
            "match": max_diff == 0.0,
        }
    )
    result = {
        "recipe": config.recipe,
        "seed": config.train.seed,
        "device": runs[0].run_log["device"],
        "rows": rows,
        "all_match": all(r["match"] for r in rows),
        "max_abs_weight_difference": max_diff,
        "runs": [r.run.path.name for r in runs],
    }
    atomic_write_json(result, folder / "reproduce.json")
    atomic_write_text(reproduce_markdown(result), folder / "reproduce.md")
    result["folder"] = str(folder)
    return result


def max_weight_difference(w1: dict, w2: dict) -> float:
    """The largest absolute difference between two state dicts (inf where their keys, shapes or
    integer buffers differ): 0.0 only for weights identical bit for bit."""
    if w1.keys() != w2.keys() or any(w1[k].shape != w2[k].shape for k in w1):
        return float("inf")
    if any(not w1[k].is_floating_point() and not torch.equal(w1[k], w2[k]) for k in w1):
        return float("inf")
    return max(
        (
            float((w1[k].double() - w2[k].double()).abs().max())
            for k in w1
            if w1[k].is_floating_point() and w1[k].numel()
        ),
        default=0.0,
    )


def reproduce_markdown(r: dict) -> str:
    rows = [
        [
            row["epoch"],
            row["step"],
            row["measure"],
            repr(row["run1"]),
            repr(row["run2"]),
            "yes" if row["match"] else "NO",
        ]
        for row in r["rows"]
    ]
    lines = [
        f"# Reproducibility: {r['recipe']}, seed {r['seed']}, {r['device']}",
        "",
        markdown_table(["epoch", "step", "measure", "run 1", "run 2", "match"], rows, align="rrlrrl").rstrip(),
    ]
    verdict = "bit for bit identical" if r["all_match"] else "NOT identical"
    lines += [
        "",
        f"Largest absolute difference between the final weights: {r['max_abs_weight_difference']:.3g} ({verdict}).",
        "",
        "Runs on different devices or library versions differ in their last bits: floating-point "
        "reductions are not associative, and kernels sum in different orders. Compare those by "
        "accuracy over seeds (`cifarbench train --runs N`).",
        "",
    ]
    return "\n".join(lines)
