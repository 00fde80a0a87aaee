"""The planner: the most accurate schedule this machine finishes in S seconds (`--budget-s`),
or the fastest one that reaches accuracy A (`--target`), both in the user's terms.

    accuracy(schedule)  from the dataset's frontier (planner/frontier.py): the test accuracy of runs of
                        the fixed schedule on the whole training split (what a user will measure),
                        or, where a frontier has no test figures (a user's own), the validation
                        accuracy, and the plan says which. Between two measured points it is
                        interpolated in log(images seen), never extrapolated past them: a point
                        trained on 54,000 images an epoch and a run on 60,000 meet in images seen
    seconds(schedule)   from a calibration here and now (planner/calibrate.py): the data-dependent
                        init + steps x seconds per step + the last validation and the final
                        evaluation (every TTA view) x seconds per image view + the files and plots
                        at the end + a fixed margin
    the budget          is the whole command, from the process's start (process_clock.py) to its
                        exit: imports, loading the data and calibration are spent before the plan
                        is made and counted; the run anneals its schedule on the clock to end its
                        training when the budget leaves just the final evaluation, the files and
                        the exit (training/pace.py), however fast the machine turns out to be

A dataset with no frontier (synthetic data, a new dataset) is planned from calibration alone on a
default schedule: --budget-s trains it for as many epochs as fit, --target is refused (nothing
says what accuracy a schedule reaches there).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cifarbench.api import train
from cifarbench.config import RunConfig, current_paths, get_path, merge
from cifarbench.contract.callbacks import Callback, TimeLimit
from cifarbench.data.prepare import load_configured_dataset
from cifarbench.errors import ConfigError
from cifarbench.eval.tta import views_per_image
from cifarbench.planner.calibrate import Timing, calibrate, calibrate_end, observe, observe_end
from cifarbench.planner.frontier import VAL_SPLIT, Point, load_frontier, refuse_unkeyed_levers
from cifarbench.resolve import resolve_config
from cifarbench.training.pace import ClockPace

# selective TTA for planned runs: the extra views for each batch's least confident quarter. On
# Fashion-MNIST's validation split it gave every one of 6 models (2 recipes x 3 seeds) exactly the
# full TTA's accuracy at 0.31 of its cost (benchmarks/results/levers-fashion-mnist-avx512-bf16.json),
# so the frontier's full-TTA points stand for it; --set train.tta_share=null restores full TTA
TTA_SHARE = 0.25
EVAL_MARGIN = 1.15  # on the slowest evaluation seen, for the reserve a budget keeps after training
END_MARGIN = 1.25  # on the slowest end (files, plots) seen
FIXED_SECONDS = 0.3  # building the net, the run folder, the checkpoint: what calibration does not time
# from the last file written to the process's end: the last lines, then process_clock.exit_now (0.04-0.05 s
# on a 2-core Zen 4, against 0.94-1.14 s through the interpreter's teardown of torch: benchmarks/exit_seconds.py),
# with room for a slower CPU
EXIT_SECONDS = 0.25
# With no frontier: airbench94's recipe on its smallest net, which trains anything from 28x28x1 up.
DEFAULT_SCHEDULE: dict[str, Any] = {"recipe": "airbench94", "model": {"name": "airbench-tiny"}}
DEFAULT_EPOCHS = (0.25, 50.0)  # the range of epochs a schedule without a frontier may take
# eval_every of a planned run: no validation in the loop. Its validation split is the test split, which the
# final evaluation reads right after; a last validation read it twice (0.7 s of a minute's budget on a Zen 4)
NO_VALIDATION = 0


def since_now() -> Callable[[], float]:
    """A clock that starts now: a budget for the Python API counts from the plan's making (the CLI
    counts from the process's start, process_clock.command_seconds)."""
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


@dataclass
class Candidate:
    """One net's schedules: its frontier points, its curve in this run's epochs, its calibration."""

    recipe: str
    model: str
    points: list[Point]
    curve: list[tuple[float, dict]] = field(default_factory=list)  # (this run's epochs, accuracy), sorted
    timing: Timing | None = None
    epochs: float | None = None  # the planned epochs, once chosen
    accuracy: float | None = None  # predicted accuracy at those epochs, on the plan's split (None: no frontier)
    spread: float | None = None  # the seeds' standard deviation there
    seconds: dict = field(default_factory=dict)  # predicted seconds by part
    rejected: str = ""

    @property
    def label(self) -> str:
        return f"{self.model} ({self.recipe})"


@dataclass
class Plan:
    dataset: str
    goal: str  # "budget" or "target"
    value: float
    chosen: Candidate
    candidates: list[Candidate]
    calibration_seconds: float
    config: RunConfig
    frontier_kind: str  # measured, published, or none
    shape: tuple[int, int, int] = (3, 32, 32)  # the data's, as calibrated
    num_classes: int = 10
    test_images: int = 0
    split: str = "test"  # what the predicted accuracy is of: test, or validation where that is all there is
    spent_seconds: float = 0.0  # the command's seconds when the plan was made (imports, data, calibration)
    end_seconds: float = 0.0  # predicted files and plots after the final evaluation
    clock: Callable[[], float] = field(default_factory=since_now, repr=False)  # the command's seconds so far

    @property
    def predicted_seconds(self) -> float:
        """The whole command as planned: what was spent, the run's parts, the exit."""
        return self.spent_seconds + sum(self.chosen.seconds.values()) + EXIT_SECONDS

    @property
    def accuracy_label(self) -> str:
        kinds = {p.kind for p in self.chosen.points}
        if self.split == "none":
            return "no accuracy predicted (no frontier for this dataset)"
        if self.split == "validation":
            return "validation accuracy (this frontier has no test figures)"
        return "published test mean" if kinds == {"published"} else "test accuracy"

    def after_training_seconds(self) -> float:
        """What a budget keeps for the work after training, at the calibrated speed: the final
        evaluation (at the slowest seen, with a margin) and the files and plots."""
        timing = self.chosen.timing
        assert timing is not None  # make_plan calibrates every candidate
        views = views_per_image(self.config.train.tta, self.config.train.tta_share)
        reserve = (
            max(self.chosen.seconds["evaluation"], self.test_images * views * timing.eval_reserve_per_view)
            * EVAL_MARGIN
        )
        return reserve + self.end_seconds * END_MARGIN

    def training_deadline(self) -> float | None:
        """The command's second by which a budget run's training must end at the calibrated speed:
        the budget less the work after training and the exit (a slower machine ends sooner, since
        that work is slower too: train/pace.ClockPace). None for a target (it trains its schedule,
        however long)."""
        if self.goal != "budget":
            return None
        return self.value - self.after_training_seconds() - EXIT_SECONDS

    def record(self) -> dict:
        """What run_log.json keeps of the plan."""

        def one(c: Candidate) -> dict:
            return {
                "recipe": c.recipe,
                "model": c.model,
                "epochs": c.epochs,
                "predicted_accuracy": c.accuracy,
                "spread": c.spread,
                "predicted_seconds": c.seconds,
                "rejected": c.rejected or None,
                "calibration": asdict(c.timing) if c.timing else None,
            }

        return {
            "plan": {
                "dataset": self.dataset,
                "goal": self.goal,
                "value": self.value,
                "frontier": self.frontier_kind,
                "accuracy_split": self.split,
                "accuracy_label": self.accuracy_label,
                "calibration_seconds": self.calibration_seconds,
                "spent_seconds": self.spent_seconds,
                "end_seconds": self.end_seconds,
                "predicted_command_seconds": self.predicted_seconds,
                "training_deadline": self.training_deadline(),
                "chosen": one(self.chosen),
                "candidates": [one(c) for c in self.candidates],
            }
        }


def interpolate(curve: list[tuple[float, dict]], epochs: float) -> tuple[float, float]:
    """Predicted (accuracy, std) at `epochs`, linear in log(epochs) (so in log(images seen), the
    run's images an epoch being fixed) between the measured points of `curve`."""
    xs = [math.log(e) for e, _ in curve]
    x = math.log(epochs)
    for (x0, (_, a0)), (x1, (_, a1)) in zip(zip(xs, curve), zip(xs[1:], curve[1:])):
        if x0 <= x <= x1:
            w = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            return ((1 - w) * a0["mean"] + w * a1["mean"], (1 - w) * a0.get("std", 0.0) + w * a1.get("std", 0.0))
    _, only = curve[0] if x <= xs[0] else curve[-1]
    return only["mean"], only.get("std", 0.0)


def frontier_split(points: list[Point]) -> str:
    """ "test" where the frontier holds test figures (measured on the whole training split, or
    published), else "validation"."""
    return "test" if any(p.test for p in points) else "validation"


def figure_of(p: Point, split: str) -> tuple[dict | None, int | None]:
    """A point's accuracy on `split` and the training images an epoch of it saw (None: the
    dataset's whole training split, for a test figure; its 90% for a validation one)."""
    return (p.test, p.test_train_images) if split == "test" else (p.accuracy, p.train_images)


def candidates_of(
    points: list[Point], split: str = "validation", full_train: int | None = None, run_images: int | None = None
) -> list[Candidate]:
    """One candidate per (recipe, net), with every point that has a figure on `split`, in any
    precision: the planner assumes precisions agree (the frontier's own check, bf16 against fp32
    within seed noise), so a machine's own short fp32 points and another's long bf16 points make
    one curve. Where one epoch count was measured in several precisions, the point of the precision
    with the most points for that net stands (its curve is the smoother one), then the one of more
    seeds, then the first precision by name: the same choice whatever order the file lists them in.
    Each point's epochs become this run's (`run_images` an epoch) for the same images seen."""
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        if figure_of(p, split)[0]:
            groups.setdefault((p.recipe, p.model), []).append(p)

    def figure(p: Point) -> dict:
        found = figure_of(p, split)[0]
        assert found is not None  # grouped below: only the points with a figure on `split`
        return found

    out = []
    for (recipe, model), group in groups.items():
        per_precision = {q.precision: sum(r.precision == q.precision for r in group) for q in group}
        by_epochs: dict[float, Point] = {}
        for p in sorted(group, key=lambda p: (-per_precision[p.precision], -(figure(p).get("n") or 0), p.precision)):
            by_epochs.setdefault(p.epochs, p)
        chosen = sorted(by_epochs.values(), key=lambda p: p.epochs)
        curve: list[tuple[float, dict]] = []
        for p in chosen:
            images = figure_of(p, split)[1]
            if images is None and full_train is not None:
                images = full_train if split == "test" else int(full_train * (1 - VAL_SPLIT))
            scale = images / run_images if images and run_images else 1.0
            curve.append((p.epochs * scale, figure(p)))
        out.append(Candidate(recipe, model, chosen, sorted(curve, key=lambda c: c[0])))
    return out


def predicted_seconds(
    timing: Timing, epochs: float, train_images: int, test_images: int, batch: int, views: int, end: float = 0.0
) -> dict:
    steps = math.ceil(epochs * math.ceil(train_images / batch))
    return {
        "init": timing.init_seconds,
        "training": steps * timing.step_seconds,
        # the last epoch's validation (one view) and the final evaluation (every TTA view)
        "evaluation": test_images * views * timing.image_view_seconds,  # the final evaluation's views
        "fixed": FIXED_SECONDS,
        "end": end,
    }


def make_plan(
    layers: dict,
    *,
    budget_s: float | None = None,
    target: float | None = None,
    frontier: str | None = None,
    timer: Callable[..., Timing] = calibrate,
    end_timer: Callable[[bool, int], float] = calibrate_end,
    clock: Callable[[], float] | None = None,
) -> Plan:
    """The plan for the dataset `layers` names: one of budget_s / target, the other None.
    `timer(config, shape, classes)` gives a candidate's Timing and `end_timer(plots, classes)` the
    seconds of a run's files and plots (tests pass made-up figures); `clock()` is the command's
    seconds so far (the CLI's: since the process started; by default: since this call)."""
    clock = clock or since_now()
    if (budget_s is None) == (target is None):
        raise ConfigError("a plan needs --budget-s S or --target A (one of them)")
    if budget_s is not None and not budget_s > 0:
        raise ConfigError(f"--budget-s {budget_s} must be a positive number of seconds")
    if target is not None and not 0 < target < 1:
        raise ConfigError(f"--target {target} must be an accuracy between 0 and 1 (e.g. 0.93)")
    for fixed in ("train.epochs", "model.name", "recipe"):
        if get_path(layers, fixed) is not None:
            raise ConfigError(f"{fixed} is what the plan chooses; it cannot be given with --budget-s or --target")
    refuse_unkeyed_levers(layers, "a plan")
    # torch.optim imports torch._dynamo (about 2 s) on first use: a cost of starting the process, as
    # loading the data is, paid here before the plan reads the clock rather than inside the run
    import torch._dynamo  # noqa: F401

    probe = resolve_config(DEFAULT_SCHEDULE["recipe"], layers)
    dataset = probe.data.dataset
    points = load_frontier(dataset, frontier)
    if not points and target is not None:
        raise ConfigError(
            f"no frontier for {dataset!r}: nothing says what accuracy a schedule reaches there, so "
            "--target cannot be planned; --budget-s can (from calibration alone), or measure one "
            "with `cifarbench frontier`"
        )
    split = frontier_split(points)
    ds = load_configured_dataset(probe, quiet=True)
    full_train = len(ds.train) if probe.data.train_subset is None else min(len(ds.train), probe.data.train_subset)
    train_images = int(full_train * (1 - probe.data.val_split))
    test_images = len(ds.test) if probe.data.test_subset is None else min(len(ds.test), probe.data.test_subset)
    candidates = candidates_of(points, split, len(ds.train), train_images) or [
        Candidate(DEFAULT_SCHEDULE["recipe"], DEFAULT_SCHEDULE["model"]["name"], [])
    ]
    calibration_seconds = 0.0
    configs = [_config_of(c, layers, 1.0) for c in candidates]
    for c, config in zip(candidates, configs):
        c.timing = timer(config, ds.shape, ds.num_classes)
        calibration_seconds += c.timing.seconds
    end = end_timer(probe.output.plots, ds.num_classes)
    spent = clock()  # the imports, the data, the calibration: the command's seconds so far
    left = None if budget_s is None else budget_s - spent - EXIT_SECONDS
    for c, config in zip(candidates, configs):
        views = views_per_image(config.train.tta, config.train.tta_share)
        seconds = lambda e, c=c, b=config.train.batch_size, v=views: predicted_seconds(  # noqa: E731
            c.timing, e, train_images, test_images, b, v, end
        )
        low, high = (c.curve[0][0], c.curve[-1][0]) if c.curve else DEFAULT_EPOCHS
        if left is not None:  # a budget
            _fit_budget(c, seconds, low, high, left, spent)
        else:
            assert target is not None  # one of budget_s / target, checked above
            _reach_target(c, seconds, target)
    fitting = [c for c in candidates if not c.rejected]
    if not fitting:
        raise ConfigError(_nothing_fits(candidates, budget_s, target, spent, split))
    if budget_s is not None:  # the most accurate; without a frontier, the one candidate
        chosen = max(fitting, key=lambda c: (c.accuracy or 0.0, -sum(c.seconds.values())))
    else:
        chosen = min(fitting, key=lambda c: sum(c.seconds.values()))
    for c in fitting:
        if c is not chosen:
            c.rejected = "less accurate in the budget" if budget_s is not None else "slower to the target"
    kind = "+".join(sorted({p.kind for p in chosen.points})) or "none"
    value = budget_s if budget_s is not None else target
    assert value is not None  # one of budget_s / target, checked above
    assert chosen.epochs is not None  # a candidate that fits has its epochs chosen
    return Plan(
        dataset,
        "budget" if budget_s is not None else "target",
        value,
        chosen,
        candidates,
        calibration_seconds,
        _config_of(chosen, layers, chosen.epochs, final=True, budget=budget_s is not None),
        kind,
        ds.shape,
        ds.num_classes,
        test_images,
        split if points else "none",
        spent,
        end,
        clock,
    )


def _config_of(c: Candidate, layers: dict, epochs: float, final: bool = False, budget: bool = False) -> RunConfig:
    """The candidate's schedule at `epochs`, under what the user gave. The run validates once, when
    its schedule ends, and checkpoints once, at its end: per-epoch validations and checkpoints would
    spend the budget on nothing the plan uses (the user's own --set values still win)."""
    point_layer = current_paths(copy.deepcopy(c.points[0].layer)) if c.points else {"model": DEFAULT_SCHEDULE["model"]}
    schedule = merge(
        point_layer, {"model": {"name": c.model}, "train": {"epochs": round(epochs, 4), "tta_share": TTA_SHARE}}
    )
    # what made the frontier's runs, not the plan's: its own precision, threads, validation split, and
    # where its runs went (a point measured with --runs-dir would send the user's run there)
    for path in ("hardware.precision", "hardware.threads", "data.download", "data.val_split"):
        section, key = path.split(".")
        schedule.get(section, {}).pop(key, None)
    for key in ("runs_dir", "name"):
        schedule.pop(key, None)
    run = (
        {
            "train": {"eval_every": NO_VALIDATION},
            "output": {"checkpoint_every": 0},
        }
        if final
        else {}
    )
    return resolve_config(c.recipe, schedule, run, layers)


def _fit_budget(c: Candidate, seconds, low: float, high: float, left: float, spent: float) -> None:
    def total(e):
        return sum(seconds(e).values())

    if left <= 0 or total(low) > left:
        need = math.ceil(spent + total(low) + EXIT_SECONDS)
        c.rejected = f"needs a budget of about {need} s for its shortest schedule ({low:.3g} epochs)"
        c.epochs, c.seconds = low, seconds(low)
        return
    # seconds grow with epochs: the most epochs that fit, by bisection, to 0.01 epoch
    lo, hi = low, high
    if total(hi) <= left:
        lo = hi
    else:
        while hi - lo > 0.01:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if total(mid) <= left else (lo, mid)
    c.epochs = max(low, math.floor(lo * 100) / 100)
    c.seconds = seconds(c.epochs)
    if c.curve:
        c.accuracy, c.spread = interpolate(c.curve, c.epochs)


def _reach_target(c: Candidate, seconds, target: float) -> None:
    best = max(a["mean"] for _, a in c.curve)
    if best < target:
        c.rejected = f"reaches {best:.2%} at most ({c.curve[-1][0]:.3g} epochs)"
        c.accuracy = best
        return
    # the fewest epochs whose predicted accuracy reaches the target, to 0.01 epoch
    lo, hi = c.curve[0][0], next(e for e, a in c.curve if a["mean"] >= target)
    if interpolate(c.curve, lo)[0] >= target:
        hi = lo
    while hi - lo > 0.01:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if interpolate(c.curve, mid)[0] >= target else (mid, hi)
    c.epochs = math.ceil(hi * 100) / 100
    c.accuracy, c.spread = interpolate(c.curve, c.epochs)
    c.seconds = seconds(c.epochs)


def _nothing_fits(candidates: list[Candidate], budget_s, target, spent: float, split: str) -> str:
    if budget_s is not None:
        need = min(sum(c.seconds.values()) for c in candidates) + spent + EXIT_SECONDS
        return (
            f"--budget-s {budget_s:g}: no schedule fits; the smallest budget that does is about "
            f"{math.ceil(need)} s "
            f"here ({spent:.1f} s of it spent before training: start-up, data, calibration)"
        )
    best = max(candidates, key=lambda c: c.accuracy or 0.0)
    return (
        f"--target {target:g}: no schedule on the frontier reaches it; the highest is {best.accuracy:.2%} "
        f"({best.label}, {best.curve[-1][0]:.3g} epochs, {split} accuracy)"
    )


def plan_table(plan: Plan) -> tuple[str, list[str], list[list]]:
    """Title, columns and rows of `cifarbench plan`: every candidate, the chosen one first."""

    def row(c: Candidate) -> list:
        s = c.seconds
        if c.accuracy is None:
            accuracy = "" if c.curve else "no frontier"
        else:
            accuracy = f"{c.accuracy:.2%}" + (f" ± {c.spread:.2%}" if c.spread else "")
        parts = f"{s['init']:.1f} + {s['training']:.1f} + {s['evaluation']:.1f} + {s['end']:.1f}" if s else ""
        return [
            c.label,
            f"{c.epochs:g}" if c.epochs else "",
            accuracy,
            f"{plan.spent_seconds + sum(s.values()) + EXIT_SECONDS:.1f}" if s else "",
            parts,
            ("(cached) " if c.timing and c.timing.cached else "")
            + (f"{c.timing.step_seconds * 1000:.1f} ms/step" if c.timing else ""),
            "chosen" if c is plan.chosen else c.rejected,
        ]

    goal = (
        f"the most accurate schedule in {plan.value:g} s, the whole command"
        if plan.goal == "budget"
        else f"the fastest schedule to {plan.value:.2%} {'test' if plan.split == 'test' else plan.split} accuracy"
    )
    source = (
        "no frontier: planned from calibration alone"
        if plan.frontier_kind == "none"
        else f"{plan.accuracy_label} from the {plan.frontier_kind} frontier"
    )
    title = (
        f"{plan.dataset}: {goal} ({source}; {plan.spent_seconds:.1f} s spent before training, calibration "
        f"{plan.calibration_seconds:.1f} s of it)"
    )
    ordered = [plan.chosen] + [c for c in plan.candidates if c is not plan.chosen]
    columns = [
        "schedule",
        "epochs",
        f"predicted {'test' if plan.split == 'test' else plan.split} accuracy",
        "predicted command s",
        "init + train + eval + end s",
        "calibration",
        "verdict",
    ]
    return title, columns, [row(c) for c in ordered]


def run_plan(
    plan: Plan, *, quiet: bool = False, argv: list[str] | None = None, callbacks: list | None = None, pace: bool = True
):
    """Train the plan and record how it kept its promise (run_log.json `plan_outcome`). A budget's
    run anneals its schedule on the clock (training/pace.py) to end its training at the plan's
    deadline; `pace=False` runs the planned steps instead, cut by a time limit if the machine is
    slower than calibrated (what planned runs did before, kept for the benchmark that compares
    them). `callbacks` join the run (a benchmark's periodic evaluation, say)."""
    deadline = plan.training_deadline()
    guard: list[Callback] = []
    if deadline is not None and pace:
        assert plan.chosen.timing is not None  # make_plan calibrates every candidate
        end = time.perf_counter() + plan.value - EXIT_SECONDS - plan.clock()  # the budget's end, less the exit
        guard = [ClockPace(end, after=plan.after_training_seconds(), step_seconds=plan.chosen.timing.step_seconds)]
    elif deadline is not None:
        guard = [TimeLimit(max(0.0, deadline - plan.clock() - FIXED_SECONDS), every=1)]
    result = train(plan.config, quiet=quiet, argv=argv, record=plan.record(), callbacks=[*guard, *(callbacks or [])])
    if result.run.writable:
        if plan.chosen.timing is not None:
            observe(plan.config, plan.shape, plan.num_classes, observed_timing(plan, result.run_log))
            observe_end(plan.config.output.plots, plan.num_classes, result.run_log["end_seconds"])
        stopped = any(isinstance(g, TimeLimit) and g.stopped for g in guard)
        result.run_log = result.run.update_run_log(plan_outcome=outcome(plan, result, stopped))
    return result


def observed_timing(plan: Plan, log: dict) -> Timing:
    """The figures the run actually ran at: its training seconds per step (tricks and callbacks
    included) and its evaluation's seconds per image view (the final one: a planned run does not
    validate in its loop)."""
    assert plan.chosen.timing is not None  # observed only for a calibrated plan (run_plan checks)
    views = views_per_image(plan.config.train.tta, plan.config.train.tta_share)
    init = plan.chosen.timing.init_seconds
    steps = max(1, log["steps"])
    evaluated = plan.test_images * views  # the final evaluation (a planned run does not validate in its loop)
    return Timing(
        step_seconds=max(0.0, log["train_seconds"] - init) / steps,
        image_view_seconds=(log["eval_seconds"] + log["final_eval_seconds"]) / max(1, evaluated),
        init_seconds=init,
    )


def outcome(plan: Plan, result, stopped: bool = False) -> dict:
    """The plan beside what the run measured: accuracy on the plan's split, the whole command's seconds."""
    log = result.run_log
    measured = plan.clock()
    pace = log.get("pace") or {}
    return {
        "goal": plan.goal,
        "value": plan.value,
        "accuracy_split": plan.split,
        "predicted_accuracy": plan.chosen.accuracy,
        "predicted_spread": plan.chosen.spread,
        "accuracy": result.metrics["accuracy"],
        "final_split": log.get("final_split"),
        "predicted_command_seconds": plan.predicted_seconds,
        "command_seconds": measured,
        "budget_share_used": measured / plan.value if plan.goal == "budget" else None,
        "planned_epochs": plan.chosen.epochs,
        "planned_steps": pace.get("planned_steps"),
        "steps": log["steps"],
        "epochs_trained": log["steps"] / pace["steps_per_epoch"] if pace else None,
        "schedule_completed": pace["schedule_completed"] if pace else not stopped,
    }


def outcome_lines(plan: Plan, result) -> list[str]:
    """How the run kept its plan, in the user's terms: the accuracy it promised against the one the
    run measured, and the whole command's seconds against the budget (or the prediction)."""
    o = result.run_log["plan_outcome"]
    spread = f" ± {o['predicted_spread']:.2%}" if o["predicted_spread"] else ""
    predicted = (
        ""
        if o["predicted_accuracy"] is None
        else f" (predicted {o['predicted_accuracy']:.2%}{spread}, {plan.accuracy_label})"
    )
    split = "test" if o["final_split"] == "test" else o["final_split"]
    accuracy = f"{split} accuracy {o['accuracy']:.2%}{predicted}"
    if plan.goal == "budget":
        seconds = (
            f"whole command {o['command_seconds']:.1f} s of the {plan.value:g} s budget "
            f"({o['budget_share_used']:.0%} used; predicted {o['predicted_command_seconds']:.1f} s)"
        )
    else:
        seconds = f"whole command {o['command_seconds']:.1f} s (predicted {o['predicted_command_seconds']:.1f} s)"
    lines = [f"plan {'--budget-s' if plan.goal == 'budget' else '--target'} {plan.value:g}: {accuracy}; {seconds}"]
    if o["planned_steps"] and o["steps"] != o["planned_steps"]:
        lines.append(
            f"the schedule annealed on the clock: {o['steps']} steps where {o['planned_steps']} were planned "
            f"(this machine ran {'slower' if o['steps'] < o['planned_steps'] else 'faster'} than calibrated); "
            "config.yaml replays the steps it took"
        )
    if not o["schedule_completed"]:
        lines.append(f"stopped after {o['steps']} steps, before its schedule's end: training reached its time limit")
    return lines
