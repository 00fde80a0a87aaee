"""`cifarbench tune`: adapt a recipe to a machine and a dataset with Optuna, never looking at the test split.

    cifarbench tune --recipe airbench94 --dataset fashion-mnist --space space.yaml --trials 20 --budget-s 60

Every trial is a normal run of the one loop (its own run directory and run_log, under
<runs-dir>/tune-<study>/trials/) that trains on the training split less a validation part
(data.val_split, 0.1 unless the config says otherwise) and ends on that validation part: its test
split is sealed (data/prepare.py), so reading it would be an error, not a silent leak.

Objectives:
  (default)      the final validation accuracy (the recipe's TTA included), maximised
  --budget-s S   the same, with training stopped once its clock passes S seconds: what S buys
  --target ACC   the seconds of a run (init + training + final evaluation) that ends at or above
                 ACC validation accuracy, minimised; a run that ends below it is pruned

Trials that fall behind are pruned on their per-epoch validation accuracy (Optuna's median
pruner) in the accuracy objectives. The study lives in a database, SQLite in the study folder by
default (one machine, as Optuna's own documentation says of SQLite): running the same command
again (or with --resume) continues it. A server database (--storage postgresql://...) lets
processes on several machines work on one study. --trials N is the number of finished trials the
study should hold, counted over every process: each takes the next trial while fewer are finished
or running, counting and asking as one step under a lock (PostgreSQL's advisory lock for a
PostgreSQL study, else a file lock in the study folder), and a process whose count is reached
waits for the trials still running elsewhere. --jobs K runs K worker processes here, the CPU cores
shared out between them.

A trial's process beats a heartbeat into the study every --heartbeat-s seconds. A trial whose
heartbeat stops (its process was killed, its machine lost) is failed by the next process that
looks (Optuna's fail_stale_trials) and its parameters queued again, so the study still ends with
N finished trials, none lost and none counted twice.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import socket
import threading
import time
import warnings
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from cifarbench.api import train
from cifarbench.console import CONSOLE
from cifarbench.contract.callbacks import TimeLimit
from cifarbench.data.custom import folder_label
from cifarbench.devices import core_blocks, pin_to_cores
from cifarbench.errors import ConfigError, RunStopped, UserError
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.search.space import Param, as_config_layer

if TYPE_CHECKING:
    from optuna.trial import TrialState  # optuna is an optional extra: imported where a study is opened

DEFAULT_VAL_SPLIT = 0.1  # the validation part carved from training data when the config has none
BUDGET_CHECK_EVERY = 4  # steps between two reads of the training clock in --budget-s mode
HEARTBEAT_S = 30  # a trial's heartbeat interval; a trial silent for GRACE_BEATS of them is taken as dead
GRACE_BEATS = 3
# how often a worker with nothing left to ask looks at the study again: soon after the last trial
# elsewhere finishes it ends (a heartbeat's interval would keep it up to 30 s past the study's end)
WAIT_POLL_S = 1.0


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise UserError("cifarbench tune needs Optuna, an optional extra: pip install 'cifarbench[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass
class TuneRequest:
    recipe: str | None
    space: list[Param]
    base: dict = field(default_factory=dict)  # config values given explicitly (dataset, device, ...)
    trials: int = 20
    budget_s: float | None = None
    target: float | None = None
    storage: str | None = None
    study: str | None = None
    jobs: int = 1
    resume: bool = False
    runs_dir: str = "runs"
    quiet: bool = False
    heartbeat_s: int = HEARTBEAT_S

    def __post_init__(self):
        if self.heartbeat_s < 1:
            raise ConfigError(f"--heartbeat-s {self.heartbeat_s} must be a whole number of seconds, at least 1")
        if self.trials < 1:
            raise ConfigError(f"--trials {self.trials} must be at least 1")
        if self.jobs < 1:
            raise ConfigError(f"--jobs {self.jobs} must be at least 1")
        if self.budget_s is not None and self.target is not None:
            raise ConfigError("give --budget-s or --target, not both: one objective per study")
        if self.budget_s is not None and not self.budget_s > 0:
            raise ConfigError(f"--budget-s {self.budget_s} must be a positive number of seconds")
        if self.target is not None and not 0 < self.target < 1:
            raise ConfigError(f"--target {self.target} must be an accuracy between 0 and 1 (e.g. 0.93)")

    @property
    def objective(self) -> str:
        return "time-to-target" if self.target is not None else "accuracy"

    @property
    def direction(self) -> str:
        return "minimize" if self.target is not None else "maximize"

    @functools.cached_property
    def base_config(self):
        """The config every trial starts from (recipe < explicit values), with a validation part."""
        config = resolve_config(self.recipe, self.base)
        if config.data.val_split <= 0:
            config = resolve_config(self.recipe, self.base, {"data": {"val_split": DEFAULT_VAL_SPLIT}})
        return config

    def study_name(self) -> str:
        config = self.base_config
        return self.study or f"{config.recipe}-{folder_label(config.data.dataset)}"

    def folder(self) -> Path:
        return Path(self.runs_dir) / f"tune-{self.study_name()}"

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.folder() / 'study.db').resolve()}"

    def search(self) -> dict:
        """What defines the study; a second process must join with the same."""
        return {
            "recipe": self.base_config.recipe,
            "objective": self.objective,
            "budget_s": self.budget_s,
            "target": self.target,
            "space": sorted(p.field for p in self.space),
        }


# ---------------------------------------------------------------- the study


def open_study(request: TuneRequest):
    optuna = require_optuna()
    from sqlalchemy.exc import ArgumentError, OperationalError

    url = request.storage_url()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat arguments
            storage = optuna.storages.RDBStorage(
                url,
                heartbeat_interval=request.heartbeat_s,
                grace_period=GRACE_BEATS * request.heartbeat_s,
                heartbeat_stale_trial_callback=settle_stale_trial(request),
            )
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"--storage {url!r} is not a database URL SQLAlchemy knows ({exc})") from None
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError as its own ImportError
        missing = getattr(exc.__cause__, "name", None) or exc.name
        raise ConfigError(
            f"--storage {url!r} needs a database driver{f' ({missing!r})' if missing else ''} that "
            "is not installed: PostgreSQL's comes with pip install 'cifarbench[tune]'"
        ) from None
    except OperationalError as exc:
        raise ConfigError(f"--storage {url!r}: cannot open the database ({str(exc.orig).splitlines()[0]})") from None
    study = optuna.create_study(
        study_name=request.study_name(),
        storage=storage,
        direction=request.direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=None),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
    )
    search = request.search()
    saved = study.user_attrs.get("search")
    if saved is None:
        study.set_user_attr("search", search)
    elif saved != search:
        raise ConfigError(
            f"study {study.study_name!r} was created for {saved}; this command asks for {search}: give another --study"
        )
    return optuna, study, storage


def retried(trials) -> set[int]:
    """Numbers of the trials whose heartbeat stopped and whose parameters were queued again."""
    return {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}


def finished(trial, superseded: Set[int] = frozenset()) -> bool:
    """A trial that ran to an outcome (interrupted trials have none and are run again; a trial
    retried after its heartbeat stopped counts through its retry)."""
    return "outcome" in trial.user_attrs and trial.number not in superseded


def count_trials(optuna, trials) -> tuple[int, int]:
    """(finished, running) trials, each trial counted once."""
    superseded = retried(trials)
    done = sum(finished(t, superseded) for t in trials)
    running = sum(t.state == optuna.trial.TrialState.RUNNING and not finished(t, superseded) for t in trials)
    return done, running


PRUNED_OUTCOMES = ("pruned", "missed target")


def told_as(optuna, attrs: dict, request: TuneRequest) -> tuple[TrialState, float | None]:
    """(trial state, value) for a trial's recorded attributes: the one place that maps an outcome
    to a state, so a trial told by its own process and one settled after it died end the same."""
    state, outcome = optuna.trial.TrialState, attrs["outcome"]
    if outcome == "complete":
        return state.COMPLETE, attrs["seconds"] if request.target is not None else attrs["val_accuracy"]
    return (state.PRUNED if outcome in PRUNED_OUTCOMES else state.FAIL), None


def tell_outcome(optuna, study, number: int, attrs: dict, request: TuneRequest) -> None:
    state, value = told_as(optuna, attrs, request)
    if value is None:
        study.tell(number, state=state)
    else:
        study.tell(number, value)


def settle_stale_trial(request: TuneRequest):
    """Optuna's callback for a trial it failed because its heartbeat stopped: the trial's recorded
    outcome, if it had one, is added to the study as a finished copy; otherwise its parameters are
    queued to run again. Either way the copy names the trial it stands for (retry_of)."""

    def settle(study, trial) -> None:
        import optuna

        if "outcome" in trial.user_attrs:
            state, value = told_as(optuna, trial.user_attrs, request)
            study.add_trial(
                optuna.trial.create_trial(
                    state=state,
                    value=value,
                    params=trial.params,
                    distributions=trial.distributions,
                    user_attrs={**trial.user_attrs, "retry_of": trial.number},
                )
            )
        else:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})

    return settle


def reap_interrupted(optuna, study, request: TuneRequest, everywhere: bool) -> tuple[list[int], list[int]]:
    """Settle the trials whose process is gone: trials of dead processes on this machine, or, with
    `everywhere` (--resume: the user says no process works on the study), every trial still marked
    running. A trial that had recorded its outcome (its process died between recording it and
    telling the study) is told that outcome and counts; one without an outcome is marked failed
    and run again. Returns (told, failed) trial numbers."""
    told, failed = [], []
    host = socket.gethostname()
    trials = study.get_trials(deepcopy=False)  # one read of the study serves both questions
    superseded = retried(trials)
    for trial in (t for t in trials if t.state == optuna.trial.TrialState.RUNNING):
        pid, on = trial.user_attrs.get("pid"), trial.user_attrs.get("host")
        if not (everywhere or (on == host and pid is not None and not _alive(pid))):
            continue
        if finished(trial, superseded):
            tell_outcome(optuna, study, trial.number, trial.user_attrs, request)
            told.append(trial.number)
        else:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            failed.append(trial.number)
    return told, failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- one trial


class TrialMonitor(TimeLimit):
    """Reports each validation to Optuna (which may prune the trial) and, with a budget, stops
    training once the training clock passes it (TimeLimit)."""

    def __init__(self, trial, budget_s: float | None, report: bool):
        super().__init__(budget_s, BUDGET_CHECK_EVERY)
        self.trial, self.report = trial, report

    @property
    def stopped_by_budget(self) -> bool:
        return self.stopped

    def on_eval_end(self, trainer, record):
        if not self.report:
            return
        self.trial.report(record["val_accuracy"], record["epoch"])
        if not self.stopped_by_budget and self.trial.should_prune():
            raise RunStopped(
                f"trial {self.trial.number} pruned at epoch {record['epoch']} "
                f"({record['val_accuracy']:.2%} validation accuracy)",
                0,
                status="pruned",
                record={"pruned_at_epoch": record["epoch"]},
            )


def record_outcome(optuna, study, trial, request: TuneRequest, outcome: str, **attrs) -> None:
    """Write the trial's result, its outcome last, then tell the study. A kill before the outcome
    is written leaves a trial without one (failed and run again on resume); a kill after it,
    one whose outcome reap_interrupted tells the study: never a result recorded and lost."""
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("outcome", outcome)
    tell_outcome(optuna, study, trial.number, {**attrs, "outcome": outcome}, request)


def run_trial(optuna, study, trial, request: TuneRequest) -> str:
    """Run one trial to its outcome and tell the study; returns a one-line summary."""
    values = {p.field: p.suggest(trial) for p in request.space}
    try:
        val_split = request.base_config.data.val_split
        config = resolve_config(
            request.recipe,
            request.base,
            {"data": {"val_split": val_split}},
            as_config_layer(values),
            {
                "runs_dir": str(request.folder() / "trials"),
                "name": f"trial{trial.number:04d}",
                "train": {"eval_every": 1},
                "output": {"plots": False},
            },
        )
    except ConfigError as exc:  # a combination the config refuses is a failed point of the space, not a crash
        record_outcome(optuna, study, trial, request, f"invalid: {exc}")
        return f"invalid ({exc})"
    monitor = TrialMonitor(trial, request.budget_s, report=request.target is None)
    try:
        result = train(config, quiet=True, callbacks=[monitor], final="validation")
    except RunStopped as stop:
        record_outcome(optuna, study, trial, request, stop.status, reason=str(stop))
        return str(stop)
    except UserError as exc:
        record_outcome(optuna, study, trial, request, f"invalid: {exc}")
        return f"invalid ({exc})"
    accuracy, seconds = result.metrics["accuracy"], timed_seconds(result)
    outcome = "missed target" if request.target is not None and accuracy < request.target else "complete"
    record_outcome(
        optuna,
        study,
        trial,
        request,
        outcome,
        val_accuracy=accuracy,
        seconds=seconds,
        train_seconds=result.run_log["train_seconds"],
        stopped_by_budget=monitor.stopped_by_budget,
        run_dir=str(result.run.path),
        epochs_completed=result.run_log["epochs_completed"],
    )
    return f"{outcome}: {accuracy:.2%} validation accuracy in {seconds:.1f} s"


# ---------------------------------------------------------------- workers


def run_worker(request: TuneRequest, cores: list[int] | None = None) -> int:
    """Take trials from the study until it holds request.trials finished ones; returns how many
    this process ran."""
    if cores is not None:
        pin_to_cores(cores)  # this worker's share: the loop sets one thread per core it may use
    optuna, study, storage = open_study(request)
    ran = 0
    while True:
        with ask_lock(request, study, storage):  # count and ask as one step: no process starts more than --trials
            fail_stale_trials(optuna, study)
            done, running = count_trials(optuna, study.get_trials(deepcopy=False))
            if done >= request.trials:
                return ran
            trial = None
            if done + running < request.trials:
                with warnings.catch_warnings():  # Optuna expects heartbeats from optimize(); these are ours
                    warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used with")
                    trial = study.ask()
                storage.record_heartbeat(trial._trial_id)  # at once: a kill from here on leaves a stale trial
                trial.set_user_attr("host", socket.gethostname())
                trial.set_user_attr("pid", os.getpid())
        if trial is None:  # the rest are running elsewhere: wait for them to finish or fall silent
            time.sleep(min(WAIT_POLL_S, request.heartbeat_s))
            continue
        with Heartbeat(storage, trial, request.heartbeat_s):
            summary = run_trial(optuna, study, trial, request)
        ran += 1
        if not request.quiet:
            CONSOLE.print(f"trial {trial.number}: {summary}", highlight=False)


def fail_stale_trials(optuna, study) -> None:
    """Fail the running trials whose heartbeat stopped (settle_stale_trial then queues them again)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeat:
    """Records the trial's heartbeat in the study every `seconds` while the trial runs (a thread),
    so other processes can tell a trial at work from one whose process is gone."""

    def __init__(self, storage, trial, seconds: int):
        self.storage, self.trial_id, self.seconds = storage, trial._trial_id, seconds  # Trial has no public id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="cifarbench-heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(self.seconds):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@contextlib.contextmanager
def ask_lock(request: TuneRequest, study, storage):
    """One process at a time counts the trials and asks for the next: PostgreSQL's advisory lock
    for a PostgreSQL study (every machine sees it), a file lock in the study folder otherwise."""
    engine = storage.engine
    if engine.dialect.name != "postgresql":
        with FileLock(request.folder() / "ask.lock"):
            yield
        return
    from sqlalchemy import text

    key = int.from_bytes(
        hashlib.sha256(f"cifarbench-tune:{study.study_name}".encode()).digest()[:8], "big", signed=True
    )
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def _worker_main(request: TuneRequest, cores: list[int] | None, results) -> None:
    results.put(run_worker(request, cores))


def tune(request: TuneRequest) -> dict:
    """Run the search (here, or in --jobs worker processes), then write its results."""
    if request.storage is None:
        request.folder().mkdir(parents=True, exist_ok=True)  # the default SQLite file lives there
    optuna, study, _ = open_study(request)  # checks the storage and the search before any worker starts
    request.folder().mkdir(parents=True, exist_ok=True)
    told, failed = reap_interrupted(optuna, study, request, everywhere=request.resume)
    if not request.quiet:
        if told:
            CONSOLE.print(
                f"trials {', '.join(map(str, told))} had recorded their outcome when their process "
                "stopped; the study now has it"
            )
        if failed:
            CONSOLE.print(f"trials {', '.join(map(str, failed))} were interrupted; they will be run again")
    if request.jobs == 1:
        ran = [run_worker(request)]
    else:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch threads inherited
        results = context.Queue()
        workers = [
            context.Process(target=_worker_main, args=(request, cores, results)) for cores in core_blocks(request.jobs)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if any(w.exitcode != 0 for w in workers):
            raise RuntimeError(f"a tune worker failed (exit codes {[w.exitcode for w in workers]})")
        ran = [results.get() for _ in workers]
    from cifarbench.search.tune_report import write_study_report

    return {**write_study_report(optuna, study, request), "ran_here": ran}
