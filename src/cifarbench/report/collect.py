"""Reading run directories for comparisons and reports, safely while they are being written.

Every file of a run is replaced atomically (runs.py), so each read sees a whole old or a
whole new file. A run still training has no metrics.json yet: it is reported as running,
with the history it has. A file that cannot be parsed is recorded as a problem of that run
instead of stopping the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cifarbench.errors import UserError
from cifarbench.runs import RunDir


@dataclass
class RunRecord:
    path: Path
    config: dict = field(default_factory=dict)
    run_log: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    metrics: dict | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return self.run_log.get("status", "unknown")

    @property
    def dataset(self) -> str:
        return self.run_log.get("dataset") or self.config.get("data", {}).get("dataset", "?")

    @property
    def model(self) -> str:
        return self.run_log.get("model") or self.config.get("model", {}).get("name", "?")

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics["accuracy"] if self.metrics else None

    @property
    def best_val_accuracy(self) -> float | None:
        vals = [h["val_accuracy"] for h in self.history if "val_accuracy" in h]
        return max(vals) if vals else None

    @property
    def per_class(self) -> dict[str, float]:
        if not self.metrics:
            return {}
        return {name: m["accuracy"] for name, m in self.metrics["per_class"].items()}


def _read(path: Path, parse, problems: list[str]):
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: {exc}")
        return None


def read_run(path: str | Path) -> RunRecord:
    path = Path(path)
    if not (path / RunDir.RUN_LOG).is_file() and not (path / RunDir.CONFIG).is_file():
        raise UserError(f"{path} is not a cifarbench run directory (no {RunDir.RUN_LOG} or {RunDir.CONFIG})")
    record = RunRecord(path)
    record.config = _read(path / RunDir.CONFIG, yaml.safe_load, record.problems) or {}
    record.run_log = _read(path / RunDir.RUN_LOG, json.load, record.problems) or {}
    history = _read(path / RunDir.HISTORY, json.load, record.problems)
    if history is None:  # still training: the epochs so far are in log.jsonl
        history = _read(path / RunDir.LOG, _complete_jsonl_lines, record.problems) or []
    record.history = history
    if record.status == "completed":  # metrics.json of an earlier attempt is not this run's result
        record.metrics = _read(path / RunDir.METRICS, json.load, record.problems)
    return record


def _complete_jsonl_lines(f) -> list[dict]:
    """The epoch records of log.jsonl; a last line still being appended (no newline) is left out."""
    out = []
    for line in f.read().split("\n")[:-1]:
        if line.strip():
            entry = json.loads(line)
            if entry.get("event") == "epoch":
                out.append({k: v for k, v in entry.items() if k not in ("event", "time")})
    return out


def find_runs(root: str | Path) -> list[RunRecord]:
    """Every run directory under `root` (nested too: --runs N folders hold several), oldest first."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of runs")
    paths = sorted({p.parent for p in root.rglob(RunDir.RUN_LOG)}, key=lambda p: (p.name, str(p)))
    return [read_run(p) for p in paths]


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}"""
    out: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
