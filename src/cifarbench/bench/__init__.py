"""Measurement: the same training measured side by side on devices, world sizes, frameworks and
models. Each benchmark registers itself in BENCHMARKS (bench/registry.py) where it is written;
`cifarbench bench` and its help are generated from it. Nothing that makes a run imports this package.
"""

from cifarbench.bench import devices, frameworks, scaling, throughput  # noqa: F401 - each registers itself
from cifarbench.bench.registry import BENCHMARKS, Benchmark

__all__ = ["BENCHMARKS", "Benchmark"]
