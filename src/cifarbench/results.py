"""How every measurement reports (benchmarks, frontiers, ablations, multi-seed runs): statistics
of repeated values, a rich table on the terminal, and a JSON file with the hardware fingerprint
and the command that produced it."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cifarbench.files import atomic_write_json, atomic_write_text, utc_now
from cifarbench.fingerprint import fingerprint
from cifarbench.tables import markdown_table

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (any statistics table).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_quantile_975(df: int) -> float:
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # past 30: the Cornish-Fisher expansion z + (z^3 + z) / (4 df), within 1e-3
    return z + (z**3 + z) / (4 * df)


def summarise(values: list[float]) -> dict:
    """min / median / max / mean / std of repeated measurements, and the 95% confidence
    interval of the mean (Student's t; a half-width of 0 for a single value)."""
    n = len(values)
    std = statistics.stdev(values) if n > 1 else 0.0
    half = t_quantile_975(n - 1) * std / n**0.5 if n > 1 else 0.0
    mean = statistics.fmean(values)
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "mean": mean,
        "std": std,
        "ci95": [mean - half, mean + half],
        "n": n,
        "values": values,
    }


def print_table(title: str, columns: list[str], rows: list[list], console: Console | None = None) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row])
    # piped or captured output is not wrapped at rich's 80-column default: tables stay one row per line
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(table)


def write_result(path: str | Path, name: str, results: dict, device=None) -> Path:
    path = Path(path)
    atomic_write_json(
        {"benchmark": name, "time": utc_now(), "command": sys.argv, "machine": fingerprint(device), **results}, path
    )
    return path


def table_report(heading: str, columns: list[str], rows: list[list], align: str) -> str:
    """A benchmark's report.txt: a line saying what was run, then its rows as a Markdown table."""
    return f"{heading}\n\n{markdown_table(columns, rows, align=align)}"


def publish(folder: Path, name: str, result: dict, report: str, chart: dict | None = None) -> dict:
    """A benchmark's folder: bench.json (with the machine and the command), report.txt, and a bar
    chart (`chart`: bar_chart's arguments but the path); returns the result with its folder."""
    write_result(folder / "bench.json", name, result)
    atomic_write_text(report, folder / "report.txt")
    if chart is not None:
        from cifarbench.plots.charts import bar_chart

        options = dict(chart)
        bar_chart(path=folder / options.pop("file"), **options)
    return {**result, "folder": str(folder)}


def print_folder_report(result: dict) -> None:
    """The default report: the report.txt the benchmark published, and where its files are."""
    print((Path(result["folder"]) / "report.txt").read_text(), end="")
    print(f"report, JSON and chart in {result['folder']}")
