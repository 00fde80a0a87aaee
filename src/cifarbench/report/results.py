"""`cifarbench report RUNS_DIR -o OUT`: every run under a folder, summarised for a paper.

    OUT/RESULTS.md    the tables in Markdown, with the charts linked from images/
    OUT/index.html    one static page: the same tables, the charts embedded (no other file needed)
    OUT/images/*.png  the charts

Sections: models (parameters, best and mean accuracy), runs, accuracy targets (met or not,
read from a targets YAML), per-class accuracy (top and bottom 10 past 20 classes), progression
by epochs, the accuracy-versus-time frontier, device benchmarks found in the folder, and each
completed run's curves, per-class bars and confusion matrix with its most-confused pairs.

Both files are built from the same section objects, so they always say the same thing; both
are written atomically, and runs still training are read safely (collect.py).
"""

from __future__ import annotations

import base64
import html
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from cifarbench.config import read_yaml
from cifarbench.errors import ConfigError, UserError
from cifarbench.eval.metrics import most_confused_pairs
from cifarbench.files import atomic_write_text, utc_now
from cifarbench.plots import charts as plots
from cifarbench.plots.run import draw_run
from cifarbench.report.collect import RunRecord, find_runs
from cifarbench.runs import RunDir
from cifarbench.tables import markdown_table, percent

MAX_EPOCH_COLUMNS = 10
MAX_RUN_COLUMNS = 8


@dataclass
class Table:
    columns: list[str]
    rows: list[list]


@dataclass
class Section:
    id: str
    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, Path]] = field(default_factory=list)  # (caption, PNG path)


# ---------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    name: str
    dataset: str
    accuracy: float
    model: str | None = None
    seconds: float | None = None


def load_targets(path: str | Path) -> list[Target]:
    """targets: [{name?, dataset, model?, accuracy (0-1), seconds?}, ...]"""
    data = read_yaml(path, "targets file") or {}
    entries = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"targets file {path} must hold `targets:` with a list of entries")
    targets = []
    for i, entry in enumerate(entries):
        where = f"targets file {path}, entry {i + 1}"
        if not isinstance(entry, dict) or "dataset" not in entry or "accuracy" not in entry:
            raise ConfigError(f"{where} needs at least `dataset` and `accuracy`")
        unknown = set(entry) - {"name", "dataset", "model", "accuracy", "seconds"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]!r}; keys: name, dataset, model, accuracy, seconds"
            )
        accuracy, seconds = entry["accuracy"], entry.get("seconds")
        if not isinstance(accuracy, (int, float)) or not 0 < accuracy <= 1:
            raise ConfigError(f"{where}: accuracy {accuracy!r} must be a fraction in (0, 1], e.g. 0.94")
        if seconds is not None and (not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ConfigError(f"{where}: seconds {seconds!r} must be a positive number")
        name = entry.get("name") or f"{entry['dataset']} {accuracy:.0%}" + (f" in {seconds:g} s" if seconds else "")
        targets.append(Target(str(name), str(entry["dataset"]), float(accuracy), entry.get("model"), seconds))
    return targets


def _test_accuracy(run: RunRecord) -> float:
    """The test accuracy of a run known to have completed (test_accuracy is not None)."""
    accuracy = run.test_accuracy
    assert accuracy is not None, f"{run.path} has no test accuracy"
    return accuracy


def judge(target: Target, runs: list[RunRecord]) -> tuple[RunRecord | None, bool]:
    """The run that meets the target soonest (or the most accurate candidate), and whether it is met."""
    candidates = [
        r
        for r in runs
        if r.test_accuracy is not None
        and r.dataset == target.dataset
        and (target.model is None or r.model == target.model)
    ]
    meeting = [
        r
        for r in candidates
        if _test_accuracy(r) >= target.accuracy
        and (target.seconds is None or r.run_log.get("train_seconds", float("inf")) <= target.seconds)
    ]
    if meeting:
        return min(meeting, key=lambda r: r.run_log.get("train_seconds", float("inf"))), True
    return (max(candidates, key=_test_accuracy) if candidates else None), False


# ---------------------------------------------------------------- sections


def build_sections(
    runs: list[RunRecord], images: Path, targets: list[Target], bench_files: list[tuple[Path, dict]]
) -> list[Section]:
    done = [r for r in runs if r.test_accuracy is not None]
    sections = [models_section(done, images), runs_section(runs)]
    if targets:
        sections.append(targets_section(targets, done))
    sections += [per_class_section(done), progression_section(runs), frontier_section(done, images)]
    if bench_files:
        sections.append(bench_section(bench_files, images))
    return sections + run_sections(done, images)


def models_section(done: list[RunRecord], images: Path) -> Section:
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in done:
        groups.setdefault((r.dataset, r.model), []).append(r)
    rows = []
    for (dataset, model), rs in sorted(groups.items()):
        accs = [_test_accuracy(r) for r in rs]
        secs = [r.run_log["train_seconds"] for r in rs if "train_seconds" in r.run_log]
        rows.append(
            [
                dataset,
                model,
                f"{rs[0].run_log.get('parameters', 0):,}",
                len(rs),
                percent(max(accs)),
                percent(statistics.mean(accs)),
                f"{statistics.mean(secs):.1f}" if secs else "–",
            ]
        )
    section = Section(
        "models",
        "Models",
        "Completed runs grouped by dataset and model; accuracy on the test split.",
        [
            Table(
                ["dataset", "model", "parameters", "runs", "best test accuracy", "mean test accuracy", "mean train s"],
                rows,
            )
        ],
    )
    if groups:
        labels = [f"{model}\n{dataset}" for dataset, model in sorted(groups)]
        best = [max(_test_accuracy(r) for r in groups[key]) for key in sorted(groups)]
        plots.bar_chart(
            labels, best, "best test accuracy per model", "test accuracy", images / "best_accuracy", annotate="{:.2%}"
        )
        section.images.append(("Best test accuracy per model", images / "best_accuracy.png"))
    return section


def runs_section(runs: list[RunRecord]) -> Section:
    rows = []
    for r in runs:
        log = r.run_log
        secs = log.get("train_seconds")
        status = r.status + (f" ({log['failure']})" if r.status == "failed" and "failure" in log else "")
        rows.append(
            [
                r.name,
                status,
                log.get("recipe", "–"),
                r.model,
                r.dataset,
                log.get("device", "–"),
                log.get("precision", "–"),
                log.get("epochs_completed", len(r.history)),
                percent(r.test_accuracy),
                f"{secs:.1f}" if secs is not None else "–",
            ]
        )
    return Section(
        "runs",
        "Runs",
        f"{len(runs)} run directories; a running run shows the epochs it has logged.",
        [
            Table(
                [
                    "run",
                    "status",
                    "recipe",
                    "model",
                    "dataset",
                    "device",
                    "precision",
                    "epochs",
                    "test accuracy",
                    "train s",
                ],
                rows,
            )
        ],
    )


def targets_section(targets: list[Target], done: list[RunRecord]) -> Section:
    rows = []
    for t in targets:
        run, met = judge(t, done)
        rows.append(
            [
                t.name,
                t.dataset,
                t.model or "any",
                percent(t.accuracy, 1),
                f"{t.seconds:g}" if t.seconds else "–",
                run.name if run else "no run",
                percent(run.test_accuracy) if run else "–",
                f"{run.run_log.get('train_seconds', float('nan')):.1f}" if run else "–",
                "met" if met else "not met",
            ]
        )
    met_count = sum(row[-1] == "met" for row in rows)
    return Section(
        "targets",
        "Accuracy targets",
        f"{met_count} of {len(targets)} targets met.",
        [
            Table(
                ["target", "dataset", "model", "accuracy ≥", "within s", "run", "test accuracy", "train s", "result"],
                rows,
            )
        ],
    )


def per_class_section(done: list[RunRecord]) -> Section:
    section = Section("per-class", "Per-class test accuracy")
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in done:
        by_dataset.setdefault(r.dataset, []).append(r)
    notes = []
    for dataset, rs in sorted(by_dataset.items()):
        rs = sorted(rs, key=lambda r: -_test_accuracy(r))[:MAX_RUN_COLUMNS]  # the best runs, where many exist
        classes = list(rs[0].per_class)
        mean = {c: statistics.mean(r.per_class.get(c, 0.0) for r in rs) for c in classes}
        shown = [c for c, _ in plots.shown_classes(mean)]
        if len(shown) < len(classes):
            notes.append(f"{dataset}: the 10 worst and 10 best of {len(classes)} classes (by mean over the runs).")
        columns = [f"{dataset} class", *(f"{r.model} ({r.name.rsplit('-', 1)[-1]})" for r in rs)]
        section.tables.append(Table(columns, [[c, *(percent(r.per_class.get(c)) for r in rs)] for c in shown]))
    section.text = " ".join(notes) or "Every class of every dataset."
    return section


def epoch_columns(count: int) -> list[int]:
    """Up to 10 epoch numbers, evenly spread, the first and the last included."""
    if count <= MAX_EPOCH_COLUMNS:
        return list(range(1, count + 1))
    step = (count - 1) / (MAX_EPOCH_COLUMNS - 1)
    return sorted({round(1 + i * step) for i in range(MAX_EPOCH_COLUMNS)})


def progression_section(runs: list[RunRecord]) -> Section:
    longest = max((len(r.history) for r in runs), default=0)
    epochs = epoch_columns(longest)
    rows = []
    for r in runs:
        by_epoch = {h["epoch"]: h.get("val_accuracy") for h in r.history}
        rows.append(
            [r.name, r.model, *(percent(by_epoch.get(e), 1) if by_epoch.get(e) is not None else "–" for e in epochs)]
        )
    return Section(
        "progression",
        "Progression by epochs",
        "Validation accuracy at the end of each epoch shown.",
        [Table(["run", "model", *(f"epoch {e}" for e in epochs)], rows)],
    )


def frontier_section(done: list[RunRecord], images: Path) -> Section:
    section = Section(
        "frontier",
        "Accuracy against training time",
        "Each completed run; the dashed line joins the runs no other run beats on both time and "
        "accuracy. Training time excludes evaluation.",
    )
    points = [
        {"label": f"{r.model} ({r.dataset})", "seconds": r.run_log["train_seconds"], "accuracy": r.test_accuracy}
        for r in done
        if "train_seconds" in r.run_log
    ]
    if points:
        plots.accuracy_time_frontier(points, images / "frontier", "test accuracy against training time")
        section.images.append(("Accuracy against training time", images / "frontier.png"))
    return section


def bench_section(benches: list[tuple[Path, dict]], images: Path) -> Section:
    section = Section("benchmarks", "Device benchmarks", "`cifarbench bench devices` results found in the folder.")
    for i, (path, result) in enumerate(benches):
        rows = [
            [
                d["device"],
                d["precision"],
                f"{d['train_seconds']['median']:.2f}",
                f"{d['images_per_second']:,.0f}",
                percent(d["test_accuracy"]["mean"]),
                f"{(d.get('speedup_vs_cpu') or 0):.2f}x",
            ]
            for d in result["devices"]
        ]
        section.tables.append(
            Table(
                [
                    f"device ({result['model']}, {result['dataset']})",
                    "precision",
                    "median s",
                    "img/s",
                    "accuracy",
                    "speedup vs cpu",
                ],
                rows,
            )
        )
        plots.bar_chart(
            [d["device"] for d in result["devices"]],
            [d.get("speedup_vs_cpu") or 0.0 for d in result["devices"]],
            f"{result['model']} on {result['dataset']}: speedup over CPU",
            "x CPU",
            images / f"bench_speedup_{i}",
            annotate="{:.2f}x",
        )
        section.images.append((f"Speedup over CPU ({path.parent.name})", images / f"bench_speedup_{i}.png"))
    return section


def plan_table(plan: dict, outcome: dict) -> Table:
    """A planned run's promise beside what it measured: accuracy, the whole command's seconds, steps."""
    goal = f"--budget-s {outcome['value']:g}" if outcome["goal"] == "budget" else f"--target {outcome['value']:g}"
    predicted = outcome["predicted_accuracy"]
    rows = [
        [
            f"{goal}: accuracy ({plan.get('accuracy_label', outcome['accuracy_split'])})",
            percent(predicted) if predicted is not None else "–",
            percent(outcome["accuracy"]),
        ],
        ["whole command, seconds", f"{outcome['predicted_command_seconds']:.1f}", f"{outcome['command_seconds']:.1f}"],
    ]
    if outcome["goal"] == "budget":
        rows.append(["share of the budget used", "", f"{outcome['budget_share_used']:.0%}"])
    if outcome.get("planned_steps"):
        rows.append(
            ["steps (the schedule annealed on the clock)", str(outcome["planned_steps"]), str(outcome["steps"])]
        )
    rows.append(["schedule completed", "yes", "yes" if outcome["schedule_completed"] else "no (cut by a time limit)"])
    return Table(["the plan", "predicted", "measured"], rows)


def run_sections(done: list[RunRecord], images: Path) -> list[Section]:
    """One section per completed run: curves, per-class bars, the row-normalised confusion matrix,
    and the most-confused class pairs under it."""
    sections = []
    for r in done:
        prefix = f"{r.name}-"
        assert r.metrics is not None  # completed: its test metrics were read
        draw_run(r.run_log, r.history, r.metrics, images, prefix=prefix, formats=("png",))
        pairs = most_confused_pairs(r.metrics["confusion_matrix"], r.metrics["classes"])
        section = Section(
            f"run-{r.name}",
            f"Run {r.name}",
            f"{r.model} on {r.dataset}, recipe {r.run_log.get('recipe', '?')}: test accuracy "
            f"{percent(r.test_accuracy)}." + ("" if pairs else " No class was confused with another."),
        )
        if "plan_outcome" in r.run_log:
            section.tables.append(plan_table(r.run_log["plan"], r.run_log["plan_outcome"]))
        if pairs:
            section.tables.append(
                Table(["most confused: true class", "predicted as", "count"], [list(p) for p in pairs])
            )
        for chart in ("curves", "per_class_accuracy", "confusion_normalized"):
            section.images.append((f"{r.name}: {chart.replace('_', ' ')}", images / f"{prefix}{chart}.png"))
        sections.append(section)
    return sections


# ---------------------------------------------------------------- rendering


def render_markdown(sections: list[Section], title: str, out: Path) -> str:
    parts = [f"# {title}", ""]
    for s in sections:
        parts += [f"## {s.title}", ""]
        if s.text:
            parts += [s.text, ""]
        for t in s.tables:
            parts += [markdown_table(t.columns, t.rows)]
        for caption, path in s.images:
            parts += [f"![{caption}]({path.relative_to(out).as_posix()})", ""]
    return "\n".join(parts)


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}
figure{margin:0}figcaption{color:#555;font-size:13px}nav a{margin-right:1em}"""


def render_html(sections: list[Section], title: str) -> str:
    esc = html.escape
    body = [
        f"<h1>{esc(title)}</h1>",
        "<nav>" + "".join(f'<a href="#{s.id}">{esc(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for s in sections:
        body.append(f'<section id="{s.id}"><h2>{esc(s.title)}</h2>')
        if s.text:
            body.append(f"<p>{esc(s.text)}</p>")
        for t in s.tables:
            head = "".join(f"<th>{esc(str(c))}</th>" for c in t.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{esc('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                for row in t.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        for caption, path in s.images:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
        body.append("</section>")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def devices_benches(root: Path) -> list[tuple[Path, dict]]:
    """The `bench devices` results under `root`, each read once."""
    found = []
    for path in sorted(root.rglob("bench.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(result, dict) and isinstance(result.get("devices"), list):
            found.append((path, result))
    return found


def build_report(runs_dir: str | Path, out: str | Path, targets_file: str | Path | None = None) -> dict:
    """Write RESULTS.md, index.html and images/ for every run under `runs_dir`."""
    targets = load_targets(targets_file) if targets_file else []
    runs = find_runs(runs_dir)
    bench_files = devices_benches(Path(runs_dir))
    if not runs and not bench_files:  # checked before anything is written: no empty report
        raise UserError(f"{runs_dir} holds no runs (no {RunDir.RUN_LOG} and no bench devices results below it)")
    out = Path(out)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    with plots.figure_formats(("png",)):  # the report embeds PNG; SVGs stay in the run directories
        sections = build_sections(runs, images, targets, bench_files)
    title = f"Results: {Path(runs_dir).resolve().name} ({utc_now()})"
    atomic_write_text(render_markdown(sections, title, out), out / "RESULTS.md")
    atomic_write_text(render_html(sections, title), out / "index.html")
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {
        "runs": len(runs),
        "statuses": statuses,
        "sections": [s.id for s in sections],
        "images": sum(len(s.images) for s in sections),
        "markdown": out / "RESULTS.md",
        "html": out / "index.html",
    }
