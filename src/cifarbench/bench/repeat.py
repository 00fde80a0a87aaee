"""N seeded runs of one config, and their statistics (as the airbench paper reports: mean,
standard deviation and a 95% confidence interval over n runs).

    runs/<time>-<dataset>-<model>-x<N>-<id>/
        summary.json  summary.md
        <time>-seed0-<id>/ ...   one complete run directory per seed
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cifarbench.api import RunResult, train
from cifarbench.bench.results import summarise
from cifarbench.config import RunConfig
from cifarbench.files import atomic_write_json, atomic_write_text, new_folder
from cifarbench.tables import markdown_table, percent


@dataclass
class RepeatResult:
    folder: Path
    runs: list[RunResult]
    summary: dict


def timed_seconds(result: RunResult) -> float:
    """Time as airbench counts it: data-dependent init + training + the final (TTA) evaluation."""
    return result.run_log["train_seconds"] + result.run_log["final_eval_seconds"]


def train_repeated(config: RunConfig, runs: int, *, quiet: bool = False, argv=None) -> RepeatResult:
    folder = new_folder(Path(config.runs_dir), f"{config.data.dataset}-{config.model.name}-x{runs}")
    results = []
    for i in range(runs):
        seed = config.train.seed + i
        seeded = dataclasses.replace(config, runs_dir=str(folder), name=f"seed{seed}",
                                     train=dataclasses.replace(config.train, seed=seed))
        results.append(train(seeded, quiet=quiet, argv=argv))
    summary = {
        "recipe": config.recipe, "dataset": config.data.dataset, "model": config.model.name, "runs": runs,
        "seeds": [r.run_log["seed"] for r in results],
        "device": results[0].run_log["device"], "precision": results[0].run_log["precision"],
        "test_accuracy": summarise([r.metrics["accuracy"] for r in results]),
        "train_seconds": summarise([r.run_log["train_seconds"] for r in results]),
        "timed_seconds": summarise([timed_seconds(r) for r in results]),
        "run_dirs": [r.run.path.name for r in results],
    }
    atomic_write_json(summary, folder / "summary.json")
    atomic_write_text(summary_markdown(summary), folder / "summary.md")
    return RepeatResult(folder, results, summary)


def summary_markdown(s: dict) -> str:
    acc, t = s["test_accuracy"], s["timed_seconds"]
    rows = [["test accuracy", *(percent(acc[k]) for k in ("mean", "std")),
             f"[{acc['ci95'][0]:.2%}, {acc['ci95'][1]:.2%}]", percent(acc["min"]), percent(acc["max"])],
            ["time, s (init + training + final eval)", *(f"{t[k]:.2f}" for k in ("mean", "std")),
             f"[{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}]", f"{t['min']:.2f}", f"{t['max']:.2f}"]]
    return "\n".join([
        f"# {s['recipe']}: {s['model']} on {s['dataset']}, {s['runs']} seeded runs ({s['device']}, {s['precision']})",
        "",
        markdown_table(["measure", "mean", "std", "95% CI of the mean", "min", "max"], rows, align="lrrlrr"),
        f"Seeds: {', '.join(map(str, s['seeds']))}.",
        "",
    ])
