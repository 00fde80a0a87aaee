"""The pictures of one run, made from its directory alone (history.json, metrics.json,
run_log.json): `cifarbench plot RUN_DIR`, and automatically at the end of every run."""

from __future__ import annotations

from pathlib import Path

from cifarbench.errors import UserError
from cifarbench.eval.metrics import most_confused_pairs
from cifarbench.plots import charts
from cifarbench.runs import RunDir


def plot_run(run: RunDir) -> list[Path]:
    """Into the run directory itself."""
    if not run.file(RunDir.RUN_LOG).is_file():
        raise UserError(f"{run.path} has no {RunDir.RUN_LOG}: nothing to plot yet")
    history = run.read_json(RunDir.HISTORY) if run.file(RunDir.HISTORY).is_file() else None
    metrics = run.read_json(RunDir.METRICS) if run.file(RunDir.METRICS).is_file() else None
    log = run.read_json(RunDir.RUN_LOG)
    try:
        return draw_run(log, history, metrics, run.path)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise UserError(
            f"{run.path}: its {RunDir.RUN_LOG}, {RunDir.HISTORY} or {RunDir.METRICS} do not hold what a "
            f"cifarbench run writes ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None


def draw_run(
    log: dict,
    history: list[dict] | None,
    metrics: dict | None,
    folder: Path,
    prefix: str = "",
    formats: tuple[str, ...] = ("png", "svg"),
) -> list[Path]:
    """Curves, per-class bars and both confusion matrices of one run, as `folder/<prefix><chart>.<format>`."""
    label = f"{log.get('model', '?')} on {log.get('dataset', '?')}"
    made: list[Path] = []
    with charts.figure_formats(formats):
        if history:
            made += charts.training_curves(
                history, folder / f"{prefix}curves", f"{label} (validation: {log.get('validation_split', 'test')})"
            )
        if metrics:
            per_class = {name: m["accuracy"] for name, m in metrics["per_class"].items()}
            made += charts.per_class_accuracy(
                per_class, folder / f"{prefix}per_class_accuracy", f"{label}: test accuracy per class"
            )
            confused = most_confused_pairs(metrics["confusion_matrix"], metrics["classes"])
            for normalized in (False, True):
                key = "confusion_matrix_normalized" if normalized else "confusion_matrix"
                name = "confusion_normalized" if normalized else "confusion"
                made += charts.confusion_heatmap(
                    metrics[key],
                    metrics["classes"],
                    folder / f"{prefix}{name}",
                    f"{label}: confusion matrix" + (" (row-normalised)" if normalized else ""),
                    normalized,
                    confused,
                )
    return made
