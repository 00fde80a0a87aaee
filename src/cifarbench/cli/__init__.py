"""The command line: one module per command family, each command registered with its handler
(cli/commands.py: `@command(...)`); they parse and call the API (api.py, repeat.py, planner/,
search/, bench/, report/), nothing more.

    train.py       train, reproduce
    evaluation.py  eval, predict, export
    plan.py        plan, frontier (the planner and its data)
    search.py      tune, ablate
    bench.py       bench NAME (one per registered benchmark, bench/registry.py), compare-methods
    reports.py     report, plot, compare, activations
    catalog.py     info, list, data
    options.py     the config's fields as options (generated from config/), shared by every
                   command that trains or evaluates
    commands.py    COMMANDS: each command's name, handler, help, options; the parser is built from it
    parser.py      the parser: every usage error is one line and exit code 2

Every user mistake ends as one line on stderr and exit code 2; a file the machine could not write
(a full disk, a file-size limit) as one line naming it and exit code 1.
"""

from __future__ import annotations

import logging
import sys

from cifarbench import __version__, process_clock
from cifarbench.cli import bench, catalog, evaluation, plan, reports, search, train  # noqa: F401 - they register
from cifarbench.cli.commands import add_commands, asked_command
from cifarbench.cli.parser import EXIT_USAGE, Parser
from cifarbench.errors import RunStopped, UserError, WriteError

# the order `cifarbench --help` lists the families' commands in (each registers its own, cli/commands.py)
FAMILIES = ("train", "plan", "evaluation", "search", "bench", "reports", "catalog")


def build_parser(only: tuple[str, ...] | None = None) -> Parser:
    """The whole parser, or (`only`) one with just that command's arguments (`()`: no command's): what
    a command line needs."""
    parser = Parser(prog="cifarbench", description="Train and benchmark small-image classifiers on any device.")
    parser.add_argument("--version", action="version", version=f"cifarbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser), FAMILIES, only)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The program. Run as a process (`cifarbench`, `python -m cifarbench`: argv None) its clock is
    the process's, and the process ends as soon as the command has (process_clock.exit_now: the
    interpreter's teardown of torch is a second a user waits for); called from Python with its own
    argv, the command's clock starts here and the exit code is returned."""
    if argv is not None:
        process_clock.begin_command()
        return run_command(argv)
    process_clock.exit_now(run_command(None))


def run_command(argv: list[str] | None) -> int:
    """Parse `argv` (None: the process's) and run the command it names: its exit code."""
    # only the asked command's arguments (none when no command is named: `cifarbench --help` lists
    # each command's help line and needs no registry behind their options)
    parser = build_parser(asked_command(sys.argv[1:] if argv is None else argv) or ())
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except UserError as exc:
        print(f"cifarbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WriteError as exc:  # the machine's fault, not the user's: exit 1 (the run log records it)
        print(f"cifarbench: error: {exc}", file=sys.stderr)
        return 1
    except RunStopped as exc:
        print(f"cifarbench: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cifarbench: interrupted", file=sys.stderr)
        return 130
