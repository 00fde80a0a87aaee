"""`cifarbench train` and `cifarbench reproduce`: one run, N seeded runs, or the same run twice."""

from __future__ import annotations

import sys
from pathlib import Path

from cifarbench.cli.commands import command
from cifarbench.cli.options import config_layers
from cifarbench.cli.plan import add_goal_options
from cifarbench.errors import UserError


def train_options(p) -> None:
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="N runs with seeds seed..seed+N-1; prints mean, std and 95%% CI of accuracy and time. Under "
        "torchrun, each process takes its share of the seeds as independent runs (no DDP)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="K",
        help="with --runs N: K runs at a time, the CPU cores shared out (one GPU each where there are "
        "several). A seed gives the same run whatever K at the same threads per run: fix them "
        "with --hardware.threads T to compare K=1 with K=2 bit for bit",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar; results only")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as YAML (what the run's config.yaml would hold; `--config` takes it "
        "back) and exit, reading no data and writing nothing",
    )
    add_goal_options(p, required=False)


def quiet_option(p) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar; results only")


@command(
    "train",
    "train a model (no flags: the best CIFAR-10 recipe on the best device)",
    options=train_options,
    config=True,
    description="Train a model. Values resolve as: defaults < recipe < --config YAML < flags and "
    "--set. Every config field is an option (--section.field); the common ones have a "
    "short flag too (--lr, --epochs, --dataset).",
)
def cmd_train(args) -> int:
    from cifarbench.api import resume, train
    from cifarbench.resolve import resolve_config

    asked = config_layers(args)
    if args.print_config:
        return print_config(args, asked)
    if args.runs < 1:
        raise UserError(f"--runs {args.runs} must be at least 1")
    if args.resume and args.runs > 1:
        raise UserError("--resume continues one run; it cannot be combined with --runs")
    if args.jobs != 1 and args.runs == 1:
        raise UserError(f"--jobs {args.jobs} shares out --runs N; with one run there is nothing to share")
    if args.budget_s is not None or args.target is not None:
        return train_planned(args, asked)
    if args.runs > 1:
        from cifarbench.repeat import train_repeated

        repeated = train_repeated(
            resolve_config(None, asked), args.runs, quiet=args.quiet, argv=sys.argv, jobs=args.jobs
        )
        if repeated.summary is not None:  # torchrun's other ranks leave the report to rank 0
            print((repeated.folder / "summary.md").read_text(), end="")
            print(f"runs in {repeated.folder}")
        return 0
    if args.resume:
        result = resume(args.resume, asked=asked, quiet=args.quiet, argv=sys.argv)
    else:
        result = train(resolve_config(None, asked), quiet=args.quiet, argv=sys.argv)
    if not result.run.writable:  # a distributed run's other ranks: rank 0 reports
        return 0
    print(result.summary_line())
    return 0


def train_planned(args, asked: dict) -> int:
    """--budget-s / --target: plan (planner/plan.py), then train the plan; run_log keeps the plan and
    its outcome. The budget is the whole command's: the clock started with the process."""
    from cifarbench.cli.plan import describe_choice
    from cifarbench.planner.plan import make_plan, outcome_lines, plan_table, run_plan
    from cifarbench.process_clock import command_seconds
    from cifarbench.results import print_table

    if args.resume or args.runs != 1:
        raise UserError("--budget-s and --target plan one new run; --resume and --runs do not apply")
    plan = make_plan(asked, budget_s=args.budget_s, target=args.target, frontier=args.frontier, clock=command_seconds)
    if not args.quiet:
        print_table(*plan_table(plan))
        print(describe_choice(plan))
    result = run_plan(plan, quiet=args.quiet, argv=sys.argv)
    if result.run.writable:
        print(result.summary_line())
        print("\n".join(outcome_lines(plan, result)))
    return 0


@command(
    "reproduce",
    "train the same config twice and show whether the runs match bit for bit",
    options=quiet_option,
    config=True,
    description="Train twice with the same seed and compare losses, "
    "accuracy and final weights. Exit code 1 if they differ.",
)
def cmd_reproduce(args) -> int:
    from cifarbench.reproduce import reproduce
    from cifarbench.resolve import resolve_config

    result = reproduce(resolve_config(None, config_layers(args)), quiet=args.quiet)
    print((Path(result["folder"]) / "reproduce.md").read_text(), end="")
    return 0 if result["all_match"] else 1


def print_config(args, asked: dict) -> int:
    """`train --print-config`: the config the options resolve to, as config.yaml would hold it."""
    import yaml

    from cifarbench.resolve import resolve_config

    if args.budget_s is not None or args.target is not None:
        raise UserError(
            "--print-config shows a fixed run's config; with --budget-s or --target the plan "
            "chooses it: `cifarbench plan` shows the plan, its run folder's config.yaml the config"
        )
    if args.resume:
        raise UserError("--print-config shows a new run's config; a resumed run's is its config.yaml")
    print(yaml.safe_dump(resolve_config(None, asked).to_dict(), sort_keys=False), end="")
    return 0
