"""The command line starts and ends at once: what only lists or refuses (`--help`, `list recipes`,
a benchmark's help, a misspelt command) answers without importing torch or matplotlib, each checked
in a fresh interpreter (this one has imported both long ago); a command run as a process ends when
it is done (process_clock.exit_now), its exit code, output and atexit handlers kept."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib")

PROBE = """
import json, sys, contextlib, io
from cifarbench.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(ARGV)
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules], "out": out.getvalue()}))
"""


def fresh(argv: list[str]) -> dict:
    """`cifarbench ARGV` run by main() in a new interpreter: its exit code, output, and which heavy
    modules it loaded."""
    code = PROBE.replace("ARGV", repr(argv)).replace("HEAVY", repr(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_command_line_loads_no_torch():
    done = subprocess.run([sys.executable, "-c", "import sys, cifarbench.cli; print([m for m in "
                           f"{HEAVY!r} if m in sys.modules])"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("argv, code, shows", [
    (["--help"], 0, "compare-methods"),
    (["list", "recipes"], 0, "airbench94"),
    (["bench", "--help"], 0, "throughput"),
    (["info", "--help"], 0, "--json"),
    (["trian"], 2, ""),
])
def test_what_only_lists_or_refuses_loads_no_torch(argv, code, shows):
    result = fresh(argv)
    assert result["code"] == code and shows in result["out"]
    assert result["heavy"] == [], f"cifarbench {' '.join(argv)} imported {result['heavy']}"


AS_A_PROCESS = """
import atexit, pathlib, sys
atexit.register(lambda: pathlib.Path(MARK).write_text("ran"))
sys.argv = ["cifarbench", *ARGV]
from cifarbench.cli import main
main()
raise AssertionError("main() returned: the process should have ended")
"""


@pytest.mark.parametrize("argv, code", [
    (["train", "--dataset", "synthetic", "--model", "lenet-small", "--epochs", "1", "--set",
      "data.synthetic_train_size=32", "--set", "data.synthetic_test_size=16", "--batch-size", "16", "--no-plots",
      "--quiet", "--device", "cpu"], 0),
    (["train", "--dataset", "synthetic", "--epochs", "-1"], 2),
])
def test_a_command_run_as_a_process_ends_with_its_code_output_and_atexit_handlers(tmp_path, argv, code):
    mark = tmp_path / "atexit-ran"
    program = AS_A_PROCESS.replace("MARK", repr(str(mark))).replace("ARGV", repr([*argv, "--runs-dir", "runs"]))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == code, done.stderr[-2000:]
    assert mark.read_text() == "ran"
    if code == 0:
        assert done.stdout.startswith("test accuracy ") and done.stderr == ""
    else:
        assert done.stderr.startswith("cifarbench: error: ") and len(done.stderr.splitlines()) == 1
