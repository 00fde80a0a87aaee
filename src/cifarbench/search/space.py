"""A search space: which config fields `cifarbench tune` varies, and over what values.

A YAML mapping of `section.field` (any field of the run config) to a choice list or a range:

    model.name: {choices: [airbench-tiny, airbench-small]}
    train.epochs: {low: 4, high: 10, step: 1}     # both ends integers: an integer range
    optim.lr: {low: 4.0, high: 16.0, log: true}   # a float range, sampled on a log scale
    train.tta: {choices: [0, 1, 2]}

Checked before any trial runs, each mistake one line naming the entry and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cifarbench.config import RunConfig, read_yaml
from cifarbench.errors import ConfigError

RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Param:
    field: str  # "section.field"
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def integer(self) -> bool:
        return self.choices is None and all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def suggest(self, trial) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.choices is not None:
            return trial.suggest_categorical(self.field, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.field, self.low, self.high, step=int(self.step or 1), log=self.log)
        assert self.low is not None and self.high is not None  # a range (no choices) has both ends
        return trial.suggest_float(self.field, float(self.low), float(self.high), step=self.step, log=self.log)


def config_fields() -> dict[str, set[str]]:
    """{section: its field names} for every section of the run config."""
    sections: dict[str, set[str]] = {}
    for f in dataclasses.fields(RunConfig):
        factory = f.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            sections[f.name] = {g.name for g in dataclasses.fields(factory)}
    return sections


def parse_space(values: Any, where: str = "search space") -> list[Param]:
    if not isinstance(values, dict) or not values:
        raise ConfigError(
            f"{where} must be a non-empty mapping of section.field to {{choices: [...]}} or {{low: ..., high: ...}}"
        )
    sections = config_fields()
    params = []
    for name, spec in values.items():
        section, _, field_name = str(name).partition(".")
        if section not in sections or field_name not in sections[section]:
            known = ", ".join(sorted(sections))
            raise ConfigError(f"{where}: {name!r} is not a config field (section.field, sections: {known})")
        params.append(_param(str(name), spec, where))
    return params


def _param(name: str, spec: Any, where: str) -> Param:
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: {name} must be {{choices: [...]}} or {{low: L, high: H}}, not {spec!r}")
    if "choices" in spec:
        choices = spec["choices"]
        if set(spec) != {"choices"} or not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: {name} choices must be a non-empty list, alone in its entry")
        return Param(name, choices=tuple(choices))
    unknown = set(spec) - RANGE_KEYS
    if unknown or not {"low", "high"} <= set(spec):
        raise ConfigError(f"{where}: {name} needs low and high (and optionally log, step); got {sorted(spec)}")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    numbers = [v for v in (low, high, step) if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers) or not isinstance(log, bool):
        raise ConfigError(f"{where}: {name} low/high/step must be numbers and log true or false")
    if not low < high:
        raise ConfigError(f"{where}: {name} low {low} must be below high {high}")
    if log and (low <= 0 or step is not None):
        raise ConfigError(f"{where}: {name} a log range needs low > 0 and no step")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: {name} step {step} must be positive")
    return Param(name, low=low, high=high, log=log, step=step)


def load_space(path: str | Path) -> list[Param]:
    return parse_space(read_yaml(path, "search space file"), f"search space file {path}")


def as_config_layer(values: dict[str, Any]) -> dict:
    """{"optim.lr": 8.0} -> {"optim": {"lr": 8.0}}: a layer resolve_config applies."""
    layer: dict = {}
    for name, value in values.items():
        section, _, field_name = name.partition(".")
        layer.setdefault(section, {})[field_name] = value
    return layer
