"""`cifarbench ablate`: what each trick of a recipe buys, trick by trick.

    cifarbench ablate --recipe airbench94 --dataset fashion-mnist --seeds 3 [--mode cumulative]

A recipe's tricks are read from the recipe itself: each field it sets that is one of the known
knobs below (to a value other than the knob's "off" value), in the order the recipe lists them,
after the tricks of its model (a data-initialised first layer, identity-initialised convs).
leave-one-out trains the full recipe, then the recipe with each trick off in turn; cumulative
starts from the recipe with every trick off and switches them on one at a time in order, as
airbench's paper tables do. Each row is N seeds: accuracy mean with its 95% CI, time (init +
training + final evaluation), and the training time at which the per-epoch test accuracy first
reached --target. The test split only reports here: nothing is chosen from it.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cifarbench.api import train
from cifarbench.config import merge, schema_fields
from cifarbench.data.custom import folder_label
from cifarbench.errors import ConfigError
from cifarbench.files import new_folder
from cifarbench.models.airbench import has_identity_init
from cifarbench.models.registry import build_model_for
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, publish, summarise
from cifarbench.tables import markdown_table, percent
from cifarbench.training.recipes import get_recipe

MODES = ("leave-one-out", "cumulative")


@dataclass(frozen=True)
class Knob:
    """A config field that switches a trick: its name in tables, and the value that means "off"."""

    name: str
    field: str  # section.field
    off: object

    def off_for(self, value) -> object:
        # alternating flip refines random flip: taking it away leaves random flips (airbench's baseline)
        if self.field == "augment.flip" and value == "alternating":
            return "random"
        return self.off


# Every config field whose metadata names it a trick (config/sections.py), "off" being its default.
KNOBS = tuple(Knob(f.metadata["trick"], path, f.default) for path, f, _ in schema_fields() if f.metadata["trick"])
# and the model's own tricks, found on the net itself: a data-initialised first layer
# (model.data_init) and identity-initialised convs (model.identity_init)


@dataclass(frozen=True)
class Trick:
    name: str
    field: str
    on: object
    off: object

    def layer(self, value) -> dict:
        section, _, key = self.field.partition(".")
        return {section: {key: value}}


def recipe_tricks(recipe: str, config) -> list[Trick]:
    """The recipe's tricks in order: its model's, then the knobs it sets, as it lists them."""
    knobs = {k.field: k for k in KNOBS}
    tricks = []
    model = build_model_for(config.model.name, (3, 32, 32), 10)  # the net's structure, whatever the data
    if hasattr(model, "init_from_data") and config.model.data_init:
        tricks.append(Trick("whitening init", "model.data_init", True, False))
    if has_identity_init(model) and config.model.identity_init:
        tricks.append(Trick("identity init", "model.identity_init", True, False))
    for section, values in get_recipe(recipe).items():
        if not isinstance(values, dict):
            continue
        for key in values:
            knob = knobs.get(f"{section}.{key}")
            value = getattr(getattr(config, section), key)
            if knob is not None and knob.field not in {t.field for t in tricks} and value != knob.off_for(value):
                tricks.append(
                    Trick(
                        knob.name if knob.field != "augment.flip" else f"{value} flip",
                        knob.field,
                        value,
                        knob.off_for(value),
                    )
                )
    return tricks


def ablation_rows(tricks: list[Trick], mode: str) -> list[tuple[str, dict]]:
    """(label, config layer) per row of the ablation."""
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "leave-one-out":
        return [("full recipe", {})] + [(f"- {t.name}", t.layer(t.off)) for t in tricks]
    layer: dict = {}
    for t in tricks:
        layer = merge(layer, t.layer(t.off))
    rows = [("baseline (tricks off)", layer)]
    for t in tricks:
        layer = merge(layer, t.layer(t.on))
        rows.append((f"+ {t.name}", layer))
    return rows


def first_epoch_time(history: list[dict], target: float) -> float | None:
    """Training seconds at the end of the first epoch whose validation accuracy reached target."""
    seconds = 0.0
    for record in history:
        seconds += record["epoch_seconds"]
        if record.get("val_accuracy") is not None and record["val_accuracy"] >= target:
            return seconds
    return None


def ablate(
    recipe: str,
    base: dict | None = None,
    *,
    mode: str = "leave-one-out",
    seeds: int = 3,
    target: float | None = None,
    runs_dir: str = "runs",
    quiet: bool = True,
) -> dict:
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds} must be at least 1")
    if target is not None and not 0 < target < 1:
        raise ConfigError(f"--target {target} must be an accuracy between 0 and 1 (e.g. 0.93)")
    base = base or {}
    config = resolve_config(recipe, base)
    tricks = recipe_tricks(recipe, config)
    if not tricks:
        raise ConfigError(
            f"recipe {recipe!r} has none of the known tricks (model: whitening init, identity init; "
            f"recipe: {', '.join(k.name for k in KNOBS)})"
        )
    plan = ablation_rows(tricks, mode)
    folder = new_folder(Path(runs_dir), f"ablate-{recipe}-{folder_label(config.data.dataset)}")
    rows: list[dict[str, Any]] = []
    for label, layer in plan:
        runs: list[dict[str, Any]] = []
        for seed in range(config.train.seed, config.train.seed + seeds):
            run_config = resolve_config(
                recipe,
                base,
                layer,
                {
                    "train": {"seed": seed},
                    "output": {"plots": False},
                    "runs_dir": str(folder),
                    "name": _slug(label, seed),
                },
            )
            trained = train(run_config, quiet=quiet)
            runs.append(
                {
                    "seed": seed,
                    "accuracy": trained.metrics["accuracy"],
                    "seconds": timed_seconds(trained),
                    "to_target": first_epoch_time(trained.history, target) if target else None,
                    "run": trained.run.path.name,
                }
            )
        reached = [r["to_target"] for r in runs if r["to_target"] is not None]
        rows.append(
            {
                "label": label,
                "layer": layer,
                "runs": runs,
                "accuracy": summarise([r["accuracy"] for r in runs]),
                "seconds": summarise([r["seconds"] for r in runs]),
                "to_target_mean": statistics.fmean(reached) if reached else None,
                "reached": len(reached),
            }
        )
    result: dict[str, Any] = {
        "recipe": recipe,
        "dataset": config.data.dataset,
        "mode": mode,
        "seeds": seeds,
        "target": target,
        "tricks": [dataclasses.asdict(t) for t in tricks],
        "rows": rows,
    }
    report = ablation_markdown(result)
    chart = {
        "file": "ablation",
        "labels": [r["label"] for r in rows],
        "values": [100 * r["accuracy"]["mean"] for r in rows],
        "errors": [tuple(100 * v for v in r["accuracy"]["ci95"]) for r in rows],
        "title": f"{recipe} on {config.data.dataset}: {mode} ablation ({seeds} seeds, 95% CI)",
        "ylabel": "test accuracy %",
        "zoom": True,
    }
    published = publish(folder, "ablate", result, report, chart)
    if not quiet:
        print_table(
            f"{mode} ablation of {recipe}",
            ["row", "accuracy", "95% CI", "seconds"],
            [[r["label"], percent(r["accuracy"]["mean"]), _ci(r), r["seconds"]["mean"]] for r in rows],
        )
    return published


def ablation_table(result: dict) -> str:
    """The ablation's rows as a Markdown table (its report and the README both show this)."""
    target = result["target"]
    columns = ["row", "test accuracy", "95% CI", "seconds"] + ([f"s to {target:.0%}"] if target else [])
    table = []
    for r in result["rows"]:
        row = [r["label"], percent(r["accuracy"]["mean"]), _ci(r), f"{r['seconds']['mean']:.1f}"]
        if target:
            n = len(r["runs"])
            row.append(f"{r['to_target_mean']:.1f} ({r['reached']}/{n})" if r["reached"] else f"never (0/{n})")
        table.append(row)
    return markdown_table(columns, table)


def ablation_markdown(result: dict) -> str:
    return (
        f"# {result['mode']} ablation of {result['recipe']} on {result['dataset']} ({result['seeds']} seeds)\n\n"
        + ablation_table(result)
        + "\nSeconds: init + training + final evaluation (with the row's TTA). Time to target: training seconds at "
        "the end of the first epoch whose test accuracy reached it, over the seeds that reached it.\n"
    )


def _ci(row: dict) -> str:
    if row["accuracy"]["n"] < 2:
        return "–"  # one seed has no spread to bound
    lo, hi = row["accuracy"]["ci95"]
    return f"{percent(lo)} – {percent(hi)}"


def _slug(label: str, seed: int) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").lower() + f"-seed{seed}"
