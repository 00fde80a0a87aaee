"""`cifarbench tune`: trials are normal runs scored on a validation split with the test split
sealed; a study in SQLite is shared by processes and survives a kill; bad input is one line."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from cifarbench import cli
from cifarbench.api import train
from cifarbench.config import RunConfig
from cifarbench.data import prepare
from cifarbench.data.dataset import Split
from cifarbench.errors import ConfigError, DataError
from cifarbench.eval.inference import evaluate_loaded, load_model
from cifarbench.resolve import resolve_config
from cifarbench.search.space import load_space, parse_space
from cifarbench.search.tune import BUDGET_CHECK_EVERY, TuneRequest, open_study, tune
from cifarbench.training.trainer import Trainer
from conftest import HANG_GUARD_SECONDS, HARDWARE, needs_extra

optuna = needs_extra("tune", "optuna")

TINY = ["--recipe", "airbench94", "--model", "airbench-tiny", "--dataset", "synthetic", "--device", "cpu",
        "--set", "data.synthetic_shape=[1,16,16]", "--set", "data.synthetic_train_size=400",
        "--set", "data.synthetic_test_size=50", "--set", "train.batch_size=50", "--set", "train.eval_batch_size=100",
        "--set", "hardware.channels_last=false", "--no-plots"]  # a trial's charts are the runs' business, not tune's
SPACE = {"optim.lr": {"low": 1.0, "high": 8.0, "log": True}, "train.epochs": {"low": 1, "high": 2},
         "train.tta": [0, 1]}


def base_values() -> dict:
    return {"model": {"name": "airbench-tiny"},
            "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 400,
                     "synthetic_test_size": 50},
            "train": {"batch_size": 50, "eval_batch_size": 100, "channels_last": False, "device": "cpu",
                      "plots": False}}


@pytest.fixture
def space_file(tmp_path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    return path


def study_trials(folder: Path):
    study = optuna.load_study(study_name=folder.name.removeprefix("tune-"), storage=f"sqlite:///{folder / 'study.db'}")
    return study.get_trials()


def finished(trials) -> list:
    return [t for t in trials if "outcome" in t.user_attrs]


# ---------------------------------------------------------------- the test split


class UntouchableSplit(Split):
    """A split whose images or labels, once read, fail the test."""

    def __post_init__(self):  # built here from a split that already has its layout: nothing to check
        pass

    def __getattribute__(self, name):
        if name in ("images", "labels", "take", "__len__"):
            raise AssertionError(f"the test split was read ({name})")
        return object.__getattribute__(self, name)


def test_a_search_never_reads_the_test_split(tmp_path, space_file, monkeypatch):
    real = prepare.load_configured_dataset

    def load_with_untouchable_test(config, quiet=False):
        dataset = real(config, quiet)
        dataset.test = UntouchableSplit(dataset.test.images, dataset.test.labels)
        return dataset

    monkeypatch.setattr(prepare, "load_configured_dataset", load_with_untouchable_test)
    result = tune(TuneRequest("airbench94", load_space(space_file), base_values(), trials=3,
                              runs_dir=str(tmp_path / "runs"), quiet=True))
    outcomes = [r["outcome"] for r in result["trials"]]
    assert outcomes == ["complete"] * 3, [r.get("reason") for r in result["trials"]]
    for row in result["trials"]:
        log = json.loads((Path(row["run_dir"]) / "run_log.json").read_text())
        assert log["final_split"] == "validation" and log["test_images"] is None
        assert log["validation_split"] == "validation" and log["val_images"] == 40  # 10% of 400
        # the score the study holds is the trial's final weights evaluated afresh on its validation split
        config = RunConfig.from_dict(yaml.safe_load((Path(row["run_dir"]) / "config.yaml").read_text()))
        val = prepare.prepare_data(config, quiet=True, final="validation").val
        loaded = load_model(row["run_dir"], "cpu")
        again = evaluate_loaded(loaded, val.images, val.labels, tta=config.train.tta)
        assert len(val) == 40 and again["accuracy"] == pytest.approx(row["val_accuracy"], abs=1e-9)


def test_a_run_told_to_end_on_validation_has_its_test_split_sealed(tmp_path):
    config = resolve_config("airbench94", base_values(), {"data": {"val_split": 0.2}})
    data = prepare.prepare_data(config, quiet=True, final="validation")
    assert data.final_split is data.val and data.test_sealed
    with pytest.raises(DataError, match="sealed"):
        len(data.test)
    with pytest.raises(DataError, match="sealed"):
        data.dataset.test.images  # noqa: B018
    with pytest.raises(ConfigError, match="val_split"):
        train(resolve_config("airbench94", base_values(), {"runs_dir": str(tmp_path)}), final="validation")


# ---------------------------------------------------------------- the study


def test_a_search_whose_every_trial_is_refused_exits_1(tmp_path, capsys):
    """Nothing to recommend is not a finished search: a script or CI job sees a failure, and the
    table says why each trial was refused."""
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.batch_size": {"choices": [4096]}}))  # more than the 400 images
    code = cli.main(["tune", *TINY, "--space", str(space), "--trials", "2", "--runs-dir", str(tmp_path / "runs"),
                     "--quiet"])
    out = capsys.readouterr().out
    assert code == 1 and "no trial completed" in out and "larger than the" in out, out[-1500:]


def test_the_best_config_is_a_yaml_train_takes(tmp_path, space_file, capsys):
    runs = tmp_path / "runs"
    assert cli.main(["tune", *TINY, "--space", str(space_file), "--trials", "3", "--runs-dir", str(runs),
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    folder = runs / "tune-airbench94-synthetic"
    best = yaml.safe_load((folder / "best.yaml").read_text())
    table = json.loads((folder / "trials.json").read_text())
    assert "machine" in table and len(table["trials"]) == 3
    chosen = next(t for t in table["trials"] if t["number"] == table["best_trial"])
    assert chosen["val_accuracy"] == max(t["val_accuracy"] for t in table["trials"])
    assert best["optim"]["lr"] == chosen["params"]["optim.lr"] and best["train"]["tta"] == chosen["params"]["train.tta"]
    assert (folder / "history.png").stat().st_size > 1000
    assert f"best: trial {chosen['number']}" in out and "ran 3 trials" in out
    # the recommended config trains as given
    assert cli.main(["train", "--config", str(folder / "best.yaml"), "--runs-dir", str(tmp_path / "again"),
                     "--quiet", "--no-plots"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def _tune_command(space_file: Path, runs: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "cifarbench", "tune", *TINY, "--space", str(space_file), "--trials", str(trials),
            "--runs-dir", str(runs)]


def _ran(stdout: str) -> int:
    return int(stdout.split("this command ran ")[1].split(" trials")[0])


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study_and_the_trial_count_adds_up(tmp_path, space_file):
    runs = tmp_path / "runs"
    # create the study first, so the two processes join it rather than race to create it
    assert subprocess.run(_tune_command(space_file, runs, 1), capture_output=True, text=True).returncode == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(_tune_command(space_file, runs, 5), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    ran = [_ran(o) for o, _ in outs]
    trials = study_trials(runs / "tune-airbench94-synthetic")
    assert len(trials) == 5 and len(finished(trials)) == 5
    # 1 + 4 = 5, no trial twice: had they not shared the count, they would have run 4 each. How the
    # four are split between them depends on how fast each one started, not on the study
    assert sum(ran) == 4, ran
    by_pid = {pid: sum(t.user_attrs["pid"] == pid for t in trials) for pid in {t.user_attrs["pid"] for t in trials}}
    assert sorted(by_pid.values()) == sorted([1, *(n for n in ran if n)])


@pytest.mark.slow
def test_a_killed_search_resumes_where_it_stopped(tmp_path, space_file):
    runs = tmp_path / "runs"
    folder = runs / "tune-airbench94-synthetic"
    space_file.write_text(yaml.safe_dump({k: v for k, v in SPACE.items() if k != "train.epochs"}))
    short, endless = ["--set", "train.epochs=1"], ["--set", "train.epochs=100000"]
    assert subprocess.run([*_tune_command(space_file, runs, 1), *short], capture_output=True).returncode == 0
    # the next trial would train for hours: the kill lands inside it however fast the machine is
    proc = subprocess.Popen([*_tune_command(space_file, runs, 4), *endless], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        while not list((folder / "trials").glob("*trial0001*/log.jsonl")):  # its first epoch is logged
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    before = study_trials(folder)
    assert [(t.number, t.state.name, "outcome" in t.user_attrs) for t in before] == [(0, "COMPLETE", True),
                                                                                        (1, "RUNNING", False)]
    again = subprocess.run([*_tune_command(space_file, runs, 4), *short], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "trials 1 were interrupted; they will be run again" in again.stderr  # progress goes to stderr
    after = study_trials(folder)
    assert len(finished(after)) == 4 and _ran(again.stdout) == 3
    # the trial the kill cut short: failed, without an outcome, not counted
    assert after[1].state.name == "FAIL" and "outcome" not in after[1].user_attrs


@pytest.mark.parametrize("recorded, state, ran", [
    ({}, "FAIL", 2),  # killed before its outcome was written: failed, and run again
    ({"val_accuracy": 0.5, "seconds": 1.0, "outcome": "complete"}, "COMPLETE", 1),  # killed before telling
    ({"reason": "trial 0 pruned at epoch 1", "outcome": "pruned"}, "PRUNED", 1),
])
def test_a_trial_whose_process_died_is_settled_by_what_it_recorded(tmp_path, space_file, recorded, state, ran):
    """The moment between recording a trial's outcome and telling the study, made on purpose."""
    request = TuneRequest("airbench94", load_space(space_file), base_values(), trials=2,
                          runs_dir=str(tmp_path / "runs"), quiet=True)
    request.folder().mkdir(parents=True)
    _, study, _ = open_study(request)
    trial = study.ask()
    for param in request.space:
        param.suggest(trial)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()  # a process id that no longer runs
    for key, value in {"host": socket.gethostname(), "pid": gone.pid, **recorded}.items():
        trial.set_user_attr(key, value)
    result = tune(request)
    trials = study_trials(request.folder())
    assert trials[0].state.name == state
    if state == "COMPLETE":
        assert trials[0].value == 0.5  # the recorded accuracy, not a new run's
    assert ("outcome" in trials[0].user_attrs) == bool(recorded)
    assert result["ran_here"] == [ran] and len(finished(trials)) == 2
    assert len(trials) == 1 + ran  # nothing run twice, nothing lost


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("content, message", [
    ("optim.lr: [", "not valid YAML"),
    ("- optim.lr", "non-empty mapping"),
    ("optim.speed: {low: 1, high: 2}", "'optim.speed' is not a config field"),
    ("lr: {low: 1, high: 2}", "'lr' is not a config field"),
    ("optim.lr: {low: 2, high: 1}", "low 2 must be below high 1"),
    ("optim.lr: {low: 0, high: 1, log: true}", "log range needs low > 0"),
    ("optim.lr: {low: 1}", "needs low and high"),
    ("optim.lr: {choices: []}", "non-empty list"),
])
def test_a_bad_space_file_is_one_line_and_nothing_is_written(tmp_path, capsys, content, message):
    space = tmp_path / "space.yaml"
    space.write_text(content)
    runs = tmp_path / "runs"
    assert cli.main(["tune", *TINY, "--space", str(space), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not runs.exists()


@pytest.mark.parametrize("args, message", [
    (["--storage", "notadatabase://x"], "is not a database URL"),
    (["--storage", "sqlite:////nonexistent/folder/study.db"], "cannot open the database"),
    (["--recipe", "airbench9000"], "unknown recipe 'airbench9000'"),
    (["--budget-s", "60", "--target", "0.9"], "not allowed with argument"),
    (["--target", "93"], "between 0 and 1"),
    (["--trials", "0"], "must be at least 1"),
])
def test_bad_tune_arguments_are_one_line_exit_2(tmp_path, capsys, space_file, args, message):
    runs = tmp_path / "runs"
    try:
        code = cli.main(["tune", *TINY, "--space", str(space_file), "--runs-dir", str(runs), *args])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not runs.exists()


def test_tune_without_optuna_names_the_extra(tmp_path, capsys, space_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now raises ImportError
    assert cli.main(["tune", *TINY, "--space", str(space_file), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "pip install 'cifarbench[tune]'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_space_entries_become_optuna_distributions():
    params = {p.field: p for p in parse_space({"train.epochs": {"low": 2, "high": 8, "step": 2},
                                               "optim.lr": {"low": 0.5, "high": 4.0, "log": True},
                                               "model.name": ["airbench-tiny", "airbench-small"]})}
    study = optuna.create_study()
    trial = study.ask()
    values = {name: p.suggest(trial) for name, p in params.items()}
    assert values["train.epochs"] in (2, 4, 6, 8) and isinstance(values["train.epochs"], int)
    assert 0.5 <= values["optim.lr"] <= 4.0 and isinstance(values["optim.lr"], float)
    assert values["model.name"] in ("airbench-tiny", "airbench-small")
    assert isinstance(trial.distributions["optim.lr"], optuna.distributions.FloatDistribution)
    assert trial.distributions["optim.lr"].log


@pytest.mark.slow
def test_jobs_run_worker_processes_on_their_own_cores(tmp_path, space_file, all_cores):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip(f"{HARDWARE}needs two cores to share out")
    result = tune(TuneRequest("airbench94", load_space(space_file), base_values(), trials=4, jobs=2,
                              runs_dir=str(tmp_path / "runs"), quiet=True))
    assert len(result["ran_here"]) == 2 and sum(result["ran_here"]) == 4
    pids = {json.loads((Path(r["run_dir"]) / "run_log.json").read_text())["threads"] for r in result["trials"]}
    assert pids == {1}  # each worker trained with one thread: its share of the two cores


def test_a_budget_stops_training_once_its_clock_passes_it(tmp_path, space_file, monkeypatch):
    # a training clock that advances 10 ms a step, so where the budget falls does not depend on
    # how fast this machine trains: 0.25 s is passed at step 26, read at the next check, step 28
    monkeypatch.setattr(Trainer, "training_seconds_so_far", lambda trainer: trainer.state.step * 0.01)
    space_file.write_text(yaml.safe_dump({"optim.lr": {"low": 1.0, "high": 2.0}}))
    result = tune(TuneRequest("airbench94", load_space(space_file),
                              {**base_values(), "train": {**base_values()["train"], "epochs": 50}}, trials=1,
                              budget_s=0.25, runs_dir=str(tmp_path / "runs"), quiet=True))
    (row,) = result["trials"]
    log = json.loads((Path(row["run_dir"]) / "run_log.json").read_text())
    assert row["outcome"] == "complete" and log["epochs_completed"] < 50
    assert BUDGET_CHECK_EVERY == 4 and log["steps"] == 28  # mid-epoch 4 (8 steps an epoch), not at its end


def test_a_target_objective_minimises_time_and_prunes_runs_that_miss_it(tmp_path, space_file):
    result = tune(TuneRequest("airbench94", load_space(space_file), base_values(), trials=2, target=0.99,
                              runs_dir=str(tmp_path / "runs"), quiet=True))
    assert result["direction"] == "minimize" and result["best_trial"] is None
    assert [r["outcome"] for r in result["trials"]] == ["missed target"] * 2
    assert all(r["val_accuracy"] < 0.99 and r["seconds"] > 0 for r in result["trials"])
    assert not (Path(result["folder"]) / "best.yaml").exists()


# ---------------------------------------------------------------- a shared study on a real PostgreSQL server


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture
def postgres_url():
    """A PostgreSQL cluster of the test's own: initdb and pg_ctl in a temporary folder, a free port
    on 127.0.0.1, as the `postgres` user when the tests run as root (the server refuses root)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; CI installs it)")
    folder = Path(tempfile.mkdtemp(prefix="cifarbench-pg-"))
    as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_server:
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_server, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                   capture_output=True)
    subprocess.run([*as_server, pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_server, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _pg_trials(url: str):
    return optuna.load_study(study_name="airbench94-synthetic", storage=url).get_trials()


@pytest.mark.slow
def test_two_workers_on_postgresql_survive_one_killed_mid_trial(tmp_path, space_file, postgres_url):
    runs = tmp_path / "runs"
    space_file.write_text(yaml.safe_dump({k: v for k, v in SPACE.items() if k != "train.epochs"}))
    shared = ["--storage", postgres_url, "--heartbeat-s", "1"]
    short, endless = ["--set", "train.epochs=1"], ["--set", "train.epochs=100000"]
    first = subprocess.run([*_tune_command(space_file, runs, 1), *shared, *short], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    # worker A takes trial 1, which would train for hours; worker B takes the rest, then waits for A
    a = subprocess.Popen([*_tune_command(space_file, runs, 4), *shared, *endless], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    b = None
    try:
        while not list((runs / "tune-airbench94-synthetic" / "trials").glob("*trial0001*/log.jsonl")):
            assert a.poll() is None, a.communicate()[1][-2000:]
            time.sleep(0.05)
        b = subprocess.Popen([*_tune_command(space_file, runs, 4), *shared, *short], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        while sum("outcome" in t.user_attrs for t in _pg_trials(postgres_url)) < 3:  # B has run trials 2 and 3
            assert b.poll() is None, b.communicate()[1][-2000:]
            time.sleep(0.1)
        assert a.poll() is None and b.poll() is None  # B waits for the trial A is still running
    finally:
        a.kill()  # SIGKILL in the middle of trial 1
        a.communicate()
    out, err = b.communicate(timeout=HANG_GUARD_SECONDS)
    assert b.returncode == 0, err
    trials = _pg_trials(postgres_url)
    killed = trials[1]
    assert killed.state.name == "FAIL" and "outcome" not in killed.user_attrs
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == 1]  # its heartbeat stopped: run again
    assert retry.state.name == "COMPLETE" and retry.params == killed.params
    assert retry.user_attrs["pid"] == b.pid
    counted = [t for t in trials if "outcome" in t.user_attrs]
    assert len(counted) == 4 and len(trials) == 5  # exactly --trials finished: none lost, none twice
    assert _ran(out) == 3  # trials 2 and 3, then the retry of 1


def test_a_postgresql_url_without_a_server_or_driver_is_one_line(tmp_path, capsys, space_file, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    runs = tmp_path / "runs"
    assert cli.main(["tune", *TINY, "--space", str(space_file), "--runs-dir", str(runs), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert "cannot open the database" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    assert cli.main(["tune", *TINY, "--space", str(space_file), "--runs-dir", str(runs), "--storage", url]) == 2
    err = capsys.readouterr().err
    assert "needs a database driver" in err and len(err.strip().splitlines()) == 1
    assert not runs.exists()


# ---------------------------------------------------------------- the rule a recipe is taken from a study by


def test_a_trial_the_budget_cut_short_is_not_recommended():
    from cifarbench.search.tune_report import best_trial

    study = optuna.create_study(direction="maximize")
    for value, cut in ((0.90, False), (0.93, True), (0.92, False), (0.92, False)):
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"stopped_by_budget": cut}))
    assert best_trial(study).number == 2  # 0.93 was cut short; of the two 0.92s, the earlier
    assert best_trial(optuna.create_study()) is None


@pytest.mark.parametrize("recipe, study, budget_s, check", [
    ("fashion-tiny-2.25ep", "fashion93", 50.0, {"optim.lr": 0.01, "optim.label_smoothing": 0.01, "train.epochs": 0,
                                      "train.batch_size": 0, "train.tta": 0}),
    ("fashion-tiny-8ep", "fashion94", 160.0, {"optim.lr": 0.01, "optim.label_smoothing": 0.01, "train.epochs": 0,
                                       "train.batch_size": 0, "model.name": None}),
])
def test_the_cpu_recipes_are_the_trials_their_kept_studies_recommend(recipe, study, budget_s, check):
    """Each value of fashion-tiny-2.25ep/-160s (studies fashion93/fashion94) is the value of the trial that the one rule picks from the
    study kept in benchmarks/tune/ (rounded as the recipe says), and the tables there agree."""
    from cifarbench.search.tune_report import best_trial

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "tune" / study
    kept = optuna.load_study(study_name=study, storage=f"sqlite:///{folder / 'study.db'}")
    assert kept.user_attrs["search"]["budget_s"] == budget_s
    best = best_trial(kept, "maximize")
    assert best is not None and not best.user_attrs["stopped_by_budget"]
    config = resolve_config(recipe, {})
    for field, tolerance in check.items():
        section, name = field.split(".")
        mine, theirs = getattr(getattr(config, section), name), best.params[field]
        assert mine == (pytest.approx(theirs, abs=tolerance) if tolerance is not None else theirs), field
    assert json.loads((folder / "trials.json").read_text())["best_trial"] == best.number
    assert f"| {best.number} (best) |" in (folder / "trials.md").read_text()
    assert yaml.safe_load((folder / "best.yaml").read_text())["optim"]["lr"] == best.params["optim.lr"]
