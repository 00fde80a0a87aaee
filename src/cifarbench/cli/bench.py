"""`cifarbench bench NAME` (one command for each registered benchmark, bench/registry.py) and
`cifarbench compare-methods`: the same training measured side by side on devices, world sizes,
frameworks, models or recipes; every one takes the config options."""

from __future__ import annotations

from pathlib import Path

from cifarbench.bench import BENCHMARKS, Benchmark
from cifarbench.cli.commands import GROUPS, command
from cifarbench.cli.options import config_layers
from cifarbench.config import comma_list

GROUPS.add("bench", ("benchmarks: " + ", ".join(BENCHMARKS.names()), "BENCHMARK"))


def bench_command(name: str, benchmark: Benchmark):
    def run(args) -> int:
        if benchmark.needs is not None:
            benchmark.needs()
        benchmark.report(benchmark.run(args, config_layers(args)))
        return 0

    return command(
        f"bench {name}", benchmark.help, description=benchmark.description, options=benchmark.options, config=True
    )(run)


for _name, _benchmark in BENCHMARKS.items():
    bench_command(_name, _benchmark)


def compare_methods_options(p) -> None:
    from cifarbench.bench.methods import METHODS

    p.add_argument(
        "--methods",
        type=comma_list,
        default=list(METHODS),
        metavar="R1,R2,...",
        help=f"recipes to compare, the first is the baseline (default: {','.join(METHODS)})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="2,000 training / 1,000 test images and a quarter of each recipe's epochs: a pipeline check",
    )
    p.add_argument("--quiet", action="store_true", help="results only")


@command(
    "compare-methods",
    "baseline resnet18 against airbench94/95/96: accuracy, time, speedup",
    options=compare_methods_options,
    config=True,
    description="Train the baseline and each airbench recipe on the same data and device; write comparison.md "
    "and comparison.json. The config options apply to every method (default dataset: cifar10).",
)
def cmd_compare_methods(args) -> int:
    from cifarbench.bench.methods import compare_methods

    summary = compare_methods(tuple(args.methods), config_layers(args), quick=args.quick, quiet=args.quiet)
    print((Path(summary["folder"]) / "comparison.md").read_text(), end="")
    print(f"runs in {summary['folder']}")
    return 0
