"""The check of the loggers' packages, and the set of loggers a run feeds."""

from __future__ import annotations

import importlib.util
import logging

from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback
from cifarbench.errors import ConfigError
from cifarbench.loggers.base import LOGGERS
from cifarbench.runs import RunDir

log = logging.getLogger(__name__)


def check_available(names) -> None:
    """Each named logger's package is importable, else one line naming the extra to install."""
    for name in names:
        cls = LOGGERS.get(name)
        if cls.package and importlib.util.find_spec(cls.package) is None:
            raise ConfigError(f"--logger {name} needs the {cls.package} package: pip install 'cifarbench[{cls.extra}]'")


class LoggerSet(Callback):
    """The run's loggers, fed each epoch by the loop (it is the loop's callback) or by a replay.
    A logger that fails is reported and dropped: a tracker's trouble never costs the run."""

    def __init__(self, names):
        check_available(names)
        self.loggers = [LOGGERS.get(name)() for name in names]
        self.started = False

    def _each(self, method: str, *args) -> None:
        for logger in list(self.loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # noqa: BLE001 - any failure of a tracker's library
                log.warning(
                    "logger %s failed in %s (%s: %s); the run goes on without it",
                    logger.name,
                    method,
                    type(exc).__name__,
                    exc,
                )
                self.loggers.remove(logger)

    def start(self, run: RunDir, config: RunConfig, run_log: dict) -> None:
        self._each("start", run, config, run_log)
        self.started = True

    def log_epoch(self, record: dict) -> None:
        if self.started:
            self._each("log_epoch", record)

    def on_epoch_end(self, trainer, record):
        self.log_epoch(record)

    def finish(self, status: str, metrics: dict | None) -> None:
        if self.started:
            self._each("finish", status, metrics)
            self.started = False
