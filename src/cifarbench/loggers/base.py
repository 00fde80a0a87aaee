"""The logger interface, and the numbers loggers send."""

from __future__ import annotations

import math

from cifarbench.config import RunConfig
from cifarbench.registry import Registry
from cifarbench.runs import RunDir


class RunLogger:
    name = ""  # the name it is registered by (LOGGERS), for messages
    package: str | None = None  # the import the logger needs
    extra: str | None = None  # the cifarbench extra that installs it

    def start(self, run: RunDir, config: RunConfig, run_log: dict) -> None: ...

    def log_epoch(self, record: dict) -> None: ...

    def finish(self, status: str, metrics: dict | None) -> None: ...


# The loggers by the names `--logger` takes: a logger is one module that defines its class under
# `@LOGGERS.register(NAME)` (and its library as an extra in pyproject.toml); loggers/__init__.py imports it.
LOGGERS: Registry[type[RunLogger]] = Registry("logger")


def scalars(record: dict) -> dict[str, float]:
    """The plain numbers of a history record or metrics dict (no per-class lists, no None/NaN)."""
    out = {}
    for key, value in record.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[key] = float(value) if isinstance(value, float) else value
    return out


def flat_config(config: RunConfig) -> dict[str, object]:
    """{"optim.lr": 0.1, ...}: the resolved config as one level of parameters."""
    flat = {}
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            for key, value in values.items():
                flat[f"{section}.{key}"] = value
        else:
            flat[section] = values
    return flat
