"""docs/reference/options.md, generated from the config's own metadata (the same help, allowed
values, defaults and short flags `--help` shows), so the reference cannot drift from the code:

    python -m cifarbench.cli.reference docs/reference/options.md

tests/test_docs.py checks the file is what this writes."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from cifarbench.cli.options import allowed_values, default_text, shown_default
from cifarbench.config import RunConfig, schema_fields
from cifarbench.tables import markdown_table

HEADER = """# Config options

Every config field is an option of every command that trains or evaluates (`train`, `plan`,
`eval`, `tune`, `ablate`, `bench ...`, ...), written `--section.field VALUE`; the common ones
have a short flag too. The same field can be set with `--set section.field=VALUE` or in a YAML
file given with `--config` (a run's `config.yaml` is one). Values resolve in this order, each
over the one before: the defaults below < the recipe < `--config` < flags and `--set`.

This page is generated from the config's own metadata (`python -m cifarbench.cli.reference
docs/reference/options.md`); `cifarbench train --help` prints the same.
"""


def _flags(path: str, f) -> str:
    names = [f"`--{path}`"]
    for flag in f.metadata.get("flags", ()):
        if flag.name == f"--{path}":
            continue
        if flag.value is not None:
            names.append(f"`{flag.name}` (sets {default_text(flag.value)})")
        else:
            names.append(f"`{flag.name}`")
    return "<br>".join(names)


def _cell(text: str) -> str:
    # one line a cell; markdown_table escapes the pipes, and <name> must not read as an HTML tag
    return " ".join(str(text).split()).replace("<", "&lt;").replace(">", "&gt;")


def options_markdown() -> str:
    titles = {f.name: f.metadata["help"] for f in dataclasses.fields(RunConfig)}
    sections: dict[str, list[list[str]]] = {}
    for path, f, hint in schema_fields():
        section = path.rsplit(".", 1)[0] if "." in path else ""
        sections.setdefault(section, []).append(
            [
                _flags(path, f),
                _cell(f.metadata.get("help", "")),
                _cell(allowed_values(f, hint)),
                _cell(shown_default(f)),
            ]
        )
    parts = [HEADER]
    for section, rows in sections.items():
        parts.append(f"## {'The run' if not section else f'{titles[section].capitalize()} (`{section}.*`)'}\n")
        parts.append(markdown_table(["option", "what it does", "allowed", "default"], rows, align="llll"))
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    text = options_markdown()
    if target is None:
        print(text, end="")
    else:
        target.write_text(text, encoding="utf-8")
