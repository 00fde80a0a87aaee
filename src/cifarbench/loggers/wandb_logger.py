"""Weights & Biases through its own library: config, per-epoch numbers, final metrics in the
summary. WANDB_MODE=offline works without a network (wandb writes <run>/wandb/offline-run-*,
which `wandb sync` uploads later); WANDB_PROJECT names the project (default cifarbench). At the
end of a run the logger tears wandb's service down, so that everything is on disk when the run
returns: a script of the user's own that keeps a wandb run open across a cifarbench run would
see its service restarted."""

from __future__ import annotations

import os

from cifarbench.loggers.base import LOGGERS, RunLogger, flat_config, scalars


@LOGGERS.register("wandb")
class WandbLogger(RunLogger):
    """Weights & Biases: config, per-epoch metrics, the final metrics in the summary (offline works)."""

    name = "wandb"
    package = "wandb"
    extra = "wandb"

    def start(self, run, config, run_log):
        import wandb

        self.wandb = wandb
        self.active = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "cifarbench"),
            name=run.path.name,
            dir=str(run.path),
            config=flat_config(config),
            reinit="finish_previous",
        )

    def log_epoch(self, record):
        self.active.log(
            {k: v for k, v in scalars(record).items() if k != "epoch"} | {"epoch": record.get("epoch")},
            step=int(record.get("epoch", 0)),
        )

    def finish(self, status, metrics):
        if metrics is not None:
            split = metrics.get("split", "test")
            self.active.summary[f"{split}_accuracy"] = metrics["accuracy"]
            self.active.summary[f"{split}_loss"] = metrics["loss"]
        self.active.summary["status"] = status
        self.active.finish(exit_code=0 if status == "completed" else 1)
        # finish() returns before wandb's service has written the run's .wandb file to the end (read
        # at once it was sometimes only its 7-byte header, or cut mid-record); teardown waits for it,
        # so the offline run is whole, ready for `wandb sync`, when the run says it is done
        self.wandb.teardown()
