"""MLflow: the resolved config as params, each epoch's numbers as metrics, the run directory as
artifacts. MLFLOW_TRACKING_URI is honoured; without it, a local SQLite store beside the runs
(<runs-dir>/mlflow.db, MLflow 3's local default kind; `mlflow ui --backend-store-uri
sqlite:///runs/mlflow.db` shows it). An experiment this logger creates on a local store keeps its
artifacts in <runs-dir>/mlartifacts, so nothing is written outside the folder the user chose."""

from __future__ import annotations

import os
from pathlib import Path

from cifarbench.loggers.base import LOGGERS, RunLogger, flat_config, scalars

STATUS = {"completed": "FINISHED", "interrupted": "KILLED"}
EXPERIMENT = "cifarbench"


@LOGGERS.register("mlflow")
class MlflowLogger(RunLogger):
    """MLflow: the resolved config as params, per-epoch metrics, the run folder as artifacts."""

    name = "mlflow"
    package = "mlflow"
    extra = "mlflow"

    def start(self, run, config, run_log):
        import mlflow

        self.mlflow, self.run = mlflow, run
        runs_dir = Path(config.runs_dir).resolve()
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{runs_dir / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        if mlflow.get_experiment_by_name(EXPERIMENT) is None:
            local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
            try:
                mlflow.create_experiment(
                    EXPERIMENT, artifact_location=(runs_dir / "mlartifacts").as_uri() if local else None
                )
            except mlflow.exceptions.MlflowException:  # another process created it first
                pass
        mlflow.set_experiment(EXPERIMENT)
        self.active = mlflow.start_run(run_name=run.path.name)
        mlflow.log_params({k: str(v) for k, v in flat_config(config).items()})
        mlflow.set_tags(
            {
                "cifarbench.run_dir": str(run.path),
                "cifarbench.dataset": config.data.dataset,
                "cifarbench.model": config.model.name,
            }
        )

    def log_epoch(self, record):
        values = {k: v for k, v in scalars(record).items() if k not in ("epoch", "step")}
        self.mlflow.log_metrics(values, step=int(record.get("epoch", 0)))

    def finish(self, status, metrics):
        if metrics is not None:
            split = metrics.get("split", "test")
            self.mlflow.log_metrics({f"{split}_accuracy": metrics["accuracy"], f"{split}_loss": metrics["loss"]})
        self.mlflow.log_artifacts(str(self.run.path))
        self.mlflow.end_run(status=STATUS.get(status, "FAILED"))
