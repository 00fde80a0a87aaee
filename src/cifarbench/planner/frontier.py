"""The accuracy frontier: what a compute schedule reaches, whatever machine runs it.

A point is a recipe and a config layer over it (the net, the epochs, the precision), trained
with N seeds in one of two ways:

    --split validation  on the training split less a validation part (10%), ending on that part (the
                        test split sealed, as in `tune`): the figure recipes are chosen on
    --split test        on the whole training split, the test split read once, at each run's end (no
                        validation in the loop, whose validation split would be the test split): the
                        figure a user measures, as published tables report a fixed schedule. Nothing is
                        chosen from it; it is what the planner promises (`--target`, `--budget-s`)

What a schedule reaches depends on the schedule, not on the machine's speed, so a frontier
measured once per dataset serves the planner (planner/plan.py) on any CPU or GPU; its seconds are
kept too, with the machine, but the planner times schedules by calibration instead. Each figure
keeps the training images an epoch saw, so a plan counts images seen, not epochs.

    cifarbench frontier --dataset fashion-mnist --recipe fashion-tiny-8ep --point airbench-tiny:4,8,16 \\
        --seeds 3 --split test -o src/cifarbench/planner/frontiers/fashion-mnist.json

A frontier file is JSON: {"dataset", "kind": "measured" | "published", "points": [...]}; each
command that writes one adds or replaces points (same recipe, model, epochs and precision) and
keeps the others, and the file is rewritten after every point, so a killed run loses one point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cifarbench.api import train
from cifarbench.config import get_path, merge
from cifarbench.errors import ConfigError
from cifarbench.files import atomic_write_json, new_folder
from cifarbench.fingerprint import fingerprint, short_commit
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.results import summarise
from cifarbench.training.recipes import RENAMED

FRONTIERS = Path(__file__).parent / "frontiers"  # the frontiers shipped with the package
VAL_SPLIT = 0.1  # the share of the training split a frontier point validates on
# Levers a point's key (recipe, model, epochs, precision) does not name: a point measured with one would
# replace the plain net's point, and a plan would read the plain net's accuracy for it. Ablate them with
# benchmarks/levers.py; a lever that pays becomes a net or a recipe of its own, with its own points.
NOT_IN_A_POINT = ("model.widths", "augment.progressive_from")


SPLITS = ("validation", "test")


def refuse_unkeyed_levers(layers: dict, what: str) -> None:
    for path in NOT_IN_A_POINT:
        if get_path(layers, path) not in (None, 0):
            raise ConfigError(
                f"{path} cannot be given to {what}: frontier points are keyed by recipe, model, epochs "
                "and precision, not by it; compare it with benchmarks/levers.py"
            )


@dataclass(frozen=True)
class Point:
    """One schedule of a frontier and what its seeds reached on the validation split."""

    recipe: str
    model: str
    epochs: float
    precision: str  # the precision the point was trained in ("bf16", "fp32", ...)
    accuracy: dict | None  # summarise() of the seeds' validation accuracies: mean, std, min, max, n
    layer: dict  # the config layer over the recipe that makes this schedule
    kind: str = "measured"  # or "published": a figure from a paper, with its source
    source: str = ""
    seconds: dict | None = None  # summarise() of whole-run seconds on the machine that measured it
    machine: str = ""
    # the images one epoch of the validation runs trained on (None in files older than the field: the
    # training split less VAL_SPLIT)
    train_images: int | None = None
    test: dict | None = None  # summarise() of test accuracies of runs on the whole training split
    test_train_images: int | None = None  # the images one epoch of those runs trained on
    test_seconds: dict | None = None
    test_machine: str = ""

    @classmethod
    def from_dict(cls, values: dict) -> Point:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in values.items() if k in known}
        # a point measured under a recipe's former name (the same values) is read under its name now
        values["recipe"] = RENAMED.get(values["recipe"], (values["recipe"],))[0]
        return cls(**values)

    def key(self) -> tuple:
        return self.recipe, self.model, float(self.epochs), self.precision


TEST_FIELDS = ("test", "test_train_images", "test_seconds", "test_machine")


def frontier_path(dataset: str) -> Path:
    return FRONTIERS / f"{dataset}.json"


def load_frontier(dataset: str, path: str | Path | None = None) -> list[Point]:
    """The points of a dataset's frontier ([] where none is kept), from `path` or the package."""
    file = Path(path) if path else frontier_path(dataset)
    if not file.is_file():
        if path:
            raise ConfigError(f"frontier file {file} does not exist")
        return []
    try:
        values = json.loads(file.read_text(encoding="utf-8"))
        if values.get("dataset") != dataset:
            raise ConfigError(f"frontier file {file} is for {values.get('dataset')!r}, not {dataset!r}")
        return [Point.from_dict(p) for p in values["points"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"frontier file {file} is not a frontier ({type(exc).__name__}: {exc})") from None


def write_frontier(dataset: str, points: list[Point], path: Path, commands: list[str]) -> None:
    kinds = sorted({p.kind for p in points})
    atomic_write_json(
        {
            "dataset": dataset,
            "kind": "+".join(kinds),
            "val_split": VAL_SPLIT,
            "commands": commands,
            "points": [p.__dict__ for p in sorted(points, key=Point.key)],
        },
        path,
    )


def parse_point(text: str) -> tuple[str, list[float]]:
    """--point MODEL:E1,E2,... -> (model, [E1, E2, ...])."""
    model, _, epochs = text.partition(":")
    try:
        values = [float(e) for e in epochs.split(",") if e.strip()]
    except ValueError:
        values = []
    if not model or not values or any(v <= 0 for v in values):
        raise ConfigError(f"--point {text!r} must look like MODEL:EPOCHS,EPOCHS,... e.g. airbench-tiny:4,8,16")
    return model, values


def measure_frontier(
    dataset: str,
    recipe: str,
    grid: list[tuple[str, list[float]]],
    *,
    seeds: int = 3,
    layers: dict | None = None,
    output: str | Path,
    command: str = "",
    quiet: bool = True,
    split: str = "validation",
) -> list[Point]:
    """Train each (model, epochs) schedule of `grid` over `recipe` with `seeds` seeds, on the
    validation split or (split="test") on the whole training split to the test split, and add the
    figures to the frontier file `output` (created if missing): a point measured one way keeps the
    other way's figures."""
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds} must be at least 1")
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r} must be one of {', '.join(SPLITS)}")
    layers = layers or {}
    refuse_unkeyed_levers(layers, "a frontier")
    if get_path(layers, "data.val_split") not in (None, VAL_SPLIT):
        raise ConfigError(f"a frontier validates on data.val_split {VAL_SPLIT}; it cannot be changed")
    output = Path(output)
    existing = {p.key(): p for p in (load_frontier(dataset, output) if output.is_file() else [])}
    commands = json.loads(output.read_text(encoding="utf-8")).get("commands", []) if output.is_file() else []
    commands = commands + ([command] if command else [])
    base = resolve_config(recipe, layers, {"data": {"dataset": dataset}})
    folder = new_folder(Path(base.runs_dir), f"frontier-{dataset}")
    info = fingerprint()
    # the CPU by its id (one model name covers several generations), the software, the commit
    machine = (
        f"{info.get('cpu_model', '')} ({'+'.join(info.get('cpu_isa') or [])}; {info.get('cpu_id')}; "
        f"torch {info.get('torch')}; commit {short_commit(info.get('git_commit'))})"
    )
    added = []
    for model, epochs in grid:
        for n in epochs:
            layer = {"model": {"name": model}, "train": {"epochs": float(n)}}
            runs = []
            for seed in range(base.train.seed, base.train.seed + seeds):
                config = resolve_config(
                    recipe,
                    layers,
                    layer,
                    {
                        "data": {"dataset": dataset, "val_split": VAL_SPLIT if split == "validation" else 0.0},
                        # a test run does not validate in its loop (val_split 0: it would read the test split)
                        "train": {"seed": seed, **({"eval_every": 0} if split == "test" else {})},
                        "output": {"plots": False},
                        "runs_dir": str(folder),
                        "name": f"{model}-{n:g}ep-{split}-seed{seed}",
                    },
                )
                runs.append(train(config, quiet=quiet, final="validation" if split == "validation" else "test"))
            log = runs[0].run_log
            accuracy = summarise([r.metrics["accuracy"] for r in runs])
            seconds = summarise([timed_seconds(r) for r in runs])
            where = f"{machine} ({log.get('device', 'cpu')})"
            key = (recipe, model, float(n), log["precision"])
            old = existing.get(key)
            if split == "validation":
                point = Point(
                    recipe=recipe,
                    model=model,
                    epochs=float(n),
                    precision=log["precision"],
                    accuracy=accuracy,
                    layer=merge(layers, layer),
                    seconds=seconds,
                    machine=where,
                    train_images=log["train_images"],
                    **({f: getattr(old, f) for f in TEST_FIELDS} if old else {}),
                )
            else:
                point = Point(
                    **{
                        **(
                            old.__dict__
                            if old
                            else {
                                "recipe": recipe,
                                "model": model,
                                "epochs": float(n),
                                "precision": log["precision"],
                                "accuracy": None,
                                "layer": merge(layers, layer),
                            }
                        ),
                        "test": accuracy,
                        "test_train_images": log["train_images"],
                        "test_seconds": seconds,
                        "test_machine": where,
                    }
                )
            existing[point.key()] = point
            added.append(point)
            write_frontier(dataset, list(existing.values()), output, commands)
    return added


def frontier_table(points: list[Point]) -> tuple[str, list[str], list[list]]:
    """Title, columns and rows of a frontier, for the terminal."""

    def figure(summary: dict | None) -> str:
        if not summary:
            return ""
        spread = f" ± {100 * summary['std']:.2f}" if summary.get("std") else ""
        return f"{100 * summary['mean']:.2f}%{spread} ({summary.get('n') or 'published'})"

    rows = [
        [
            p.kind,
            p.recipe,
            p.model,
            f"{p.epochs:g}",
            p.precision,
            figure(p.accuracy),
            figure(p.test),
            f"{p.seconds['median']:.1f}" if p.seconds else "",
            p.machine or p.test_machine or p.source,
        ]
        for p in sorted(points, key=Point.key)
    ]
    return (
        "frontier: validation accuracy (recipes chosen on it) and test accuracy (the whole training split; "
        "what a plan promises), mean ± std (seeds)",
        ["kind", "recipe", "model", "epochs", "precision", "validation", "test", "seconds", "machine / source"],
        rows,
    )
