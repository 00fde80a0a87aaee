"""The planner: the most accurate schedule this machine finishes in S seconds (`--budget-s`),
or the fastest one that reaches accuracy A (`--target`).

    accuracy(schedule)  from the dataset's frontier (bench/frontier.py): measured on a validation
                        split, the same on every machine; between two measured epoch counts of a
                        net it is interpolated in log(epochs), never extrapolated past them
    seconds(schedule)   from a calibration here and now (bench/calibrate.py): the data-dependent
                        init + steps x seconds per step + the last validation and the final
                        evaluation (every TTA view) x seconds per image view + a fixed margin
    the budget          counts the calibration's own seconds too; a schedule is planned to end at
                        BUDGET_SHARE of what is left, so that the run ends within S

A dataset with no frontier (synthetic data, a new dataset) is planned from calibration alone on a
default schedule: --budget-s trains it for as many epochs as fit, --target is refused (nothing
says what accuracy a schedule reaches there).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

from cifarbench.api import train
from cifarbench.bench.calibrate import Timing, calibrate, observe
from cifarbench.bench.frontier import Point, load_frontier, refuse_unkeyed_levers
from cifarbench.config import RunConfig, get_path, merge
from cifarbench.data.prepare import load_configured_dataset
from cifarbench.errors import ConfigError
from cifarbench.eval.tta import views_per_image
from cifarbench.train.callbacks import TimeLimit
from cifarbench.train.recipes import resolve_config

# The share of what calibration leaves that a plan fills: a run here is 10% faster or slower than
# the last from one process to the next, and the time limit (below) catches the slower ones
BUDGET_SHARE = 0.95
# selective TTA for planned runs: the extra views for each batch's least confident quarter. On
# Fashion-MNIST's validation split it gave every one of 6 models (2 recipes x 3 seeds) exactly the
# full TTA's accuracy at 0.31 of its cost (benchmarks/results/levers-fashion-mnist-avx512-bf16.json),
# so the frontier's full-TTA points stand for it; --set train.tta_share=null restores full TTA
TTA_SHARE = 0.25
EVAL_MARGIN = 1.15  # on the slowest evaluation seen, for the reserve the time limit keeps
FIXED_SECONDS = 0.3  # building the net, the run folder, the checkpoint: what calibration does not time
# With no frontier: airbench94's recipe on its smallest net, which trains anything from 28x28x1 up.
DEFAULT_SCHEDULE = {"recipe": "airbench94", "model": {"name": "airbench-tiny"}}
DEFAULT_EPOCHS = (0.25, 50.0)  # the range of epochs a schedule without a frontier may take


@dataclass
class Candidate:
    """One net's schedules: its frontier points (sorted by epochs) and its calibration."""

    recipe: str
    model: str
    points: list[Point]
    timing: Timing | None = None
    epochs: float | None = None  # the planned epochs, once chosen
    accuracy: float | None = None  # predicted validation accuracy at those epochs (None: no frontier)
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

    def time_limit(self) -> float | None:
        """The training seconds past which the run is stopped so the budget holds even where the
        calibration was wrong (the machine got busier): what the budget leaves for training once
        calibration, the predicted evaluation and the fixed costs are paid, less the step that may be
        under way when the clock is read (half as long again, for a slower machine)."""
        if self.goal != "budget":
            return None
        s, timing = self.chosen.seconds, self.chosen.timing
        views = views_per_image(self.config.train.tta, self.config.train.tta_share)
        reserve = max(s["evaluation"], self.test_images * (views + 1) * timing.eval_reserve_per_view) * EVAL_MARGIN
        return max(0.0, self.value - self.calibration_seconds - reserve - s["fixed"] - 1.5 * timing.step_seconds)

    def record(self) -> dict:
        """What run_log.json keeps of the plan."""
        def one(c: Candidate) -> dict:
            return {"recipe": c.recipe, "model": c.model, "epochs": c.epochs, "predicted_accuracy": c.accuracy,
                    "spread": c.spread, "predicted_seconds": c.seconds, "rejected": c.rejected or None,
                    "calibration": asdict(c.timing) if c.timing else None}
        return {"plan": {"dataset": self.dataset, "goal": self.goal, "value": self.value,
                         "frontier": self.frontier_kind, "calibration_seconds": self.calibration_seconds,
                         "training_time_limit": self.time_limit(),
                         "chosen": one(self.chosen), "candidates": [one(c) for c in self.candidates]}}


def interpolate(points: list[Point], epochs: float) -> tuple[float, float]:
    """Predicted (accuracy, std) at `epochs`, linear in log(epochs) between the measured points."""
    xs = [math.log(p.epochs) for p in points]
    x = math.log(epochs)
    for (x0, p0), (x1, p1) in zip(zip(xs, points), zip(xs[1:], points[1:])):
        if x0 <= x <= x1:
            w = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            return ((1 - w) * p0.accuracy["mean"] + w * p1.accuracy["mean"],
                    (1 - w) * p0.accuracy.get("std", 0.0) + w * p1.accuracy.get("std", 0.0))
    only = points[0] if x <= xs[0] else points[-1]
    return only.accuracy["mean"], only.accuracy.get("std", 0.0)


def candidates_of(points: list[Point]) -> list[Candidate]:
    """One candidate per (recipe, net), with every epoch count measured for it in any precision:
    the planner assumes precisions agree (the frontier's own check, bf16 against fp32 within seed
    noise), so a machine's own short fp32 points and another's long bf16 points make one curve.
    Where one epoch count was measured in several precisions, the point of the precision with the
    most points for that net stands (its curve is the smoother one), then the one of more seeds,
    then the first precision by name: the same choice whatever order the file lists them in."""
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        groups.setdefault((p.recipe, p.model), []).append(p)
    out = []
    for (recipe, model), group in groups.items():
        per_precision = {q.precision: sum(r.precision == q.precision for r in group) for q in group}
        by_epochs: dict[float, Point] = {}
        for p in sorted(group, key=lambda p: (-per_precision[p.precision], -(p.accuracy.get("n") or 0), p.precision)):
            by_epochs.setdefault(p.epochs, p)
        out.append(Candidate(recipe, model, sorted(by_epochs.values(), key=lambda p: p.epochs)))
    return out


def predicted_seconds(timing: Timing, epochs: float, train_images: int, test_images: int, batch: int,
                      views: int) -> dict:
    steps = math.ceil(epochs * math.ceil(train_images / batch))
    return {"init": timing.init_seconds, "training": steps * timing.step_seconds,
            # the last epoch's validation (one view) and the final evaluation (every TTA view)
            "evaluation": test_images * (views + 1) * timing.image_view_seconds, "fixed": FIXED_SECONDS}


def make_plan(layers: dict, *, budget_s: float | None = None, target: float | None = None,
              frontier: str | None = None, timer: Callable[..., Timing] = calibrate) -> Plan:
    """The plan for the dataset `layers` names: one of budget_s / target, the other None.
    `timer(config, shape, classes)` gives a candidate's Timing (tests pass made-up figures)."""
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
    # loading the data is, paid here before any clock rather than inside a run a cached plan starts
    import torch._dynamo  # noqa: F401

    probe = resolve_config(DEFAULT_SCHEDULE["recipe"], layers)
    dataset = probe.data.dataset
    points = load_frontier(dataset, frontier)
    if not points and target is not None:
        raise ConfigError(f"no frontier for {dataset!r}: nothing says what accuracy a schedule reaches there, so "
                          "--target cannot be planned; --budget-s can (from calibration alone), or measure one "
                          "with `cifarbench frontier`")
    ds = load_configured_dataset(probe, quiet=True)
    train_images = len(ds.train) if probe.data.train_subset is None else min(len(ds.train), probe.data.train_subset)
    train_images = int(train_images * (1 - probe.data.val_split))
    test_images = len(ds.test) if probe.data.test_subset is None else min(len(ds.test), probe.data.test_subset)
    candidates = candidates_of(points) or [Candidate(DEFAULT_SCHEDULE["recipe"], DEFAULT_SCHEDULE["model"]["name"], [])]
    calibration_seconds = 0.0
    configs = [_config_of(c, layers, 1.0) for c in candidates]
    for c, config in zip(candidates, configs):
        c.timing = timer(config, ds.shape, ds.num_classes)
        calibration_seconds += c.timing.seconds
    left = None if budget_s is None else (budget_s - calibration_seconds) * BUDGET_SHARE
    for c, config in zip(candidates, configs):
        views = views_per_image(config.train.tta, config.train.tta_share)
        seconds = lambda e, c=c, b=config.train.batch_size, v=views: predicted_seconds(  # noqa: E731
            c.timing, e, train_images, test_images, b, v)
        low, high = (c.points[0].epochs, c.points[-1].epochs) if c.points else DEFAULT_EPOCHS
        if budget_s is not None:
            _fit_budget(c, seconds, low, high, left)
        else:
            _reach_target(c, seconds, target)
    fitting = [c for c in candidates if not c.rejected]
    if not fitting:
        raise ConfigError(_nothing_fits(candidates, budget_s, target, calibration_seconds))
    if budget_s is not None:  # the most accurate; without a frontier, the one candidate
        chosen = max(fitting, key=lambda c: (c.accuracy or 0.0, -sum(c.seconds.values())))
    else:
        chosen = min(fitting, key=lambda c: sum(c.seconds.values()))
    for c in fitting:
        if c is not chosen:
            c.rejected = "less accurate in the budget" if budget_s is not None else "slower to the target"
    kind = "+".join(sorted({p.kind for p in chosen.points})) or "none"
    return Plan(dataset, "budget" if budget_s is not None else "target", budget_s if budget_s is not None else target,
                chosen, candidates, calibration_seconds, _config_of(chosen, layers, chosen.epochs, final=True), kind,
                ds.shape, ds.num_classes, test_images)


def _config_of(c: Candidate, layers: dict, epochs: float, final: bool = False) -> RunConfig:
    """The candidate's schedule at `epochs`, under what the user gave. The run validates once, at
    its last epoch, and checkpoints once, at its end: per-epoch validations and checkpoints would
    spend the budget on nothing the plan uses (the user's own --set values still win)."""
    point_layer = copy.deepcopy(c.points[0].layer) if c.points else {"model": DEFAULT_SCHEDULE["model"]}
    schedule = merge(point_layer, {"model": {"name": c.model}, "train": {"epochs": round(epochs, 4),
                                                                           "tta_share": TTA_SHARE}})
    # what made the frontier's runs, not the plan's: its own precision, threads, validation split
    for path in ("train.precision", "train.threads", "data.download", "data.val_split"):
        section, key = path.split(".")
        schedule.get(section, {}).pop(key, None)
    run = {"train": {"eval_every": max(1, math.ceil(epochs)), "checkpoint_every": 0}} if final else {}
    return resolve_config(c.recipe, schedule, run, layers)


def _fit_budget(c: Candidate, seconds, low: float, high: float, left: float) -> None:
    def total(e):
        return sum(seconds(e).values())
    if left <= 0 or total(low) > left:
        c.rejected = f"needs {total(low) / BUDGET_SHARE:.1f} s for its shortest schedule ({low:g} epochs)"
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
    c.epochs = math.floor(lo * 100) / 100
    c.seconds = seconds(c.epochs)
    if c.points:
        c.accuracy, c.spread = interpolate(c.points, c.epochs)


def _reach_target(c: Candidate, seconds, target: float) -> None:
    best = max(p.accuracy["mean"] for p in c.points)
    if best < target:
        c.rejected = f"reaches {best:.2%} at most ({c.points[-1].epochs:g} epochs)"
        c.accuracy = best
        return
    # the fewest epochs whose predicted accuracy reaches the target, to 0.01 epoch
    lo, hi = c.points[0].epochs, next(p.epochs for p in c.points if p.accuracy["mean"] >= target)
    if interpolate(c.points, lo)[0] >= target:
        hi = lo
    while hi - lo > 0.01:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if interpolate(c.points, mid)[0] >= target else (mid, hi)
    c.epochs = math.ceil(hi * 100) / 100
    c.accuracy, c.spread = interpolate(c.points, c.epochs)
    c.seconds = seconds(c.epochs)


def _nothing_fits(candidates: list[Candidate], budget_s, target, calibration_seconds: float) -> str:
    if budget_s is not None:
        need = min(sum(c.seconds.values()) for c in candidates) / BUDGET_SHARE + calibration_seconds
        return (f"--budget-s {budget_s:g}: no schedule fits; the shortest needs about {math.ceil(need)} s here "
                f"(calibration {calibration_seconds:.1f} s included)")
    best = max(candidates, key=lambda c: c.accuracy or 0.0)
    return (f"--target {target:g}: no schedule on the frontier reaches it; the highest is {best.accuracy:.2%} "
            f"({best.label}, {best.points[-1].epochs:g} epochs, validation accuracy)")


def plan_table(plan: Plan) -> tuple[str, list[str], list[list]]:
    """Title, columns and rows of `cifarbench plan`: every candidate, the chosen one first."""
    def row(c: Candidate) -> list:
        s = c.seconds
        if c.accuracy is None:
            accuracy = "" if c.points else "no frontier"
        else:
            accuracy = f"{c.accuracy:.2%}" + (f" ± {c.spread:.2%}" if c.spread else "")
        parts = f"{s['init']:.1f} + {s['training']:.1f} + {s['evaluation']:.1f}" if s else ""
        return [c.label, f"{c.epochs:g}" if c.epochs else "", accuracy, f"{sum(s.values()):.1f}" if s else "",
                parts, ("(cached) " if c.timing and c.timing.cached else "") +
                (f"{c.timing.step_seconds * 1000:.1f} ms/step" if c.timing else ""),
                "chosen" if c is plan.chosen else c.rejected]
    goal = (f"the most accurate schedule in {plan.value:g} s" if plan.goal == "budget"
            else f"the fastest schedule to {plan.value:.2%}")
    source = ("no frontier: planned from calibration alone" if plan.frontier_kind == "none"
              else f"validation accuracy from the {plan.frontier_kind} frontier")
    title = f"{plan.dataset}: {goal} ({source}; calibration {plan.calibration_seconds:.1f} s)"
    ordered = [plan.chosen] + [c for c in plan.candidates if c is not plan.chosen]
    return title, ["schedule", "epochs", "predicted accuracy", "predicted s", "init + train + eval s",
                   "calibration", "verdict"], [row(c) for c in ordered]


def run_plan(plan: Plan, *, quiet: bool = False, argv: list[str] | None = None, callbacks: list | None = None):
    """Train the plan, guarded by its time limit; (the run's result, whether the guard stopped it).
    `callbacks` join the guard (a benchmark's periodic evaluation, say)."""
    guard = TimeLimit(plan.time_limit(), every=1)
    result = train(plan.config, quiet=quiet, argv=argv, record=plan.record(), callbacks=[guard, *(callbacks or [])])
    if result.run.writable and plan.chosen.timing is not None:
        observe(plan.config, plan.shape, plan.num_classes, observed_timing(plan, result.run_log))
    return result, guard.stopped


def observed_timing(plan: Plan, log: dict) -> Timing:
    """The figures the run actually ran at: its training seconds per step (tricks and callbacks
    included) and its evaluations' seconds per image view (the last validation and the final one)."""
    views = views_per_image(plan.config.train.tta, plan.config.train.tta_share)
    init = plan.chosen.timing.init_seconds
    steps = max(1, log["steps"])
    evaluated = plan.test_images * (views + 1)
    return Timing(step_seconds=max(0.0, log["train_seconds"] - init) / steps,
                  image_view_seconds=(log["eval_seconds"] + log["final_eval_seconds"]) / max(1, evaluated),
                  init_seconds=init)


def outcome_lines(plan: Plan, result, stopped: bool) -> list[str]:
    """How the run kept its plan: the seconds used (calibration + run) against the budget."""
    run_seconds = result.run_log["run_seconds"]
    used = plan.calibration_seconds + run_seconds
    parts = f"calibration {plan.calibration_seconds:.1f} s + run {run_seconds:.1f} s"
    lines = [f"budget {plan.value:g} s: used {used:.1f} s ({used / plan.value:.0%}; {parts})" if plan.goal == "budget"
             else f"target {plan.value:.2%}: {used:.1f} s ({parts})"]
    if stopped:
        lines.append(f"stopped after {result.run_log['steps']} steps, before the plan's end: training reached its time "
                     f"limit of {plan.time_limit():.1f} s (this machine ran slower than it was calibrated)")
    return lines
