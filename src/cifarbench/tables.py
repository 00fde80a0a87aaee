"""Markdown tables, the one helper every summary, comparison and report uses."""

from __future__ import annotations


def markdown_table(columns: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table. `align` has one letter per column, l or r (numbers
    read best right-aligned; default: all left); None cells print as –."""
    align = align or "l" * len(columns)
    if len(align) != len(columns):
        raise ValueError(f"align {align!r} has {len(align)} letters for {len(columns)} columns")

    def cell(v) -> str:
        return "–" if v is None else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}%}"
