"""Progress on the terminal (rich) and in the run's log.jsonl, as callbacks."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cifarbench.console import CONSOLE
from cifarbench.contract.callbacks import Callback
from cifarbench.contract.epoch_end import epoch_line
from cifarbench.devices import HostCopy
from cifarbench.files import utc_now
from cifarbench.runs import RunDir

log = logging.getLogger(__name__)


class ProgressBar(Callback):
    """A bar per epoch with loss, accuracy, lr and images/s, and one summary line per epoch.

    The bar never makes the host wait for the device: at each refresh it asks for a copy of the
    running loss and accuracy (devices.HostCopy) and shows the newest copy that has arrived, so on
    a GPU its numbers are one refresh late; the epoch's line reads the exact ones."""

    def __init__(self, console: Console | None = None, refreshes_per_epoch: int = 20):
        self.console = console if console is not None else CONSOLE
        self.refreshes = refreshes_per_epoch
        self.progress: Progress | None = None

    def on_fit_start(self, trainer):
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}  lr {task.fields[lr]:.3g}"
                "  {task.fields[ips]:,.0f} img/s"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()

    def on_epoch_start(self, trainer, epoch):
        # the epoch's steps as planned (a clock-paced run may end its schedule sooner or later)
        steps = max(1, min(trainer.steps_per_epoch, trainer.total_steps - trainer.state.step))
        self.every = max(1, steps // self.refreshes)
        self.running = HostCopy(trainer.device)
        self.task = self.progress.add_task(
            "train",
            total=steps,
            epoch=f"{epoch + 1}/{trainer.num_epochs}",
            loss=float("nan"),
            acc=0.0,
            lr=trainer.optimizer.param_groups[-1]["lr"],
            ips=0.0,
        )

    def on_batch_end(self, trainer, batch_index):
        if (batch_index + 1) % self.every:
            return
        loss_sum, correct, seen = trainer.running_sums()
        self.running.request([loss_sum, correct], note=seen)
        shown = self.running.latest()  # this refresh's on the CPU, an earlier one's on a GPU
        metrics = {}
        if shown is not None:
            (loss, hits), images = shown
            metrics = {"loss": loss / max(1, images), "acc": hits / max(1, images)}
        elapsed = trainer.stopwatch.elapsed_unsynced()
        self.progress.update(
            self.task,
            completed=batch_index + 1,
            lr=trainer.optimizer.param_groups[-1]["lr"],
            ips=trainer.images_seen / elapsed if elapsed > 0 else 0.0,
            **metrics,
        )

    def on_epoch_end(self, trainer, record):
        self.progress.remove_task(self.task)
        self.console.print(epoch_line(record, trainer.num_epochs), highlight=False)

    def on_fit_end(self, trainer):
        self._close()

    def on_exception(self, trainer, exc):
        self._close()

    def _close(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class JsonlLog(Callback):
    """Appends each epoch's record to log.jsonl, so a run can be followed with `tail -f`."""

    def __init__(self, run: RunDir):
        self.run = run

    def on_epoch_end(self, trainer, record):
        self.run.append_log({"event": "epoch", "time": utc_now(), **record})


class LogEpochs(Callback):
    """Epoch summaries through `logging`, for --quiet runs whose logs are collected."""

    def on_epoch_end(self, trainer, record):
        log.info(
            "epoch %d/%d train_loss %.4f val_accuracy %s",
            record["epoch"],
            trainer.num_epochs,
            record["train_loss"],
            record.get("val_accuracy"),
        )
