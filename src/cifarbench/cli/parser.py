"""The parser every command uses: a usage error is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
import textwrap

EXIT_USAGE = 2


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, but lines never break inside a hyphenated name (lenet-small, fashion-mnist)."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text, width, indent):
        return textwrap.fill(
            " ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2, and help lines
    keep hyphenated names whole."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        # argparse (3.11) turns `--flag=--` into an empty list instead of refusing it
        for arg in sys.argv[1:] if args is None else args:
            if isinstance(arg, str) and arg.startswith("--") and arg.endswith("=--"):
                self.error(f"argument {arg.split('=', 1)[0]}: expected a value, got '--'")
        return super().parse_known_args(args, namespace)


def one_of(values) -> str:
    """A choice list for --help, written from the code's own tuple so the two cannot disagree."""
    return "one of: " + ", ".join(map(str, values))
