"""TensorBoard event files in <run>/tensorboard, through torch.utils.tensorboard."""

from __future__ import annotations

from cifarbench.loggers.base import LOGGERS, RunLogger, flat_config, scalars


@LOGGERS.register("tensorboard")
class TensorBoardLogger(RunLogger):
    """TensorBoard event files in <run>/tensorboard (`tensorboard --logdir runs`)."""

    name = "tensorboard"
    package = "tensorboard"
    extra = "tensorboard"

    def start(self, run, config, run_log):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.path / "tensorboard"))
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in flat_config(config).items()))
        self.step = 0

    def log_epoch(self, record):
        self.step = record.get("step", self.step)
        for key, value in scalars(record).items():
            if key not in ("epoch", "step"):
                self.writer.add_scalar(key, value, self.step)
        self.writer.flush()

    def finish(self, status, metrics):
        if metrics is not None:
            split = metrics.get("split", "test")
            self.writer.add_scalar(f"{split}_accuracy", metrics["accuracy"], self.step)
            self.writer.add_scalar(f"{split}_loss", metrics["loss"], self.step)
        self.writer.close()
