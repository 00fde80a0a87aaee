"""How a config field is described: its metadata (help, short flags, allowed values, what it
implies, the trick it switches, why MLX cannot honour it), the parsers of flags that set several
fields, and the checks every section runs on its values. The command line, ablate's knobs and
MLX's refusals are all made from this metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cifarbench.errors import ConfigError
from cifarbench.registry import did_you_mean

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta", "muon")
SCHEDULES = ("constant", "step", "multistep", "onecycle", "cosine", "triangle", "linear_decay")
NONFINITE = ("stop", "skip")  # what a non-finite loss does to a run
INTERVALS = ("batch", "epoch")
LOSS_REDUCTIONS = ("mean", "sum")
FLIP_MODES = ("none", "random", "alternating")
PAD_MODES = ("zeros", "reflect")
FRAMEWORKS = ("torch", "mlx")
TRAINERS = ("plain", "hybrid")
TTA_LEVELS = (0, 1, 2)


# ---------------------------------------------------------------- how a field is described
#
# Every field carries its own description in its metadata, and the command line is generated
# from it (cli/options.py): each field is `--section.field`, some also have a short flag. So a
# new field is on every command that trains or evaluates the moment it is written here.


@dataclass(frozen=True)
class Flag:
    """A short command-line flag for a field (beside the generated --section.field)."""

    name: str  # e.g. "--lr"
    value: Any = None  # a flag without a value that sets this one (--offline: download false)
    parse: Callable[[str], dict] | None = None  # text -> {field: value} in this section (several fields)
    metavar: str | None = None
    help: str = ""  # for a flag with its own parse; the others say "sets FIELD to VALUE" or share the field's


def opt(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    flags: tuple[Flag, ...] | Flag = (),
    choices: tuple | None = None,
    registry: str | None = None,
    allowed: str | None = None,
    implies: dict | None = None,
    shown_default: str | None = None,
    also: str = "",
    trick: str | None = None,
    torch_only: str | None = None,
    factory: Callable | None = None,
):
    """A config field and what the command line says of it.

    choices: the values allowed, checked when the config is built and listed by --help.
    registry: the allowed names live in a registry above this layer ("models", "datasets",
    "recipes"); they are checked by resolve.check_registered and listed by --help.
    allowed: what --help says is allowed, where a plain list does not say it.
    implies: values this field being given asks for unless they are given too.
    also: what else --help says is allowed besides the choices or registry names.
    shown_default: what --help says the default is, where the value itself would mislead;
    {registry_default} stands for the registry's default entry (the default recipe).
    trick: the field switches a trick (its name in `cifarbench ablate` tables); the default is off.
    torch_only: why MLX cannot honour the field; an MLX run needs the default (mlx/backend.py).
    """
    metadata = {
        "help": help,
        "flags": (flags,) if isinstance(flags, Flag) else tuple(flags),
        "choices": choices,
        "registry": registry,
        "allowed": allowed,
        "implies": implies or {},
        "shown_default": shown_default,
        "also": also,
        "trick": trick,
        "torch_only": torch_only,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def checkpoint_interval(text: str) -> dict:
    """--checkpoint-every: '3' -> checkpoint_every 3; '500steps' -> checkpoint_every_steps 500."""
    value = text.strip().lower()
    unit = "epochs"
    for suffix, name in (("steps", "steps"), ("step", "steps"), ("epochs", "epochs"), ("epoch", "epochs")):
        if value.endswith(suffix):
            value, unit = value[: -len(suffix)].strip(), name
            break
    if not value.isdigit() or (unit == "steps" and int(value) == 0):
        raise ConfigError(f"{text!r} is not N (epochs, 0 = only at the end) or Nsteps (N >= 1), e.g. 2 or 500steps")
    return {"checkpoint_every_steps" if unit == "steps" else "checkpoint_every": int(value)}


def comma_list(text: str) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c']: every comma-separated option (--logger, --devices, --models)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def logger_names(text: str) -> dict:
    """--logger: 'csv,tensorboard' -> both; 'none' -> no logger (names are checked by the config)."""
    names = comma_list(text)
    return {"loggers": [] if names == ["none"] else names}


def check_choices(section: Any, prefix: str) -> None:
    """Every field with `choices` in its metadata holds one of them (each entry, for a list)."""
    for f in dataclasses.fields(section):
        allowed = f.metadata.get("choices")
        if allowed is None:
            continue
        value = getattr(section, f.name)
        for entry in value if isinstance(value, tuple) else (value,):
            choice(f"{prefix}.{f.name}" + (" entry" if isinstance(value, tuple) else ""), entry, allowed)


def choice(name: str, value, allowed) -> None:
    if value not in allowed:
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise ConfigError(f"{name} {value!r} is not one of {', '.join(map(str, allowed))}{hint}")


def number_text(value) -> str:
    """A number as a user typed it: 2.0 as 2, 0.05 as 0.05 (every digit kept)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def positive(name: str, value) -> None:
    if not value > 0:
        raise ConfigError(f"{name} {number_text(value)} must be positive")
