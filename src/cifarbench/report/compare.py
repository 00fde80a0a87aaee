"""`cifarbench compare RUN_DIR...`: runs side by side, in Markdown a person can paste.

Sections: results; the configuration values that differ; per-class accuracy with a delta
column per run against the first; the hardware-fingerprint fields that differ (a different
CPU, library version or device explains a different time, or a last-digit difference).
"""

from __future__ import annotations

from cifarbench.errors import UserError
from cifarbench.fingerprint import fingerprint_fields
from cifarbench.plots.charts import shown_classes
from cifarbench.report.collect import RunRecord, flatten, read_run
from cifarbench.tables import markdown_table, percent


def compare(paths: list[str]) -> str:
    if len(paths) < 2:
        raise UserError(f"compare needs at least two run directories, got {len(paths)}")
    runs = [read_run(p) for p in paths]
    for r in runs:  # a folder named on the command line must be readable, whole
        if r.problems:
            raise UserError(f"{r.path}: {r.problems[0]}")
    labels = [f"#{i + 1}" for i in range(len(runs))]
    parts = [
        "# Run comparison",
        "",
        markdown_table(["run", "folder", "status"], [[lab, r.name, r.status] for lab, r in zip(labels, runs)]),
    ]
    parts += ["## Results", "", results_table(runs, labels)]
    parts += ["## Configuration differences", "", config_differences(runs, labels)]
    parts += ["## Per-class test accuracy", "", per_class_table(runs, labels)]
    parts += ["## Fingerprint differences", "", fingerprint_differences(runs, labels)]
    return "\n".join(parts)


def results_table(runs: list[RunRecord], labels: list[str]) -> str:
    rows = []
    for lab, r in zip(labels, runs):
        log = r.run_log
        seconds = log.get("train_seconds")
        rows.append(
            [
                lab,
                r.model,
                r.dataset,
                f"{log.get('parameters', 0):,}",
                log.get("epochs_completed"),
                percent(r.best_val_accuracy),
                percent(r.test_accuracy),
                f"{r.metrics['loss']:.4f}" if r.metrics else "–",
                f"{seconds:.1f}" if seconds is not None else "–",
            ]
        )
    return markdown_table(
        ["run", "model", "dataset", "parameters", "epochs", "best val", "test accuracy", "test loss", "train s"], rows
    )


def config_differences(runs: list[RunRecord], labels: list[str]) -> str:
    flat = [flatten(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f})
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
    if not differing:
        return "The configurations are identical.\n"
    return markdown_table(["field", *labels], [[k, *(f.get(k, "–") for f in flat)] for k in differing])


def per_class_table(runs: list[RunRecord], labels: list[str]) -> str:
    first = runs[0].per_class
    if not first:
        return "The first run has no test metrics yet.\n"
    if any(r.per_class and set(r.per_class) != set(first) for r in runs[1:]):
        return "The runs classify different sets of classes; per-class accuracy is not comparable.\n"
    shown = shown_classes(first)  # CIFAR-100: the 10 worst and 10 best classes of the first run
    note = (
        ""
        if len(shown) == len(first)
        else (f"The {len(shown) // 2} worst and {len(shown) // 2} best of {len(first)} classes in run #1.\n\n")
    )
    columns = ["class", labels[0]]
    for lab in labels[1:]:
        columns += [lab, f"Δ {lab}"]
    rows = []
    for name, base in shown:
        row = [name, percent(base)]
        for r in runs[1:]:
            value = r.per_class.get(name)
            row += [percent(value), "–" if value is None else f"{100 * (value - base):+.2f} pp"]
        rows.append(row)
    return note + markdown_table(columns, rows)


def fingerprint_differences(runs: list[RunRecord], labels: list[str]) -> str:
    rows = []
    for key in fingerprint_fields():  # the fields fingerprint.py writes, whatever they become
        values = [r.run_log.get(key) for r in runs]
        if len({repr(v) for v in values}) > 1:
            rows.append([key, *values])
    if not rows:
        return "Same machine and software (every fingerprint field is equal).\n"
    return markdown_table(["field", *labels], rows)
