"""The config's fields as command-line options, generated from the schema in config/sections.py.

Every field is `--section.field VALUE` (`--runs_dir` at the top level); a field whose metadata
names a short flag has it too (`--lr`, `--offline`). The type, the allowed values, the default
and the help text are the field's own, so nothing here names a field: a field added to config/sections.py
is on every command that calls add_config_options. Values are checked when they are parsed (one
line and exit 2, like every usage error) and again when the config is built.

Layers, lowest first: defaults < recipe < a command's own defaults < --config YAML < flags and
--set (config_layers returns the last two merged; resolve.resolve_config applies them).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from cifarbench.config import (
    RunConfig,
    coerce,
    current_paths,
    load_yaml,
    merge,
    nested,
    parse_assignment,
    schema_fields,
    with_implied,
)
from cifarbench.errors import ConfigError

FIELD = "field:"  # argparse dest of a generated option: field:optim.lr
FIELDS = "fields:"  # dest of a flag that parses into fields of its field's section: fields:output.loggers


def registry_names(registry: str) -> tuple[str, ...]:
    """The names a registry above config/ allows (config/ cannot import them)."""
    from cifarbench.resolve import registered_names

    return registered_names(registry)


def registry_default(registry: str | None) -> str:
    """The entry a registry falls back to when none is named (only recipes have one)."""
    if registry == "recipes":
        from cifarbench.training.recipes import DEFAULT_RECIPE

        return DEFAULT_RECIPE
    return "none"


def allowed_values(f, hint) -> str:
    """What --help says a field takes: its choices, its registry's names, or its type."""
    meta = f.metadata
    also = f"; or {meta['also']}" if meta.get("also") else ""
    if meta.get("allowed"):
        return meta["allowed"] + also
    if meta.get("choices") is not None:
        return "one of: " + ", ".join(map(str, meta["choices"])) + also
    if meta.get("registry"):
        return "one of: " + ", ".join(registry_names(meta["registry"])) + also
    return _type_words(hint) + also


def _type_words(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)][0]
        return _type_words(inner) + ", or null"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"comma-separated {_type_words(args[0])}s"
        return f"{len(args)} comma-separated {_type_words(args[0])}s"
    return {bool: "true or false", int: "integer", float: "number", str: "text"}[hint]


def default_text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(empty)"
    return str(value)


def _parser_of(convert, name: str):
    """An argparse type that turns a ConfigError into argparse's one-line usage error."""

    def parse(text: str):
        try:
            return convert(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """--config, --set and one option per config field, grouped by section. Call it after the
    command's own arguments: the usage line names those and sums the config options up."""
    own = parser.format_usage().removeprefix("usage: ").strip()
    parser.usage = f"{own} [--config YAML] [--set SECTION.FIELD=VALUE] [--SECTION.FIELD VALUE ...]"
    parser.add_argument(
        "--config",
        metavar="YAML",
        help="YAML file of config sections (a run's config.yaml repeats it), applied over the recipe",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override any config field, e.g. --set optim.nesterov=true (repeatable; the value is YAML)",
    )
    titles = {f.name: f.metadata["help"] for f in dataclasses.fields(RunConfig)}
    groups: dict[str, argparse._ArgumentGroup] = {}
    for path, f, hint in schema_fields():
        section = path.rsplit(".", 1)[0] if "." in path else ""
        if section not in groups:
            if not section:
                groups[section] = parser.add_argument_group(
                    "config: the run",
                    "Every config field is an option, --section.field VALUE; the common ones "
                    "have a short flag too. Defaults shown are the config's own: a recipe, then the command, may "
                    "set others. Order: defaults < recipe < --config < flags and --set.",
                )
            else:
                groups[section] = parser.add_argument_group(f"config: {titles[section]} (--{section}.*)")
        _add_field(groups[section], path, f, hint)


def shown_default(f) -> str:
    """What --help and the options reference say a field's default is."""
    meta = f.metadata
    if meta.get("shown_default"):
        return meta["shown_default"].format(registry_default=registry_default(meta.get("registry")))
    return default_text(None if f.default is dataclasses.MISSING else f.default)


def _add_field(group, path: str, f, hint) -> None:
    meta = f.metadata
    help_text = f"{meta.get('help', '')} [{allowed_values(f, hint)}; default {shown_default(f)}]".replace("%", "%%")
    long_flag = f"--{path}"
    plain = [flag for flag in meta.get("flags", ()) if flag.value is None and flag.parse is None]
    aliases = [flag.name for flag in plain if flag.name != long_flag]
    metavar = next((flag.metavar for flag in plain if flag.metavar), None) or path.rsplit(".", 1)[-1].upper()
    convert = _parser_of(lambda text: coerce(text, hint, path), path)
    if hint is bool:  # --section.flag alone means true; --section.flag false says it
        group.add_argument(
            *aliases,
            long_flag,
            dest=FIELD + path,
            nargs="?",
            const=True,
            type=convert,
            default=argparse.SUPPRESS,
            metavar="BOOL",
            help=help_text,
        )
    else:
        group.add_argument(
            *aliases,
            long_flag,
            dest=FIELD + path,
            type=convert,
            default=argparse.SUPPRESS,
            metavar=metavar,
            help=help_text,
        )
    for flag in meta.get("flags", ()):
        if flag.value is not None:
            group.add_argument(
                flag.name,
                dest=FIELD + path,
                action="store_const",
                const=flag.value,
                default=argparse.SUPPRESS,
                help=f"sets {path} to {default_text(flag.value)}",
            )
        elif flag.parse is not None:
            group.add_argument(
                flag.name,
                dest=FIELDS + path,
                type=_parser_of(flag.parse, path),
                default=argparse.SUPPRESS,
                metavar=flag.metavar or metavar,
                help=flag.help.replace("%", "%%"),
            )


def config_layers(args: argparse.Namespace) -> dict:
    """The config values the command line gives (--config < flags < --set), as nested sections,
    with what they imply (config.with_implied)."""
    flags: dict = {}
    for dest, value in vars(args).items():  # in the order they were given: the last one wins
        if dest.startswith(FIELD):
            flags = merge(flags, nested(dest[len(FIELD) :], value))
        elif dest.startswith(FIELDS):  # value: {field: value} in the section of the field named
            path = dest[len(FIELDS) :]
            flags = merge(flags, nested(path.rsplit(".", 1)[0], value) if "." in path else value)
    for text in args.assignments:
        flags = merge(flags, parse_assignment(text))
    # each layer's moved fields at their current paths (config.MOVED) before the two merge
    flags = current_paths(flags)
    return with_implied(merge(current_paths(load_yaml(args.config)), flags) if args.config else flags)
