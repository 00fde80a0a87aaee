"""The parser every command uses: a usage error is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

from cifarbench.registry import did_you_mean

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
        # one prefix for every refusal, the sub-command's parser's as the top one's and the commands' own
        self.exit(EXIT_USAGE, f"cifarbench: error: {message}{self.suggestion(message)}\n")

    def suggestion(self, message: str) -> str:
        """ "; did you mean ...?" for a misspelt option (any option of the command asked for) or choice."""
        unknown = re.match(r"unrecognized arguments: (-\S+)", message)
        if unknown:
            return did_you_mean(unknown.group(1).split("=", 1)[0], self.option_strings())
        invalid = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if invalid:
            return did_you_mean(invalid.group(1), re.findall(r"'?([^',\s]+)'?", invalid.group(2)))
        return ""

    def option_strings(self) -> list[str]:
        """Every option this parser and its sub-commands' parsers take (only the asked command's are built)."""
        found = []
        for action in self._actions:
            found += [o for o in action.option_strings if o.startswith("--")]
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    found += parser.option_strings()
        return found

    def parse_known_args(self, args=None, namespace=None):
        # argparse (3.11) turns `--flag=--` into an empty list instead of refusing it
        for arg in sys.argv[1:] if args is None else args:
            if isinstance(arg, str) and arg.startswith("--") and arg.endswith("=--"):
                self.error(f"argument {arg.split('=', 1)[0]}: expected a value, got '--'")
        return super().parse_known_args(args, namespace)


def one_of(values) -> str:
    """A choice list for --help, written from the code's own tuple so the two cannot disagree."""
    return "one of: " + ", ".join(map(str, values))
