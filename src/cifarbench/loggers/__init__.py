"""Loggers: a run's epochs and results sent to the tools people already watch runs in.

    --logger csv,tensorboard,mlflow,wandb      (default: csv; `none` for no logger)

The run directory stays the record; each logger copies what the loop reports into its tool,
through that tool's own library (an optional extra, checked before any training starts).
Every logger gets the same three calls from the run lifecycle (api.py):

    start(run, config, run_log)   after the run directory exists
    log_epoch(record)             each epoch's history record (live for PyTorch; MLX's are
                                  replayed when its loop ends, since MLX takes no callbacks)
    finish(status, metrics)       completed with the final metrics, or failed/interrupted
"""

from __future__ import annotations

from cifarbench.loggers import csv_logger, mlflow_logger, tensorboard_logger, wandb_logger  # noqa: F401 - registers
from cifarbench.loggers.base import LOGGERS, RunLogger
from cifarbench.loggers.run_loggers import LoggerSet, check_available

__all__ = ["LOGGERS", "LoggerSet", "RunLogger", "check_available"]
