"""`cifarbench plan` (the schedule a budget or a target asks for, on this machine) and
`cifarbench frontier` (the accuracy a schedule reaches, measured on a validation split)."""

from __future__ import annotations

import shlex
import sys

from cifarbench.cli.commands import command
from cifarbench.cli.options import config_layers
from cifarbench.errors import UserError


def add_goal_options(p, required: bool) -> None:
    """--budget-s / --target / --frontier: what `plan` and `train` plan for."""
    goal = p.add_mutually_exclusive_group(required=required)
    goal.add_argument(
        "--budget-s",
        type=float,
        metavar="S",
        help="the most accurate schedule this machine finishes in S seconds, the whole command as "
        "`time` counts it (start-up, data, calibration, training, the final evaluation with its "
        "TTA, plots and files); the schedule anneals on the clock to end on time",
    )
    goal.add_argument(
        "--target",
        type=float,
        metavar="ACC",
        help="the fastest schedule whose predicted test accuracy reaches ACC (e.g. 0.93): the "
        "frontier's test figures, measured on the whole training split (validation accuracy "
        "where a frontier has no test figures, and the plan says so)",
    )
    p.add_argument(
        "--frontier",
        metavar="FILE",
        help="a frontier file to plan from (default: the package's for the dataset; `cifarbench frontier` writes one)",
    )


def plan_options(p) -> None:
    add_goal_options(p, required=True)


def frontier_options(p) -> None:
    p.add_argument(
        "--point",
        dest="points",
        action="append",
        required=True,
        metavar="MODEL:E1,E2,...",
        help="a net and the epochs to train it for, e.g. airbench-tiny:4,8,16 (repeatable)",
    )
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds per point (default 3)")
    p.add_argument(
        "--split",
        choices=("validation", "test"),
        default="validation",
        help="validation (default): train on 90%% of the training split and score the rest, the figure "
        "recipes are chosen on; test: train on the whole training split and score the test split "
        "once at the end, the figure a plan promises (nothing is chosen from it)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the frontier file to add the points to")
    p.add_argument("--quiet", action="store_true", help="results only")


@command(
    "frontier",
    "measure what schedules reach on a validation split (the planner's data)",
    options=frontier_options,
    config=True,
    example=("--point", "airbench-tiny:1", "-o", "frontier.json"),
    description="Train each schedule (a net and a number of epochs over --recipe) with N seeds on a validation "
    "split carved from the training data (the test split sealed) and add the points to a frontier "
    "file. The planner (`cifarbench plan`, `train --budget-s/--target`) reads the package's "
    "frontiers; -o src/cifarbench/planner/frontiers/DATASET.json refreshes one.",
)
def cmd_frontier(args) -> int:
    from cifarbench.planner.frontier import frontier_table, measure_frontier, parse_point
    from cifarbench.results import print_table

    layers = config_layers(args)
    recipe, dataset = layers.pop("recipe", None), (layers.get("data") or {}).pop("dataset", None)
    if not recipe or not dataset:
        raise UserError("frontier needs --recipe (the schedule's base) and --dataset")
    grid = [parse_point(text) for text in args.points]
    points = measure_frontier(
        dataset,
        recipe,
        grid,
        seeds=args.seeds,
        layers=layers,
        output=args.output,
        command="cifarbench " + shlex.join(sys.argv[1:]),
        quiet=args.quiet,
        split=args.split,
    )
    print_table(*frontier_table(points))
    print(f"frontier: {args.output}")
    return 0


@command(
    "plan",
    "the schedule a time budget or an accuracy target asks for on this machine, and why",
    options=plan_options,
    config=True,
    example=("--budget-s", "60"),
    description="Choose a schedule from the dataset's frontier (the test accuracy of each fixed schedule, "
    "measured once on the whole training split) and a calibration of this machine (seconds per "
    "step and per evaluated image, cached per machine): with --budget-s, the most accurate one "
    "that ends within S seconds; with --target, the fastest to ACC. Prints the choice, its "
    "predicted accuracy and time in parts, and every candidate with why it lost. `cifarbench "
    "train` with the same options runs it.",
)
def cmd_plan(args) -> int:
    from cifarbench.planner.plan import make_plan, plan_table
    from cifarbench.process_clock import command_seconds
    from cifarbench.results import print_table

    plan = make_plan(
        config_layers(args), budget_s=args.budget_s, target=args.target, frontier=args.frontier, clock=command_seconds
    )
    print_table(*plan_table(plan))
    print(describe_choice(plan))
    return 0


def describe_choice(plan) -> str:
    c = plan.chosen
    accuracy = "" if c.accuracy is None else f", predicted {c.accuracy:.2%} {plan.accuracy_label}"
    return (
        f"plan: {c.label} for {c.epochs:g} epochs{accuracy}, about {plan.predicted_seconds:.1f} s for the whole "
        f"command; run it with `cifarbench train` and the same options"
    )
