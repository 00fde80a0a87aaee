"""Property-based tests: whatever invalid value a user types, the answer is one line naming it
and exit code 2, never a traceback, and nothing starts training."""

from __future__ import annotations

import math
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifarbench import api
from cifarbench.cli import main
from cifarbench.config import RunConfig, parse_assignment
from cifarbench.config.fields import number_text
from cifarbench.errors import ConfigError

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# printable text without the characters a shell would never pass through unquoted anyway
TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.:/ ,[]{}'\"!@#%^&*()+=~", min_size=1, max_size=12)


@pytest.fixture
def no_training(monkeypatch):
    """An invalid value that slipped through would start a run: fail loudly instead."""
    def refuse(*args, **kwargs):
        raise AssertionError("an invalid value was accepted and training started")

    monkeypatch.setattr(api, "_run", refuse)  # train() and resume() both go through it


def refused(capsys, argv: list[str], value) -> None:
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert str(value).strip() in lines[0] or repr(value) in lines[0] or number_text(value) in lines[0], (value, lines[0])


def not_parsable_as(kind):
    """A filter: True for the texts `kind` (int, float) refuses."""
    def refuses(text: str) -> bool:
        try:
            kind(text)
            return False
        except ValueError:
            return True
    return refuses


not_an_int, not_a_float = not_parsable_as(int), not_parsable_as(float)


@PROPERTY
@given(value=TEXT.filter(not_an_int))
def test_non_integer_batch_size(capsys, no_training, value):
    refused(capsys, ["train", f"--batch-size={value}"], value)


@PROPERTY
@given(value=st.integers(max_value=0))
def test_non_positive_batch_size(capsys, no_training, value):
    refused(capsys, ["train", f"--batch-size={value}", "--dataset", "synthetic"], value)


@PROPERTY
@given(value=st.one_of(st.floats(max_value=0.0), st.just(math.inf), st.just(math.nan)))
def test_epochs_must_be_positive_and_finite(capsys, no_training, value):
    refused(capsys, ["train", f"--epochs={value}", "--dataset", "synthetic"], value)


@PROPERTY
@given(value=TEXT.filter(not_a_float))
def test_non_numeric_learning_rate(capsys, no_training, value):
    refused(capsys, ["train", f"--lr={value}"], value)


@PROPERTY
@given(value=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)))
def test_learning_rate_must_be_positive_and_finite(capsys, no_training, value):
    refused(capsys, ["train", f"--lr={value}", "--dataset", "synthetic"], value)


@PROPERTY
@given(value=TEXT.filter(lambda t: t.split(":")[0] not in ("auto", "cpu", "cuda", "mps")))
def test_unknown_device(capsys, no_training, value):
    refused(capsys, ["train", f"--device={value}", "--dataset", "synthetic"], value)


@PROPERTY
@given(value=TEXT.filter(lambda t: not re.fullmatch(r"\s*\d+\s*(steps?|epochs?)?\s*", t, re.IGNORECASE)))
def test_checkpoint_interval(capsys, no_training, value):
    refused(capsys, ["train", f"--checkpoint-every={value}"], value)


@PROPERTY
@given(value=TEXT.filter(lambda t: t not in ("stop", "skip")))
def test_nonfinite_choice(capsys, no_training, value):
    refused(capsys, ["train", f"--nonfinite={value}"], value)


@PROPERTY
@given(section=st.sampled_from(["data", "model", "optim", "schedule", "train", "augment"]),
       key=st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10))
def test_unknown_config_keys_are_named(capsys, no_training, section, key):
    from dataclasses import fields

    known = {f.name for f in fields(getattr(RunConfig(), section))}
    if key in known:
        return
    refused(capsys, ["train", "--set", f"{section}.{key}=1"], f"{section}.{key}")


INT_FIELDS = ["train.batch_size", "train.seed", "train.eval_every", "output.checkpoint_every", "augment.crop_padding",
              "data.train_subset", "train.tta"]


@PROPERTY
@given(field=st.sampled_from(INT_FIELDS), value=TEXT.filter(not_an_int))
def test_set_with_a_value_of_the_wrong_type(capsys, no_training, field, value):
    if value.strip().lower() in ("none", "null", "~", "") or value.strip().startswith(("#", "!", "&", "*", "%", "@")):
        return  # YAML null / comments / tags: a different (valid or parse-level) case
    refused(capsys, ["train", "--set", f"{field}={value}"], field)


@PROPERTY
@given(text=st.text(max_size=40))
def test_parse_assignment_either_parses_or_says_why(text):
    try:
        parsed = parse_assignment(text)
    except ConfigError as exc:
        assert "--set" in str(exc) and "\n" not in str(exc)
        return
    assert isinstance(parsed, dict) and len(parsed) == 1


@PROPERTY
@given(values=st.dictionaries(st.sampled_from(["data", "model", "optim", "train", "schedule", "augment", "seed"]),
                              st.one_of(st.integers(), st.text(max_size=5), st.none(),
                                        st.dictionaries(st.text(max_size=6), st.integers(), max_size=2)),
                              max_size=3))
def test_config_from_any_mapping_builds_or_raises_a_config_error(values):
    try:
        RunConfig.from_dict(values)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@PROPERTY
@given(content=st.text(max_size=60))
def test_any_config_file_content_is_accepted_or_refused_in_one_line(capsys, no_training, tmp_path, content):
    path = tmp_path / "config.yaml"
    path.write_text(content, encoding="utf-8")
    code = main(["train", "--config", str(path), "--dataset", "synthetic", "--epochs", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
