"""What a search leaves in its folder: the trials as a table and JSON, the best config as the
YAML `cifarbench train --config` takes, and Optuna's history and parameter-importance charts.

The functions that take a `request` take search.tune.TuneRequest; tune imports this module, so
this one does not import it back, not even for a type annotation."""

from __future__ import annotations

import warnings
from pathlib import Path

import yaml

from cifarbench.files import atomic_write_text
from cifarbench.results import write_result
from cifarbench.search.space import as_config_layer
from cifarbench.tables import markdown_table, percent


def trial_rows(study, params: list[str]) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "outcome": a.get("outcome", "interrupted"),
                "value": t.value,
                "params": dict(t.params),
                "val_accuracy": a.get("val_accuracy"),
                "seconds": a.get("seconds"),
                "epochs_completed": a.get("epochs_completed"),
                "stopped_by_budget": a.get("stopped_by_budget"),
                "reason": a.get("reason"),
                "run_dir": a.get("run_dir"),
            }
        )
    return rows


def best_trial(study, direction: str = "maximize"):
    """The trial a study recommends, by one rule for every study: the best complete trial whose
    schedule ran to its end. In a --budget-s study a trial whose training the budget stopped is
    not recommended: its schedule was cut short (its learning rate never annealed), and as a
    recipe it would run the whole schedule, longer than the budget. None while there is none."""
    eligible = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.value is not None and t.state.name == "COMPLETE" and not t.user_attrs.get("stopped_by_budget", False)
    ]
    if not eligible:
        return None
    sign = -1 if direction == "maximize" else 1
    return min(eligible, key=lambda t: (sign * t.value, t.number))  # the earliest of equal values


def trials_markdown(rows: list[dict], params: list[str], objective: str, best_number: int | None) -> str:
    columns = ["trial", "outcome", *params, "val accuracy", "seconds"]
    table = []
    for r in rows:
        mark = " (best)" if r["number"] == best_number else ""
        outcome = f"{r['outcome']}, cut by the budget" if r.get("stopped_by_budget") else r["outcome"]
        table.append(
            [
                f"{r['number']}{mark}",
                outcome,
                *(_short(r["params"].get(p)) for p in params),
                percent(r["val_accuracy"]) if r["val_accuracy"] is not None else "–",
                f"{r['seconds']:.1f}" if r["seconds"] is not None else "–",
            ]
        )
    return (
        f"Objective: {objective}. Accuracy is on the validation part carved from the training split "
        "(the test split is sealed in every trial); seconds are init + training + final evaluation. "
        "The best trial is the best complete one whose schedule ran to its end (one the budget cut short "
        "is not recommended).\n\n" + markdown_table(columns, table)
    )


def _short(value) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_study_report(optuna, study, request) -> dict:
    folder = request.folder()
    params = [p.field for p in request.space]
    rows = trial_rows(study, params)
    best = best_trial(study, request.direction)
    result = {
        "study": study.study_name,
        "storage": request.storage_url(),
        "direction": request.direction,
        "search": request.search(),
        "trials": rows,
        "best_trial": best.number if best else None,
    }
    write_result(folder / "trials.json", "tune", result)
    atomic_write_text(
        trials_markdown(rows, params, request.objective, best.number if best else None) + "\n", folder / "trials.md"
    )
    if best is not None:
        layer = best_config_layer(request, best.params)
        header = (
            f"# best trial {best.number} of study {study.study_name!r}: {best.user_attrs.get('val_accuracy', 0):.2%}"
            f" validation accuracy in {best.user_attrs.get('seconds', 0):.1f} s\n"
            f"# cifarbench train --config {folder / 'best.yaml'}\n"
        )
        atomic_write_text(header + yaml.safe_dump(layer, sort_keys=False), folder / "best.yaml")
        result["best_config"] = layer
    result["charts"] = [str(p) for p in draw_charts(optuna, study, folder)]
    result["folder"] = str(folder)
    return result


def draw_charts(optuna, study, folder: Path) -> list[Path]:
    """Optuna's own history and importance charts (matplotlib) as PNG; importance needs two
    complete trials that differ, so it is drawn only when the study has them."""
    from optuna.visualization import matplotlib as charts

    from cifarbench.plots.charts import save_figure

    drawn = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" API notes and importance caveats, not our user's concern
        if complete:
            drawn += save_figure(charts.plot_optimization_history(study).figure, folder / "history", ("png",))
        if len(complete) >= 2 and len({tuple(sorted(t.params.items(), key=str)) for t in complete}) >= 2:
            try:
                drawn += save_figure(charts.plot_param_importances(study).figure, folder / "importance", ("png",))
            except (RuntimeError, ValueError):  # e.g. every complete trial has the same value
                pass
    return drawn


def best_config_layer(request, params: dict) -> dict:
    """The YAML `cifarbench train --config` takes to train the best trial's config."""
    config = request.base_config
    layer = {"recipe": config.recipe}
    for section, values in request.base.items():
        if section not in ("runs_dir", "name"):
            layer[section] = dict(values) if isinstance(values, dict) else values
    for section, values in as_config_layer(params).items():
        layer.setdefault(section, {}).update(values)
    return layer


def summary_text(result: dict) -> str:
    """What `cifarbench tune` prints below the trials table: the best trial and where things are."""
    best = result.get("best_config")
    if best is None:
        lines = ["no trial completed: nothing to recommend yet"]
    else:
        trial = next(r for r in result["trials"] if r["number"] == result["best_trial"])
        lines = [
            f"best: trial {trial['number']}, {percent(trial['val_accuracy'])} validation accuracy in "
            f"{trial['seconds']:.1f} s -> {Path(result['folder']) / 'best.yaml'}"
        ]
    lines.append(
        f"study {result['study']} ({result['storage']}); this command ran {sum(result['ran_here'])} "
        f"trials; table, JSON and charts in {result['folder']}"
    )
    return "\n".join(lines)
