"""The command line generated from the config schema: every field is an option of every command
that trains or evaluates, with the same name, type, allowed values and help everywhere, and the
README's command table says what the parser does."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from pathlib import Path

import pytest

from cifarbench.cli import build_parser
from cifarbench.cli.commands import COMMANDS
from cifarbench.cli.options import allowed_values, config_layers, registry_names
from cifarbench.config import get_path, schema_fields

ROOT = Path(__file__).resolve().parents[1]

# Every command that trains or evaluates (registered with config=True), with what it needs besides the
# config options: read from the command registry, not kept here by hand.
CONFIG_COMMANDS = {c.words: list(c.example) for c in COMMANDS.values() if c.config}
FIELDS = list(schema_fields())


def sample(path: str, f: dataclasses.Field, hint) -> tuple[str, object]:
    """A value for the field other than its default, as text for the command line and as the
    config holds it."""
    meta = f.metadata
    allowed = meta["choices"] or (registry_names(meta["registry"]) if meta["registry"] else None)
    if typing.get_origin(hint) is not None and type(None) in typing.get_args(hint):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if allowed:
        pick = next(v for v in reversed(allowed) if v != f.default)
        entry = [pick] if typing.get_origin(hint) is tuple else pick
        return str(pick), entry if not isinstance(entry, list) else tuple(entry)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        n = 2 if args[-1] is Ellipsis else len(args)
        values = tuple(args[0](i + 2) for i in range(n))
        return ",".join(map(str, values)), values
    if hint is bool:
        return str(not f.default).lower(), not f.default
    if hint is int:
        return "7", 7
    if hint is float:
        return "0.25", 0.25
    return "sample-text", "sample-text"


PARSER = build_parser()  # built once: a parser parses any number of command lines


def parse(command: tuple[str, ...], *argv: str) -> argparse.Namespace:
    return PARSER.parse_args([*command, *CONFIG_COMMANDS[command], *argv])


@pytest.mark.parametrize("command", list(CONFIG_COMMANDS), ids=" ".join)
def test_every_field_is_an_option_of_every_command_that_trains_or_evaluates(command):
    for path, f, hint in FIELDS:
        text, value = sample(path, f, hint)
        layers = config_layers(parse(command, f"--{path}", text))
        assert get_path(layers, path) == value, (path, layers)
        assert config_layers(parse(command, "--set", f"{path}={text}")) is not None  # --set takes every field too


@pytest.mark.parametrize("command", list(CONFIG_COMMANDS), ids=" ".join)
def test_every_short_flag_sets_its_own_field(command):
    """--lr is --optim.lr; --offline sets data.download false; --checkpoint-every 500steps sets
    output.checkpoint_every_steps; a flag's parse writes only into its own section."""
    for path, f, hint in FIELDS:
        for flag in f.metadata["flags"]:
            if flag.value is not None:
                layers = config_layers(parse(command, flag.name))
                assert get_path(layers, path) == flag.value, (flag.name, layers)
            elif flag.parse is None and flag.name != f"--{path}":
                text, value = sample(path, f, hint)
                assert get_path(config_layers(parse(command, flag.name, text)), path) == value, flag.name
    assert config_layers(parse(command, "--checkpoint-every", "500steps")) == {"output": {"checkpoint_every_steps": 500}}
    assert config_layers(parse(command, "--checkpoint-every", "3")) == {"output": {"checkpoint_every": 3}}
    assert config_layers(parse(command, "--logger", "none")) == {"output": {"loggers": []}}


@pytest.mark.parametrize("command", list(CONFIG_COMMANDS), ids=" ".join)
def test_help_names_every_option_with_its_allowed_values(command, capsys):
    with pytest.raises(SystemExit):
        parse(command, "--help")
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare word by word
    for path, f, hint in FIELDS:
        assert f"--{path}" in text, path
        assert " ".join(allowed_values(f, hint).split()) in text, path
        for flag in f.metadata["flags"]:
            assert flag.name in text, flag.name


def test_the_commands_that_train_or_evaluate_are_read_from_the_registry():
    """The set is the registry's: every benchmark is one, and so are plan and frontier (which a hand-kept
    list once left out)."""
    from cifarbench.bench import BENCHMARKS

    assert {("plan",), ("frontier",), ("train",), ("eval",), ("tune",)} <= set(CONFIG_COMMANDS)
    assert {("bench", name) for name in BENCHMARKS} <= set(CONFIG_COMMANDS)


@pytest.mark.parametrize("name", COMMANDS.names())
def test_every_registered_command_parses_its_example_and_runs_its_handler(name):
    entry = COMMANDS.get(name)
    args = PARSER.parse_args([*entry.words, *entry.example])
    assert args.func is entry.run


def test_a_bad_value_is_one_line_naming_the_option_and_the_field(capsys, tmp_path):
    from cifarbench.cli import main

    for argv, message in ((["--optim.momentum", "high"], "argument --momentum/--optim.momentum: optim.momentum "
                                                         "'high' must be a number"),
                          (["--hardware.compile", "maybe"], "hardware.compile 'maybe' must be true or false"),
                          (["--checkpoint-every", "0steps"], "'0steps' is not N (epochs"),
                          (["--data.synthetic_shape", "3,32"], "data.synthetic_shape '3,32' must have 3 values")):
        with pytest.raises(SystemExit) as stop:
            main(["bench", "devices", "--runs-dir", str(tmp_path / "runs"), *argv])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


def test_the_layers_resolve_in_their_documented_order(tmp_path):
    """defaults < recipe < --config < flags < --set, on the same field."""
    from cifarbench.resolve import resolve_config
    from cifarbench.training.recipes import get_recipe

    config_file = tmp_path / "c.yaml"
    config_file.write_text("train: {epochs: 3}\noptim: {lr: 0.3}\n")
    recipe_epochs = get_recipe("lenet-small-onecycle")["train"]["epochs"]

    def epochs(*argv):
        return resolve_config(None, config_layers(parse(("train",), "--recipe", "lenet-small-onecycle", *argv)))

    assert epochs().train.epochs == recipe_epochs != 3
    assert epochs("--config", str(config_file)).train.epochs == 3
    both = epochs("--config", str(config_file), "--epochs", "4")
    assert both.train.epochs == 4 and both.optim.lr == 0.3  # the flag wins only where it speaks
    assert epochs("--config", str(config_file), "--set", "train.epochs=5", "--epochs", "4").train.epochs == 5
    assert epochs("--epochs", "4", "--train.epochs", "6").train.epochs == 6  # the same field twice: the last


def test_a_hybrid_preset_asks_for_the_hybrid_trainer_unless_a_trainer_is_given():
    assert config_layers(parse(("train",), "--hybrid-preset", "aggressive"))["train"] == {"trainer": "hybrid"}
    assert config_layers(parse(("train",), "--set", "hybrid.preset=aggressive"))["train"] == {"trainer": "hybrid"}
    given = config_layers(parse(("train",), "--hybrid-preset", "aggressive", "--trainer", "plain"))
    assert given["train"] == {"trainer": "plain"}


def test_no_module_of_the_cli_maps_flags_to_fields_by_hand():
    """The options come from the schema: no cli module names a config field in a string."""
    cli = ROOT / "src" / "cifarbench" / "cli"
    fields = {path for path, _, _ in FIELDS if "." in path}
    for module in cli.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        quoted = set(re.findall(r"[\"']([a-z_]+\.[a-z_]+)[\"']", source))
        assert not quoted & fields, (module.name, quoted & fields)
    assert not (ROOT / "src" / "cifarbench" / "cli.py").exists()


def _subcommands(parser: argparse.ArgumentParser, prefix=()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[(*prefix, name)] = sub
                found.update(_subcommands(sub, (*prefix, name)))
    return found


def test_the_docs_command_table_and_the_parser_agree():
    """Every command has a row in the docs' command table (docs/reference/commands.md); every row
    names a real command, and every flag a row shows is one that command takes."""
    readme = (ROOT / "docs" / "reference" / "commands.md").read_text(encoding="utf-8")
    commands = {k: v for k, v in _subcommands(build_parser()).items() if k != ("bench",)}
    rows = re.findall(r"^\| `cifarbench ([^`]+)`(?: / `cifarbench ([^`]+)`)? \|", readme, flags=re.M)
    assert rows, "the docs' command table was not found"
    documented = set()
    for row in rows:
        for usage in filter(None, row):
            words = usage.split()
            command = (words[0], words[1]) if words[0] == "bench" else (words[0],)
            assert command in commands, f"README names `cifarbench {usage}`, which is not a command"
            documented.add(command)
            options = {s for a in commands[command]._actions for s in a.option_strings}
            for flag in re.findall(r"--[a-z][a-z0-9_.-]*", usage):
                assert flag in options, f"`cifarbench {usage}`: {' '.join(command)} has no {flag}"
    assert set(commands) - documented == set(), "commands missing from the docs' command table"
