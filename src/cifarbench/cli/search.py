"""`cifarbench tune` and `cifarbench ablate`: many runs from one base config, on a validation
split (tune) or with each trick taken out (ablate)."""

from __future__ import annotations

from pathlib import Path

from cifarbench.cli.commands import command
from cifarbench.cli.options import config_layers
from cifarbench.cli.parser import one_of
from cifarbench.errors import UserError


def tune_options(p) -> None:
    from cifarbench.search.tune import GRACE_BEATS, HEARTBEAT_S

    p.add_argument(
        "--space",
        required=True,
        metavar="YAML",
        help="the search space: section.field: {choices: [...]} or {low: L, high: H[, log: true][, step: S]}",
    )
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20)")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument(
        "--budget-s",
        type=float,
        metavar="S",
        help="per trial: maximise validation accuracy with each trial's training stopped once it has "
        "run S seconds (train --budget-s plans a whole run instead)",
    )
    goal.add_argument(
        "--target",
        type=float,
        metavar="ACC",
        help="minimise the seconds of a run ending at >= ACC validation accuracy (e.g. 0.93)",
    )
    p.add_argument("--study", help="study name (default: <recipe>-<dataset>)")
    p.add_argument(
        "--storage",
        metavar="URL",
        help="any SQLAlchemy URL; a server database such as "
        "postgresql://user@host/db for processes on several machines "
        "(default: SQLite in the study folder, for one machine)",
    )
    p.add_argument(
        "--heartbeat-s",
        type=int,
        default=HEARTBEAT_S,
        metavar="S",
        help=f"a running trial's heartbeat interval (default {HEARTBEAT_S}); a trial silent for "
        f"{GRACE_BEATS} intervals (its process killed, its machine lost) is failed and run again",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="K", help="K worker processes here, the cores shared out")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed search: its unfinished trials are run again (use only when no other "
        "process works on the study)",
    )
    p.add_argument("--quiet", action="store_true", help="results only")


def ablate_options(p) -> None:
    from cifarbench.search.ablate import MODES

    p.add_argument("--mode", default="leave-one-out", help=one_of(MODES) + " (default leave-one-out)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="runs per row (default 3)")
    p.add_argument("--target", type=float, metavar="ACC", help="also report training seconds to this test accuracy")
    p.add_argument("--quiet", action="store_true", help="results only")


def base_layers(args) -> tuple[str | None, dict, str]:
    """The recipe, the config values every run starts from, and where the command's folder goes."""
    base = config_layers(args)
    return base.pop("recipe", None), base, base.pop("runs_dir", "runs")


@command(
    "tune",
    "search config values with Optuna on a validation split (never the test split)",
    options=tune_options,
    config=True,
    example=("--space", "space.yaml"),
    description="Search config fields with Optuna (pip install "
    "'cifarbench[tune]'). Every trial is a normal "
    "run that trains on the training split less a "
    "validation part (data.val_split, 0.1 by "
    "default) and is scored on that part; its test "
    "split is sealed. The study is kept in a "
    "database (SQLite in <runs-dir>/tune-<study>/ by"
    " default): the same command again continues it."
    " The config options set the base of every "
    "trial.",
)
def cmd_tune(args) -> int:
    from cifarbench.search.space import load_space
    from cifarbench.search.tune import TuneRequest, require_optuna, tune
    from cifarbench.search.tune_report import summary_text

    require_optuna()  # before anything is read or written
    recipe, base, runs_dir = base_layers(args)
    request = TuneRequest(
        recipe,
        load_space(args.space),
        base,
        trials=args.trials,
        budget_s=args.budget_s,
        target=args.target,
        storage=args.storage,
        study=args.study,
        jobs=args.jobs,
        resume=args.resume,
        runs_dir=runs_dir,
        quiet=args.quiet,
        heartbeat_s=args.heartbeat_s,
    )
    result = tune(request)
    print((Path(result["folder"]) / "trials.md").read_text(), end="")
    print(summary_text(result))
    # a search with no complete trial recommends nothing: a script or CI job must not take it as done
    return 0 if result.get("best_config") is not None else 1


@command(
    "ablate",
    "train a recipe with each trick removed (or added one by one): accuracy, time, time to target",
    options=ablate_options,
    config=True,
    description="Take a recipe's tricks apart. Its tricks are read from the"
    " recipe (and its model): leave-one-out trains the full "
    "recipe, then each trick off in turn; cumulative starts "
    "with every trick off and adds them in the recipe's order. "
    "N seeds per row, from train.seed. The config options set "
    "the base of every row.",
)
def cmd_ablate(args) -> int:
    from cifarbench.results import print_folder_report
    from cifarbench.search.ablate import ablate

    recipe, base, runs_dir = base_layers(args)
    if not recipe:
        raise UserError("ablate needs --recipe: the recipe whose tricks to take apart")
    result = ablate(
        recipe, base, mode=args.mode, seeds=args.seeds, target=args.target, runs_dir=runs_dir, quiet=args.quiet
    )
    print_folder_report(result)
    return 0
