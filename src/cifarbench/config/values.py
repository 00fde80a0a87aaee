"""Plain values into a config and back: coercion of YAML and command-line values to each field's
type, the nested-dict helpers every layer is merged with, `--set` assignments and YAML files.
Generic over the dataclasses: nothing here names a section (config/sections.py does)."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from cifarbench.errors import ConfigError


def plain(value):
    """Tuples to lists, so the dict is plain YAML and JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        where = f"in {prefix.rstrip('.')}" if prefix else "at the top level"
        raise ConfigError(f"unknown config key {prefix + unknown[0]!r}; keys {where}: {', '.join(sorted(known))}")
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = build(hint, value, f"{prefix}{key}.")
        else:
            kwargs[key] = coerce(value, hint, f"{prefix}{key}")
    return cls(**kwargs)


def coerce(value: Any, hint, name: str):
    """Convert a YAML or command-line value to the field's type, or say why it cannot be."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], name)
    if origin is tuple:
        given = value
        if isinstance(value, str):
            value = [v for v in value.replace("x", ",").split(",") if v.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} {value!r} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], name) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{name} {given!r} must have {len(args)} values")
        return tuple(coerce(v, a, name) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{name} {value!r} must be true or false")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float):  # 512.0 is refused like "512.0": an integer field takes integers
            raise ConfigError(f"{name} {value!r} must be an integer")
        try:
            return int(str(value).strip())  # exact for big integers, which float() would round
        except ValueError:
            raise ConfigError(f"{name} {value!r} must be an integer") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} {value!r} must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{name} {value!r} must be a finite number")
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{name} {value!r} must be a string")
        return str(value)
    raise ConfigError(f"{name}: unsupported field type {hint}")


def nested(path: str, value) -> dict:
    """ "optim.lr", 0.1 -> {"optim": {"lr": 0.1}}."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def get_path(values: dict, path: str, default=None):
    for part in path.split("."):
        if not isinstance(values, dict) or part not in values:
            return default
        values = values[part]
    return values


def merge(base: dict, update: dict) -> dict:
    """Nested dict merge: values in `update` win; sections merge key by key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_assignment(text: str) -> dict:
    """`section.field=value` (value parsed as YAML) -> {"section": {"field": value}}."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like section.field=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    nested: Any = value  # a dict once wrapped in at least one key below
    for part in reversed(key.strip().split(".")):
        if not part:
            raise ConfigError(f"--set {text!r}: empty key")
        nested = {part: nested}
    return nested


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A YAML file's content, or a one-line ConfigError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def load_yaml(path: str | Path) -> dict:
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(values).__name__}")
    return values
