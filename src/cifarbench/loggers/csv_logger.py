"""metrics.csv in the run directory: one row per epoch, then one for the final evaluation,
columns as Lightning's CSVLogger names them (epoch, step, train_loss, val_accuracy, lr, ...)."""

from __future__ import annotations

import csv
import io

from cifarbench.files import atomic_write_text
from cifarbench.loggers.base import LOGGERS, RunLogger, scalars

FIRST_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


@LOGGERS.register("csv")
class CsvLogger(RunLogger):
    """metrics.csv in the run folder: a row per epoch and one for the final evaluation (Lightning's CSVLogger names)."""

    name = "csv"
    FILE = "metrics.csv"

    def start(self, run, config, run_log):
        self.path, self.rows = run.file(self.FILE), []
        self.last_step = 0
        if self.path.is_file():  # a resumed run: keep the epochs before the checkpoint (dropped below when re-run)
            with open(self.path, newline="", encoding="utf-8") as f:
                self.rows = [{k: _number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

    def log_epoch(self, record):
        epoch = record.get("epoch")
        self.rows = [r for r in self.rows if r.get("epoch", 0) < epoch and not _is_final(r)]
        self.rows.append(scalars(record))
        self.last_step = record.get("step", self.last_step)
        self._write()

    def finish(self, status, metrics):
        if metrics is not None:
            split = metrics.get("split", "test")
            final = {f"{split}_accuracy": metrics["accuracy"], f"{split}_loss": metrics["loss"]}
            self.rows.append({"epoch": self.rows[-1]["epoch"] if self.rows else 0, "step": self.last_step, **final})
            self._write()

    def _write(self):
        # rewritten whole (atomically) when a row is added: a new column never leaves a ragged file
        columns = [c for c in FIRST_COLUMNS if any(c in r for r in self.rows)]
        columns += sorted({k for r in self.rows for k in r} - set(columns))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(out.getvalue(), self.path)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _is_final(row: dict) -> bool:
    """The row of the final evaluation (its split's accuracy: test, or validation for a tune trial)."""
    return "test_accuracy" in row or "validation_accuracy" in row
