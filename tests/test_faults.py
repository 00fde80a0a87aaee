"""Faults of the machine, not of the input: a file that cannot be written (a file-size limit, the
same path a full disk takes) ends a run in one line naming the file, exit code 1, the run log
recording it, no half-written file, and the last whole checkpoint still resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cifarbench import cli, files

RUN = ["train", "--dataset", "synthetic", "--model", "lenet-small", "--set", "data.synthetic_train_size=64", "--set",
       "data.synthetic_test_size=32", "--batch-size", "16", "--no-plots", "--quiet", "--device", "cpu"]

# a file-size limit that the run folder's small files fit under and lenet-small's checkpoint does not
LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
from cifarbench.cli import main
sys.exit(main(ARGV))
"""


def test_a_checkpoint_past_a_file_size_limit_is_one_line_and_exit_1(tmp_path):
    argv = [*RUN, "--epochs", "1", "--runs-dir", str(tmp_path / "runs")]
    done = subprocess.run([sys.executable, "-c", LIMITED.replace("ARGV", repr(argv))], capture_output=True,
                          text=True, cwd=tmp_path)
    (run,) = (tmp_path / "runs").iterdir()
    checkpoint = run / "checkpoints" / "last.pt"
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [f"cifarbench: error: could not write {checkpoint}: File too large"]
    log = json.loads((run / "run_log.json").read_text())
    assert log["status"] == "failed" and log["failure"].startswith(f"WriteError: could not write {checkpoint}")
    assert list((run / "checkpoints").iterdir()) == []  # no half-written file, no temporary one


def test_a_write_that_fails_mid_run_keeps_the_last_checkpoint_and_resume_finishes(tmp_path, monkeypatch, capsys):
    """The disk fills at the second epoch's checkpoint (os.replace refused, as ENOSPC would be): the
    first epoch's checkpoint stays whole, and --resume from it completes the run."""
    real_replace, saved = os.replace, []

    def replace(src, dst):
        if str(dst).endswith("last.pt"):
            saved.append(dst)
            if len(saved) == 2:
                raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    assert cli.main([*RUN, "--epochs", "3", "--runs-dir", str(tmp_path / "runs")]) == 1
    (run,) = (tmp_path / "runs").iterdir()
    assert capsys.readouterr().err.strip() == (f"cifarbench: error: could not write {run / 'checkpoints' / 'last.pt'}: "
                                               "No space left on device")
    assert json.loads((run / "run_log.json").read_text())["status"] == "failed"
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert cli.main(["train", "--resume", str(run), "--quiet"]) == 0
    log = json.loads((run / "run_log.json").read_text())
    assert log["status"] == "completed"
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]  # the resumed run went on from epoch 1's checkpoint
    assert not [p for p in Path(run).rglob(".*.tmp")]
