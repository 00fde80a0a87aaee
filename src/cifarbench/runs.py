"""The run directory: the product's record of one run, every file written atomically.

    runs/<UTC time>-<dataset>-<model>-<id>/
        config.yaml               the resolved configuration
        run_log.json              hardware fingerprint, versions, timing, results, status
        history.json              one entry per epoch
        metrics.json              final evaluation (per-class, confusion matrix, ...)
        classification_report.txt
        log.jsonl                 one JSON line per epoch, appended as training goes
        checkpoints/last.pt       model, optimizer, scheduler, RNG states, history, config (PyTorch)
        checkpoints/last.npz|json weights and their metadata (MLX)
        .lock                     held (flock) by the process training the run

Every file is written through files.atomic_file: a kill at any moment leaves either the old
file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout

from cifarbench.errors import UserError
from cifarbench.files import atomic_write_json, atomic_write_text, json_default, new_folder


class RunDir:
    """One run's folder. Create with `RunDir.create`, reopen with `RunDir.open`."""

    CONFIG = "config.yaml"
    RUN_LOG = "run_log.json"
    HISTORY = "history.json"
    METRICS = "metrics.json"
    REPORT = "classification_report.txt"
    LOG = "log.jsonl"
    CHECKPOINT = "checkpoints/last.pt"  # PyTorch runs: the whole training state (checkpoints.py)
    MLX_WEIGHTS = "checkpoints/last.npz"  # MLX runs: the weights, in MLX's (numpy's) format
    MLX_META = "checkpoints/last.json"  # ... and what is needed to use them
    LOCK = ".lock"

    def __init__(self, path: Path, writable: bool = True):
        self.path = Path(path)
        # False on the ranks of a distributed run other than 0: they see the run, rank 0 writes it
        self.writable = writable

    @classmethod
    def create(cls, runs_root: Path, dataset: str, model: str, name: str | None = None) -> RunDir:
        return cls(new_folder(runs_root, name or f"{dataset}-{model}"))

    @classmethod
    def open(cls, path: Path) -> RunDir:
        run = cls(Path(path))
        if not (run.path / cls.RUN_LOG).is_file() and not (run.path / cls.CONFIG).is_file():
            raise UserError(f"{path} is not a cifarbench run directory (no {cls.RUN_LOG} or {cls.CONFIG})")
        return run

    def file(self, name: str) -> Path:
        return self.path / name

    @contextlib.contextmanager
    def lock(self):
        """Hold the run's lock while training it: a second process (a `--resume` while the run
        is still going) is refused instead of interleaving checkpoints. The operating system
        releases the lock when the process dies, even by kill -9."""
        if not self.writable:
            yield
            return
        lock = FileLock(self.path / self.LOCK, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise UserError(
                f"{self.path} is being trained by another process right now (it holds "
                f"{self.LOCK}); wait for it to end or stop it first"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def write_json(self, name: str, obj: Any) -> None:
        if not self.writable:
            return
        atomic_write_json(obj, self.path / name)

    def write_text(self, name: str, text: str) -> None:
        if not self.writable:
            return
        atomic_write_text(text, self.path / name)

    def write_config(self, config_dict: dict) -> None:
        self.write_text(self.CONFIG, yaml.safe_dump(config_dict, sort_keys=False))

    def read_json(self, name: str) -> Any:
        try:
            with open(self.path / name, encoding="utf-8") as f:
                return json.load(f)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            raise UserError(f"{self.path / name} is not readable JSON ({str(exc).splitlines()[0][:160]})") from None

    def read_config(self) -> dict:
        try:
            with open(self.path / self.CONFIG, encoding="utf-8") as f:
                config = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UserError(
                f"{self.path / self.CONFIG} is not readable YAML ({str(exc).splitlines()[0][:160]})"
            ) from None
        except FileNotFoundError:
            raise UserError(f"{self.path} has no {self.CONFIG}") from None
        if not isinstance(config, dict):
            raise UserError(f"{self.path / self.CONFIG} holds no config mapping")
        return config

    def append_log(self, record: dict) -> None:
        """One JSON line per event; a line is appended whole with one write."""
        if not self.writable:
            return
        line = json.dumps(record, default=json_default) + "\n"
        with open(self.path / self.LOG, "a", encoding="utf-8") as f:
            f.write(line)

    def update_run_log(self, **fields: Any) -> dict:
        """Merge fields into run_log.json (written atomically) and return the result."""
        if not self.writable:
            return dict(fields)
        path = self.path / self.RUN_LOG
        current = self.read_json(self.RUN_LOG) if path.is_file() else {}
        current.update(fields)
        self.write_json(self.RUN_LOG, current)
        return current
