"""The pictures of one run, made from its directory alone (history.json, metrics.json,
run_log.json): `cifarbench plot RUN_DIR`, and automatically at the end of every run."""

from __future__ import annotations

from pathlib import Path

from cifarbench.report import plots
from cifarbench.runs import RunDir


def plot_run(run: RunDir) -> list[Path]:
    log = run.read_json(RunDir.RUN_LOG)
    label = f"{log.get('model', '?')} on {log.get('dataset', '?')}"
    made: list[Path] = []
    if run.file(RunDir.HISTORY).is_file():
        made += plots.training_curves(run.read_json(RunDir.HISTORY), run.file("curves"),
                                      f"{label} (validation: {log.get('validation_split', 'test')})")
    if run.file(RunDir.METRICS).is_file():
        metrics = run.read_json(RunDir.METRICS)
        per_class = {name: m["accuracy"] for name, m in metrics["per_class"].items()}
        made += plots.per_class_accuracy(per_class, run.file("per_class_accuracy"),
                                         f"{label}: test accuracy per class")
        for normalized in (False, True):
            key = "confusion_matrix_normalized" if normalized else "confusion_matrix"
            made += plots.confusion_heatmap(metrics[key], metrics["classes"],
                                            run.file("confusion_normalized" if normalized else "confusion"),
                                            f"{label}: confusion matrix" + (" (row-normalised)" if normalized else ""),
                                            normalized)
    return made
