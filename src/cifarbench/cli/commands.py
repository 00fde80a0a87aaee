"""The commands, registered where their handlers are written; the parser is built from them.

    @command("train", options=train_options, config=True, help="...", description="...")
    def cmd_train(args) -> int: ...

A command is named by its words ("bench devices" is `bench`'s sub-command `devices`; a group's
help is in GROUPS). `config=True` gives it every config field as an option (cli/options.py): the
commands that train or evaluate. `example` is what a command line needs besides those options,
so tests and docs can build one for every command without a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cifarbench.registry import Registry


@dataclass(frozen=True)
class Command:
    name: str  # its words: "train", "bench devices"
    run: Callable[..., int]  # args -> exit code
    help: str  # one line, in `cifarbench --help`
    description: str | None = None  # its own --help
    options: Callable | None = None  # parser -> None: its own arguments, before the config options
    config: bool = False  # every config field is an option too
    example: tuple[str, ...] = ()  # what a command line needs besides the config options

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def family(self) -> str:
        """The cli module that defines it (`cifarbench --help` lists the families in cli.FAMILIES order)."""
        return self.run.__module__.rsplit(".", 1)[-1]


COMMANDS: Registry[Command] = Registry("command", error=ValueError, describe=lambda entry: entry.help)
# a command group's help line and the placeholder its usage shows: "bench" -> ("benchmarks: ...", "BENCHMARK")
GROUPS: Registry[tuple[str, str]] = Registry("command group", error=ValueError)


def command(
    name: str,
    help: str,
    *,
    description: str | None = None,
    options: Callable | None = None,
    config: bool = False,
    example: tuple[str, ...] = (),
):
    """Decorator: the function below is the command `name`'s handler."""

    def add(run: Callable[..., int]) -> Callable[..., int]:
        COMMANDS.add(name, Command(name, run, help, description, options, config, tuple(example)))
        return run

    return add


def add_commands(sub, families: tuple[str, ...], only: tuple[str, ...] | None = None) -> None:
    """Every registered command as a sub-parser of `sub`, family by family, groups made on first use.
    `only`: the words of the one command a command line asks for; the others are listed (their help
    line) without their arguments, which is most of what building the parser costs (every command
    that trains has every config field)."""
    from cifarbench.cli.options import add_config_options
    from cifarbench.cli.parser import Parser

    groups: dict[str, object] = {}
    for entry in sorted(COMMANDS.values(), key=lambda c: families.index(c.family)):
        target = sub
        for word in entry.words[:-1]:
            if word not in groups:
                help_line, metavar = GROUPS.get(word)
                groups[word] = sub.add_parser(word, help=help_line).add_subparsers(
                    dest=word, metavar=metavar, parser_class=Parser, required=True
                )
            target = groups[word]
        p = target.add_parser(entry.words[-1], help=entry.help, description=entry.description)
        p.set_defaults(func=entry.run)
        if only is not None and entry.words != only:
            continue
        if entry.options is not None:
            entry.options(p)
        if entry.config:
            add_config_options(p)


def asked_command(argv: list[str]) -> tuple[str, ...] | None:
    """The words of the registered command `argv` names (`train`, `bench devices`), or None."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for n in (2, 1):
        if " ".join(words[:n]) in COMMANDS:
            return tuple(words[:n])
    return None
