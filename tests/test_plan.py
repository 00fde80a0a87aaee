"""The planner: its choice from a frontier and made-up calibration figures (budget and target,
too small and too high), its record in the run, and one planned run end to end."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from cifarbench.errors import ConfigError
from cifarbench.planner.calibrate import Timing
from cifarbench.planner.frontier import Point, load_frontier, write_frontier
from cifarbench.planner.plan import EXIT_SECONDS, FIXED_SECONDS, interpolate, make_plan

# 1,000 synthetic images at batch 100: 10 steps an epoch; 200 test images
DATA = {"data": {"dataset": "synthetic", "synthetic_train_size": 1000, "synthetic_test_size": 200,
                 "synthetic_shape": [3, 16, 16]}, "train": {"batch_size": 100, "tta": 0}}
STEP = {"airbench-tiny": 0.01, "airbench-small": 0.04}  # made-up seconds per step
CALIBRATION_SECONDS = 0.5  # made-up seconds each candidate's calibration took
SPENT = 1.0  # made-up seconds of the command before training: start-up, data, calibration


def point(model, epochs, accuracy, std=0.01, precision="bf16", test=None, test_images=None, images=None):
    # each point's layer names where its runs went, as a measured point's does: never the plan's runs_dir
    return Point(recipe="airbench94", model=model, epochs=epochs, precision=precision,
                 accuracy={"mean": accuracy, "std": std, "n": 3},
                 layer={"model": {"name": model}, "runs_dir": "/tmp/frontier-runs", "name": "frontier-point"},
                 train_images=images, test=None if test is None else {"mean": test, "std": std, "n": 3},
                 test_train_images=test_images)


def plan_for(layers, **goal):
    """make_plan with made-up calibration, no plots to reserve for, and a command that has spent SPENT s."""
    return make_plan(layers, timer=timer, end_timer=lambda plots, classes: 0.0, clock=lambda: SPENT, **goal)


@pytest.fixture
def frontier(tmp_path):
    path = tmp_path / "synthetic.json"
    write_frontier("synthetic", [point("airbench-tiny", 2, 0.80), point("airbench-tiny", 4, 0.85),
                                 point("airbench-tiny", 8, 0.88), point("airbench-small", 4, 0.87),
                                 point("airbench-small", 8, 0.91), point("airbench-tiny", 4, 0.84, precision="fp32")],
                   path, ["made up for tests"])
    return str(path)


def timer(config, shape, classes):
    assert shape == (3, 16, 16) and classes == 10
    return Timing(step_seconds=STEP[config.model.name], image_view_seconds=0.0, init_seconds=0.0,
                  seconds=CALIBRATION_SECONDS)


def seconds_at(model, epochs):
    return math.ceil(epochs * 10) * STEP[model] + FIXED_SECONDS


def test_interpolation_is_linear_in_log_epochs_and_never_extrapolates():
    curve = [(4, {"mean": 0.80}), (16, {"mean": 0.90})]
    assert interpolate(curve, 8)[0] == pytest.approx(0.85)  # halfway in log(epochs)
    assert interpolate(curve, 4)[0] == pytest.approx(0.80) and interpolate(curve, 16)[0] == pytest.approx(0.90)
    assert interpolate(curve, 64)[0] == pytest.approx(0.90) and interpolate(curve, 1)[0] == pytest.approx(0.80)


def test_one_nets_points_in_two_precisions_make_one_curve_whatever_their_order():
    """A machine without native bf16 adds its own short fp32 points below another machine's bf16
    ones: the planner reads them as one curve (the precisions agree within seed noise, which the
    frontier checks), and where both measured one epoch count, the precision of more points stands."""
    from cifarbench.planner.plan import candidates_of

    bf16 = [point("airbench-tiny", e, a) for e, a in ((4, 0.85), (8, 0.88), (16, 0.90))]
    fp32 = [point("airbench-tiny", e, a, precision="fp32") for e, a in ((1, 0.70), (2, 0.80), (4, 0.84))]
    for points in (bf16 + fp32, fp32 + bf16, fp32[::-1] + bf16[::-1]):
        (candidate,) = candidates_of(points)
        assert [p.epochs for p in candidate.points] == [1, 2, 4, 8, 16]
        assert candidate.points[2].precision == "bf16"  # a tie in points: the first precision by name
    (candidate,) = candidates_of(bf16[:2] + fp32)  # fp32 now has more points: its 4-epoch point stands
    assert [(p.epochs, p.precision) for p in candidate.points] == [(1, "fp32"), (2, "fp32"), (4, "fp32"), (8, "bf16")]


def test_a_budget_that_fits_the_largest_schedule_picks_the_most_accurate_net(frontier):
    plan = plan_for(DATA, budget_s=6.0, frontier=frontier)
    assert plan.calibration_seconds == 2 * CALIBRATION_SECONDS  # counted, both nets calibrated
    # capped at its last point: 8 epochs of the 900 images a validation point trained on, 7.2 of this run's 1000
    assert (plan.chosen.model, plan.chosen.epochs) == ("airbench-small", 7.2)
    assert plan.chosen.accuracy == pytest.approx(0.91)
    assert plan.config.model.name == "airbench-small" and plan.config.train.epochs == 7.2
    assert plan.config.train.eval_every == 0 and plan.config.output.checkpoint_every == 0  # the final evaluation only
    assert plan.config.runs_dir == "runs" and plan.config.name != "frontier-point"  # the user's, not the frontier's
    assert plan.split == "validation" and "validation" in plan.accuracy_label  # the made-up frontier has no test
    tiny = next(c for c in plan.candidates if c.model == "airbench-tiny")
    assert tiny.rejected == "less accurate in the budget"


def test_a_budget_fills_the_time_it_has(frontier):
    """The budget is the whole command: what was spent before the plan and the exit are taken off,
    and between two measured points the plan takes the most epochs that fit, to 0.01 epoch."""
    budget = SPENT + 0.9 + EXIT_SECONDS  # 0.9 s to train in: small's shortest (4 epochs) does not fit
    plan = plan_for(DATA, budget_s=budget, frontier=frontier)
    left = budget - SPENT - EXIT_SECONDS
    c = plan.chosen
    assert c.model == "airbench-tiny" and 3.6 < c.epochs < 7.2
    assert seconds_at("airbench-tiny", c.epochs) <= left < seconds_at("airbench-tiny", c.epochs + 0.1)
    assert plan.predicted_seconds == pytest.approx(SPENT + seconds_at("airbench-tiny", c.epochs) + EXIT_SECONDS)
    assert c.accuracy == pytest.approx(interpolate(c.curve, c.epochs)[0])
    assert c.accuracy == pytest.approx(0.85 + (0.88 - 0.85) * math.log(c.epochs / 3.6) / math.log(2))
    small = next(x for x in plan.candidates if x.model == "airbench-small")
    smallest = math.ceil(SPENT + seconds_at("airbench-small", 3.6) + EXIT_SECONDS)
    assert small.rejected == f"needs a budget of about {smallest} s for its shortest schedule (3.6 epochs)"


def test_a_budget_no_schedule_fits_names_the_smallest_budget_that_does(frontier):
    # the shortest: 2 tiny epochs, 0.2 s + 0.3 s fixed, after 1 s spent and before the exit
    with pytest.raises(ConfigError, match=r"--budget-s 1.1: no schedule fits; the smallest budget that does is about "
                                          r"2 s here \(1.0 s of it spent before training"):
        plan_for(DATA, budget_s=1.1, frontier=frontier)


def test_a_frontier_with_test_figures_is_planned_on_them_in_images_seen(tmp_path):
    """Test figures (runs on the whole training split) are what a plan promises; validation points
    saw 90% of the images an epoch, so a run on all of them needs fewer epochs for the same images."""
    path = tmp_path / "synthetic.json"
    write_frontier("synthetic", [point("airbench-tiny", 4, 0.86, images=900, test=0.84, test_images=1000),
                                 point("airbench-tiny", 8, 0.90, images=900, test=0.88, test_images=1000),
                                 point("airbench-small", 8, 0.95, images=900)],  # no test figure: not planned
                   path, ["made up for tests"])
    plan = plan_for(DATA, target=0.86, frontier=str(path))
    assert plan.split == "test" and plan.accuracy_label == "test accuracy"
    assert [c.model for c in plan.candidates] == ["airbench-tiny"]
    assert 4 * 2 ** 0.5 <= plan.chosen.epochs <= 4 * 2 ** 0.5 + 0.02 and plan.chosen.accuracy >= 0.86
    validation = tmp_path / "validation.json"
    write_frontier("synthetic", [point("airbench-tiny", 4, 0.86, images=900), point("airbench-tiny", 8, 0.90,
                                                                                   images=900)], validation, [])
    by_images = plan_for(DATA, target=0.88, frontier=str(validation))
    # 88% at 4 * sqrt(2) epochs of 900 images: 0.9 of that on the run's 1000 images an epoch
    assert by_images.split == "validation" and by_images.chosen.curve[0][0] == pytest.approx(3.6)
    assert 3.6 * 2 ** 0.5 <= by_images.chosen.epochs <= 3.6 * 2 ** 0.5 + 0.02


def test_a_target_picks_the_fastest_schedule_that_reaches_it(frontier):
    plan = plan_for(DATA, target=0.90, frontier=frontier)
    c = plan.chosen
    assert c.model == "airbench-small"  # tiny never reaches 90%
    # the fewest epochs, to 0.01, of this run's 1000 images (the points' 4 and 8 epochs of 900 are 3.6 and 7.2)
    assert 3.6 * 2 ** 0.75 <= c.epochs <= 3.6 * 2 ** 0.75 + 0.02 and c.accuracy >= 0.90
    assert "reaches 88.00% at most" in next(x.rejected for x in plan.candidates if x.model == "airbench-tiny")
    easy = plan_for(DATA, target=0.85, frontier=frontier)
    assert (easy.chosen.model, easy.chosen.epochs) == ("airbench-tiny", 3.6)  # tiny's 4 epochs beat small's 4
    assert easy.training_deadline() is None  # a target run trains its schedule, however long


def test_a_target_the_frontier_never_reaches_names_the_highest(frontier):
    with pytest.raises(ConfigError, match=r"--target 0.95: no schedule on the frontier reaches it; the highest is "
                                          r"91.00% \(airbench-small \(airbench94\), 7.2 epochs, validation accuracy"):
        plan_for(DATA, target=0.95, frontier=frontier)


def test_what_the_plan_chooses_cannot_also_be_given(frontier):
    for layers in ({**DATA, "train": {**DATA["train"], "epochs": 3}}, {**DATA, "model": {"name": "airbench94"}},
                   {**DATA, "recipe": "airbench94"}):
        with pytest.raises(ConfigError, match="is what the plan chooses"):
            plan_for(layers, budget_s=5, frontier=frontier)
    with pytest.raises(ConfigError, match="needs --budget-s S or --target A"):
        plan_for(DATA, frontier=frontier)


@pytest.mark.parametrize("layer", [{"model": {"widths": [8, 16]}}, {"augment": {"progressive_from": 8}}])
def test_levers_a_frontier_point_does_not_name_are_refused_by_the_plan_and_the_frontier(frontier, layer, tmp_path):
    from cifarbench.planner.frontier import measure_frontier

    with pytest.raises(ConfigError, match=r"cannot be given to a plan: frontier points are keyed by"):
        plan_for({**DATA, **layer}, budget_s=5, frontier=frontier)
    with pytest.raises(ConfigError, match=r"cannot be given to a frontier"):
        measure_frontier("synthetic", "airbench94", [("airbench-tiny", [1.0])], layers=layer, output=tmp_path / "f.json")
    assert not (tmp_path / "f.json").exists()


def test_the_calibration_key_names_the_widths():
    from cifarbench.planner.calibrate import candidate_key
    from cifarbench.resolve import resolve_config

    plain = resolve_config("airbench94", {"model": {"name": "airbench-tiny"}})
    wide = resolve_config("airbench94", {"model": {"name": "airbench-tiny", "widths": [24, 48, 96]}})
    assert candidate_key(plain, (1, 28, 28), 10) != candidate_key(wide, (1, 28, 28), 10)


def test_calibration_times_full_size_steps_under_progressive_resizing(monkeypatch):
    """A plan's steps are full-size for most of a run: timing the first epoch's scaled-down images
    would make every schedule look cheaper than it is."""
    from cifarbench.planner import calibrate
    from cifarbench.resolve import resolve_config
    from cifarbench.training.trainer import Trainer

    sizes = []
    real_step = Trainer.train_step
    monkeypatch.setattr(Trainer, "train_step", lambda self, x, y: (sizes.append(tuple(x.shape[-2:])),
                                                                    real_step(self, x, y))[1])
    config = resolve_config("airbench94", {"model": {"name": "airbench-tiny"}, "train": {
        "device": "cpu", "batch_size": 8, "epochs": 3}, "augment": {"progressive_from": 10, "progressive_epochs": 2}})
    calibrate.measure(config, (1, 16, 16), 10)
    assert sizes and set(sizes) == {(16, 16)}


def test_without_a_frontier_a_budget_is_planned_from_calibration_and_a_target_refused(tmp_path):
    plan = plan_for(DATA, budget_s=3.0)  # the package keeps no frontier for synthetic data
    assert plan.frontier_kind == "none" and plan.chosen.accuracy is None
    assert plan.record()["plan"]["accuracy_label"].startswith("no accuracy predicted")
    assert plan.chosen.model == "airbench-tiny" and plan.calibration_seconds == CALIBRATION_SECONDS
    assert seconds_at("airbench-tiny", plan.chosen.epochs) <= 3.0 - SPENT - EXIT_SECONDS
    with pytest.raises(ConfigError, match="no frontier for 'synthetic'"):
        plan_for(DATA, target=0.9)


def test_the_package_frontiers_are_frontiers():
    """Each frontier the package ships loads, names its kind, and gives every point its source."""
    from cifarbench.planner.frontier import FRONTIERS

    files = sorted(FRONTIERS.glob("*.json"))
    assert any(f.stem == "cifar10" for f in files)
    for file in files:
        points = load_frontier(file.stem)
        assert points and all(p.accuracy or p.test for p in points)
        assert all(0 < figure["mean"] < 1 for p in points for figure in (p.accuracy, p.test) if figure)
        assert all((p.kind == "published") == p.source.startswith("published:") for p in points)
        # a measured figure names its seeds and its machine; a published one is a test mean
        assert all(p.kind == "published" or (p.accuracy["n"] >= 3 and p.machine) for p in points if p.accuracy), file
        assert all(p.kind == "published" or (p.test["n"] >= 3 and p.test_machine) for p in points if p.test), file
        assert all(p.test and not p.accuracy for p in points if p.kind == "published"), file


def test_a_planned_run_anneals_on_the_clock_records_its_outcome_and_replays_from_its_config(tmp_path, all_cores):
    """End to end as a user runs it, a process of its own with the real calibration: the plan and
    its outcome (predicted beside measured, the whole command's seconds) are in run_log.json, the
    schedule ran to its end on the clock, and config.yaml repeats the run without planning, step for
    step. Whether it kept its seconds is a benchmark's question (benchmarks/budget.py), not a test's."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CIFARBENCH_DATA": str(tmp_path / "cache")}  # the calibration cache, too
    budget = 25.0  # room for start-up, calibration and the end on the slowest CPU class; the run fills the rest
    runs = tmp_path / "runs"
    data = ["--dataset", "synthetic", "--set", "data.synthetic_train_size=512", "--set", "data.synthetic_test_size=128",
            "--set", "data.synthetic_shape=[1,16,16]", "--batch-size", "128", "--device", "cpu", "--no-plots",
            "--set", "hardware.threads=1", "--runs-dir", str(runs)]
    done = subprocess.run([sys.executable, "-m", "cifarbench", "train", "--budget-s", str(budget), "--quiet", *data],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.iterdir()
    log = json.loads((run_dir / "run_log.json").read_text())
    plan, outcome = log["plan"], log["plan_outcome"]
    assert plan["goal"] == "budget" and plan["chosen"]["model"] == "airbench-tiny"
    assert plan["chosen"]["calibration"]["step_seconds"] > 0 and plan["spent_seconds"] > plan["calibration_seconds"]
    assert log["pace"]["clock"] and log["pace"]["schedule_completed"] and outcome["schedule_completed"]
    assert 0 < log["command_seconds"] <= outcome["command_seconds"]
    assert outcome["budget_share_used"] == pytest.approx(outcome["command_seconds"] / budget)
    assert f"plan --budget-s {budget:g}: test accuracy {outcome['accuracy']:.2%}" in done.stdout
    assert f"whole command {outcome['command_seconds']:.1f} s of the {budget:g} s budget" in done.stdout
    # the HTML report's run section shows the promise beside the outcome
    from cifarbench.report.results import build_report

    html = build_report(runs, tmp_path / "report")["html"].read_text()
    assert "whole command, seconds" in html and f"{outcome['command_seconds']:.1f}" in html
    assert f"{outcome['budget_share_used']:.0%}" in html
    # the run's own figures replace the few-step calibration in the cache, for the next plan here
    from cifarbench.config import RunConfig
    from cifarbench.planner import calibrate as calibration

    replay = RunConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert replay.schedule.pace is not None  # the rates the clock set
    os.environ["CIFARBENCH_DATA"] = env["CIFARBENCH_DATA"]
    try:
        kept = calibration.calibrate(replay, (1, 16, 16), 10)
    finally:
        del os.environ["CIFARBENCH_DATA"]
    init = plan["chosen"]["calibration"]["init_seconds"]
    assert kept.cached and kept.step_seconds == pytest.approx((log["train_seconds"] - init) / log["steps"])
    done = subprocess.run([sys.executable, "-m", "cifarbench", "train", "--config", str(run_dir / "config.yaml"),
                           "--runs-dir", str(tmp_path / "again"), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    (again,) = (tmp_path / "again").iterdir()
    again_log = json.loads((again / "run_log.json").read_text())
    assert "plan" not in again_log and again_log["steps"] == log["steps"]
    first, second = (json.loads((d / "history.json").read_text()) for d in (run_dir, again))
    assert [h["train_loss"] for h in first] == [h["train_loss"] for h in second]


def test_calibration_is_cached_per_machine_and_candidate(tmp_path, monkeypatch):
    """A second calibration of the same candidate is read from the cache (0 s, marked cached); an
    unreadable cache is measured again; another candidate is measured."""
    from cifarbench.planner import calibrate as calibration
    from cifarbench.resolve import resolve_config

    monkeypatch.setenv("CIFARBENCH_DATA", str(tmp_path))
    config = resolve_config("airbench94", {"model": {"name": "airbench-tiny"}, "train": {"batch_size": 32,
                                                                                        "device": "cpu"}})
    measured = []
    real = calibration.measure
    monkeypatch.setattr(calibration, "measure", lambda *a: measured.append(a) or real(*a))
    first = calibration.calibrate(config, (1, 16, 16), 10)
    assert not first.cached and first.seconds > 0 and first.step_seconds > 0 and first.image_view_seconds > 0
    second = calibration.calibrate(config, (1, 16, 16), 10)
    assert second.cached and second.seconds == 0 and second.step_seconds == first.step_seconds
    assert len(measured) == 1
    calibration.calibrate(config, (1, 16, 16), 100)  # another candidate: measured
    assert len(measured) == 2
    # planned runs' own figures: the mean of the last runs, and the slowest evaluation kept for the reserve
    calibration.observe(config, (1, 16, 16), 10, Timing(0.10, 2e-4, first.init_seconds))
    calibration.observe(config, (1, 16, 16), 10, Timing(0.20, 1e-4, first.init_seconds))
    averaged = calibration.calibrate(config, (1, 16, 16), 10)
    assert averaged.runs == 2 and averaged.step_seconds == pytest.approx(0.15)
    assert averaged.image_view_seconds == pytest.approx(1.5e-4)
    assert averaged.eval_reserve_per_view == pytest.approx(max(2e-4, first.image_view_seconds))
    for k in range(calibration.OBSERVED):
        calibration.observe(config, (1, 16, 16), 10, Timing(0.05, 1e-4, first.init_seconds))
    assert calibration.calibrate(config, (1, 16, 16), 10).step_seconds == pytest.approx(0.05)  # the last runs only
    assert len(measured) == 2
    calibration.cache_file().write_text("{not json")
    assert not calibration.calibrate(config, (1, 16, 16), 10).cached and len(measured) == 3


def test_plan_and_frontier_commands(tmp_path, capsys, monkeypatch):
    """`frontier` writes points and extends its file; `plan` prints the choice, or one line and
    exit 2 when the goal cannot be planned."""
    from cifarbench.cli import main

    monkeypatch.setenv("CIFARBENCH_DATA", str(tmp_path / "cache"))
    out_file = tmp_path / "synthetic.json"
    data = ["--dataset", "synthetic", "--set", "data.synthetic_train_size=300", "--set", "data.synthetic_test_size=64",
            "--set", "data.synthetic_shape=[1,16,16]", "--batch-size", "64", "--device", "cpu",
            "--runs-dir", str(tmp_path / "runs")]
    assert main(["frontier", "--recipe", "airbench94", "--point", "airbench-tiny:1,2", "--seeds", "1", "-o",
                 str(out_file), "--quiet", *data]) == 0
    assert main(["frontier", "--recipe", "airbench94", "--point", "airbench-tiny:3", "--seeds", "1", "-o",
                 str(out_file), "--quiet", *data]) == 0
    points = load_frontier("synthetic", out_file)
    assert [p.epochs for p in points] == [1, 2, 3] and all(p.accuracy["n"] == 1 for p in points)
    assert len(json.loads(out_file.read_text())["commands"]) == 2
    capsys.readouterr()
    assert main(["plan", "--budget-s", "30", "--frontier", str(out_file), *data]) == 0
    out = capsys.readouterr().out
    assert "plan: airbench-tiny (airbench94) for" in out and "chosen" in out
    for argv, message in ((["--target", "0.9999"], "no schedule on the frontier reaches it"),
                          (["--budget-s", "0.01"], "no schedule fits"),
                          (["--budget-s", "30", "--epochs", "2"], "train.epochs is what the plan chooses")):
        assert main(["plan", *argv, "--frontier", str(out_file), *data]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert main(["frontier", "--recipe", "airbench94", "--point", "tiny", "-o", str(out_file), *data]) == 2
    assert "--point 'tiny' must look like MODEL:EPOCHS" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_calibration_times_an_accelerator_with_the_same_code(device, tmp_path, monkeypatch):
    """The calibration is device-neutral: on a GPU it times the same step, synchronised."""
    import torch

    from cifarbench.devices import mps_available
    from cifarbench.planner.calibrate import calibrate
    from cifarbench.resolve import resolve_config
    from conftest import HARDWARE

    present = torch.cuda.is_available() if device == "cuda" else mps_available()
    if not present:
        pytest.skip(f"{HARDWARE}needs a {device} device to calibrate on")
    monkeypatch.setenv("CIFARBENCH_DATA", str(tmp_path))
    config = resolve_config("airbench94", {"model": {"name": "airbench-tiny"},
                                           "train": {"batch_size": 64, "device": device}})
    timing = calibrate(config, (3, 32, 32), 10)
    assert timing.step_seconds > 0 and timing.image_view_seconds > 0 and not timing.cached


def test_cifar10_is_planned_from_its_published_points(tiny_cifar10, monkeypatch):
    """CIFAR-10 cannot be had here; its frontier is the published airbench figures, and a plan
    says so. A target the published nets reach takes the fastest of them at its own epochs."""
    from cifarbench.data import registry

    spec, data_dir = tiny_cifar10
    monkeypatch.setitem(registry.DATASETS.entries, "cifar10", spec)
    steps = {"airbench94": 0.05, "airbench94-muon": 0.04, "airbench95": 0.12}

    def cifar_timer(config, shape, classes):
        assert shape == (3, 32, 32) and classes == 10
        return Timing(step_seconds=steps[config.model.name], image_view_seconds=0.0, init_seconds=0.0)

    layers = {"data": {"dataset": "cifar10", "data_dir": str(data_dir), "download": False},
              "train": {"batch_size": 50}}
    spent = {"timer": cifar_timer, "end_timer": lambda plots, classes: 0.0, "clock": lambda: SPENT}
    plan = make_plan(layers, target=0.94, **spent)
    assert plan.frontier_kind == "published" and plan.accuracy_label == "published test mean"
    assert (plan.chosen.recipe, plan.chosen.epochs) == ("airbench94_muon", 8)  # the faster of the two at 94.01%
    assert plan.config.optim.name == "muon"  # the recipe's own schedule, only the epochs planned
    best = make_plan(layers, budget_s=100, **spent)
    assert best.chosen.recipe == "airbench95" and best.chosen.accuracy == pytest.approx(0.9501)
