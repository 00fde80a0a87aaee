"""How every benchmark reports: a rich table on the terminal and a JSON file with the
hardware fingerprint and the command that produced it."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cifarbench.fingerprint import fingerprint
from cifarbench.runs import atomic_write_json, utc_now


def summarise(values: list[float]) -> dict:
    """min / median / max / mean / std of repeated measurements."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def print_table(title: str, columns: list[str], rows: list[list], console: Console | None = None) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row])
    (console or Console()).print(table)


def write_result(path: str | Path, name: str, results: dict, device=None) -> Path:
    path = Path(path)
    atomic_write_json({"benchmark": name, "time": utc_now(), "command": sys.argv, "machine": fingerprint(device),
                       **results}, path)
    return path
