"""Under CI=true a test that skips for want of a package, an extra, a browser or a dataset fails;
only missing hardware may skip (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SKIPS = '''
import pytest
from conftest import needs_extra, needs_hardware

def test_wants_a_missing_extra():
    needs_extra("nothing", "a_package_nobody_installed")

@needs_hardware(True, "needs a CUDA device")
def test_wants_a_gpu():
    pass

def test_runs():
    pass
'''


@pytest.mark.parametrize("ci, outcomes", [("true", {"passed": 1, "failed": 1, "skipped": 1}),
                                          ("", {"passed": 1, "skipped": 2})])
def test_only_hardware_may_skip_in_ci(pytester, monkeypatch, ci, outcomes):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_skips=SKIPS)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfs")
    result.assert_outcomes(**outcomes)
    if ci:
        result.stdout.fnmatch_lines(["*CI=true: this test skipped*extra is not installed*missing install step*"])
