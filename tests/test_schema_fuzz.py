"""Every config field, fuzzed from its declared domain (config.schema_fields(): its type and, where
it has them, its choices) and from just outside it (another type, a value off its choice list,
nothing, NaN and infinities, a huge number). Through `RunConfig.from_dict`, a value either builds a
config, which then round-trips through YAML (what config.yaml replays) and through the command
line's `--set` to the same config, or is refused with one ConfigError, one line, that names the
field. No other exception, ever.

The suite runs a bounded number of examples per field; `benchmarks/fuzz_schema.py` runs the same
property for longer and reports what it found."""

from __future__ import annotations

import math
import types
import typing

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifarbench.cli import build_parser
from cifarbench.cli.options import config_layers
from cifarbench.config import RunConfig, get_path, nested, schema_fields, with_implied
from cifarbench.errors import ConfigError

FIELDS = [(path, field, kind) for path, field, kind in schema_fields()]
EXAMPLES = 12  # per field in the suite: about 1,200 configs built
SCALARS = {int: st.integers(-10**6, 10**6), float: st.floats(allow_nan=False, allow_infinity=False, width=32),
           str: st.text(max_size=12), bool: st.booleans()}
OUTSIDE = st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                    st.integers(), max_size=2), st.none(), st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                    st.just(10**30), st.booleans(), st.floats(allow_nan=False, width=32))


def inside(field, kind) -> st.SearchStrategy:
    """Values of the field's declared domain: its choices, else its type (None where it is optional)."""
    choices = field.metadata.get("choices")
    if choices:
        return st.sampled_from(list(choices))
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return st.one_of(*(inside(field, a) if a is not type(None) else st.none() for a in args))
    if typing.get_origin(kind) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(SCALARS[args[0]], max_size=4).map(tuple)
        return st.tuples(*(SCALARS[a] for a in args))
    return SCALARS[kind]


def outcome(values: dict):
    """The config a dict builds, or the ConfigError's text; any other exception fails the test."""
    try:
        return RunConfig.from_dict(values)
    except ConfigError as exc:
        return str(exc)


def check(path: str, value) -> None:
    built = outcome(nested(path, value))
    if isinstance(built, str):
        assert "\n" not in built, built
        leaf = path.rsplit(".", 1)[-1]
        assert path in built or leaf in built, f"{path}={value!r} refused without naming the field: {built}"
        return
    again = RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(built.to_dict())))
    assert again == built, f"{path}={value!r} does not survive config.yaml"
    if "." in path:  # --set takes section.field=value; the value as YAML, as config.yaml writes it
        text = yaml.safe_dump(get_path(built.to_dict(), path), default_flow_style=True, width=10**6).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
        layers = config_layers(build_parser(("train",)).parse_args(["train", "--set", f"{path}={text}"]))
        # the command line adds what a field implies (hybrid.preset: the hybrid trainer), as documented
        assert RunConfig.from_dict(layers) == RunConfig.from_dict(with_implied(nested(path, value))), \
            f"--set {path}={text} builds another config"


@pytest.mark.parametrize("path, field, kind", FIELDS, ids=[p for p, _, _ in FIELDS])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_field_builds_the_same_config_every_way_or_is_one_line_naming_it(path, field, kind, data):
    value = data.draw(st.one_of(inside(field, kind), OUTSIDE), label=path)
    check(path, value)
