"""The benchmarks by name: `cifarbench bench NAME` and its --help are generated from BENCHMARKS.

A benchmark is registered in bench/__init__.py, pointing at the module that measures, which is
imported when the benchmark runs (a command line that only lists it loads no torch):

    BENCHMARKS.add("devices", Benchmark(help=..., description=..., options=...,
                                        run=lazy("cifarbench.bench.devices:run")))

`run(args, layers)` measures (layers: the config options given, under the benchmark's own defaults)
and returns its result with the folder it wrote (results.publish); `report(result)` prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cifarbench.registry import Registry, lazy


@dataclass(frozen=True)
class Benchmark:
    help: str  # one line, in `cifarbench bench --help`
    description: str  # its own --help: what it measures and its defaults
    run: Callable[..., dict]  # (args, config layers) -> result, with its "folder"
    options: Callable | None = None  # parser -> None: its own arguments (the config options come with every one)
    report: Callable[[dict], None] = lazy("cifarbench.results:print_folder_report")
    needs: Callable[[], object] | None = None  # a check run before it measures (mlx.require_mlx: a one-line error)


BENCHMARKS: Registry[Benchmark] = Registry("benchmark", error=ValueError, describe=lambda entry: entry.help)
