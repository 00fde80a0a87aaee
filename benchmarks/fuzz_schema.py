"""The schema fuzzed for longer than the suite does: tests/test_schema_fuzz.py's property (every config
field, values from its declared domain and from just outside it, each either the same config
through from_dict, config.yaml and `--set`, or one ConfigError line naming the field) with many
more examples per field. Prints, per field, how many values built a config and how many were
refused, and every counterexample Hypothesis found.

    python benchmarks/fuzz_schema.py [--examples 300]

Results: benchmarks/results/fuzz-schema.json (the machine's fingerprint inside; what it found does
not depend on the CPU).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_schema_fuzz as fuzz  # noqa: E402  (the suite's property, run longer)
from cifarbench.config import nested  # noqa: E402
from cifarbench.results import print_table, write_result  # noqa: E402


def fuzz_field(path: str, field, kind, examples: int) -> dict:
    counts = {"built": 0, "refused": 0}
    found: list[str] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=st.one_of(fuzz.inside(field, kind), fuzz.OUTSIDE))
    def prop(value):
        built = fuzz.outcome(nested(path, value))
        counts["refused" if isinstance(built, str) else "built"] += 1
        fuzz.check(path, value)

    try:
        prop()
    except Exception as exc:  # noqa: BLE001 - a counterexample is a finding, reported, not a crash
        found.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    return {**counts, "counterexamples": found}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fuzz-schema.json")
    args = p.parse_args()
    started = time.perf_counter()
    fields = {path: fuzz_field(path, field, kind, args.examples) for path, field, kind in fuzz.FIELDS}
    seconds = time.perf_counter() - started
    failing = {path: f for path, f in fields.items() if f["counterexamples"]}
    print_table(f"{len(fields)} fields, up to {args.examples} examples each, {seconds:.0f} s",
                ["field", "built", "refused", "counterexample"],
                [[path, f["built"], f["refused"], "; ".join(f["counterexamples"]) or "-"]
                 for path, f in fields.items() if f["counterexamples"] or path in list(fields)[:5]])
    print(f"{len(failing)} of {len(fields)} fields with a counterexample; "
          f"{sum(f['built'] + f['refused'] for f in fields.values()):,} values tried")
    write_result(args.out, "fuzz_schema", {"examples_per_field": args.examples, "seconds": seconds,
                                           "fields": fields, "fields_with_counterexamples": sorted(failing)})
    print(f"JSON in {args.out}")


if __name__ == "__main__":
    main()
