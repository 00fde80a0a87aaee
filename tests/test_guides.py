"""Every command the guides show (docs/guides/*.md, the ```bash blocks) still works: each is parsed
by the real parser and its config resolved against the registries (a renamed flag, recipe, model
or dataset fails here), and each that finishes in seconds on small data is run as written, with
only small-data options appended, and a budget any CPU fits (a command that no longer runs fails
here). The ones left to
parsing need what a test cannot have: hours (`--runs 400`), several machines or GPUs, CIFAR's
files, or a minute of a budget (the planner's own end-to-end test runs a budget)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifarbench import cli
from cifarbench.cli.commands import COMMANDS, asked_command
from cifarbench.cli.options import config_layers
from cifarbench.train.recipes import resolve_config
from conftest import FASHION_DIR

ROOT = Path(__file__).resolve().parents[1]
RUN = "RUN_DIR"  # stands for `runs/<run>`, `runs/<that run>`: a finished run the fixture makes


def guide_commands() -> list[tuple[str, list[str]]]:
    """(page:line, argv after `cifarbench` or `-m cifarbench`) for every command in a bash block."""
    found = []
    for page in sorted((ROOT / "docs" / "guides").glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        inside, pending, start = False, "", 0
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                inside = line.strip() in ("```bash", "```sh")
                continue
            if not inside:
                continue
            if not pending:
                start = number
            pending += line.rstrip("\\").rstrip() + " "
            if line.endswith("\\"):
                continue
            text, pending = re.sub(r"runs/<[^>]+>", RUN, pending), ""
            words = shlex.split(text, comments=True)
            if "cifarbench" not in words or (words[0] != "cifarbench" and "-m" not in words):
                continue  # pip install, shell lines
            argv = words[words.index("cifarbench") + 1:]
            found.append((f"{page.name}:{start}", argv))
    return found


COMMANDS_SHOWN = guide_commands()


def test_the_guides_show_commands():
    pages = {where.split(":")[0] for where, _ in COMMANDS_SHOWN}
    assert len(COMMANDS_SHOWN) >= 15 and {"budget.md", "data.md", "integrations.md", "tuning.md"} <= pages


def runnable(argv: list[str]) -> bool:
    """Finished in seconds here, on the fixture's small data: exports and evaluations of a run, plans,
    and training on your own images."""
    if argv[0] in ("export", "eval", "plan"):
        return argv[0] != "plan" or (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file()
    dataset = argv[argv.index("--dataset") + 1] if "--dataset" in argv else ""
    return argv[0] == "train" and dataset.split(":")[0] in ("folder", "csv", "npz")


# appended to a training command run here: the guide's own values stay, only the size shrinks
SMALL = ["--epochs", "1", "--batch-size", "8", "--set", "train.eval_batch_size=16", "--no-plots", "--quiet",
         "--device", "cpu"]


@pytest.fixture
def workplace(tmp_path, monkeypatch):
    """A folder laid out as the guides' examples assume, as the current folder, with HOME in it:
    ~/data/sprites (class folders), cells/labels.csv, sensors.npz, and a finished run (RUN_DIR)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "data" / "sprites" / cls).mkdir(parents=True)
        (tmp_path / "cells" / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / "sprites" / cls / f"{i}.png")
            Image.fromarray(pixels).save(tmp_path / "cells" / cls / f"{i}.png")
    rows = [f"{cls}/{i}.png,{cls}" for cls in ("a", "b") for i in range(6)]
    (tmp_path / "cells" / "labels.csv").write_text("file,kind\n" + "\n".join(rows) + "\n")
    images = rng.integers(0, 256, (12, 16, 16), dtype=np.uint8)
    labels = np.arange(12) % 2
    np.savez(tmp_path / "sensors.npz", train_images=images, train_labels=labels, test_images=images[:4],
             test_labels=labels[:4])
    assert cli.main(["train", "--dataset", "synthetic", "--model", "lenet-small", "--set",
                     "data.synthetic_train_size=64", "--set", "data.synthetic_test_size=32", *SMALL,
                     "--runs-dir", str(tmp_path / "runs"), "--name", "guide"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert cli.main(["export", str(run), "--format", "safetensors"]) == 0  # what the guide's eval reads
    return run


@pytest.mark.parametrize("where, argv", COMMANDS_SHOWN, ids=[w for w, _ in COMMANDS_SHOWN])
def test_every_guide_command_parses_and_resolves(where, argv, workplace, capsys):
    argv = [a.replace(RUN, str(workplace)) for a in argv]
    words = asked_command(argv)
    assert words, f"{where}: `cifarbench {shlex.join(argv)}` names no command"
    args = cli.build_parser(words).parse_args(argv)  # a usage error exits here, naming the option
    if COMMANDS.get(" ".join(words)).config and words[0] not in ("eval", "export"):
        layers = config_layers(args)
        if words[0] in ("tune", "ablate", "frontier"):  # their recipe and dataset are the base of every run
            layers.pop("runs_dir", None)
        resolve_config(None, layers)  # names checked against the registries, values against the schema


@pytest.mark.parametrize("where, argv", [c for c in COMMANDS_SHOWN if runnable(c[1])],
                         ids=[w for w, a in COMMANDS_SHOWN if runnable(a)])
def test_every_guide_command_that_runs_in_seconds_runs(where, argv, workplace, capsys):
    argv = [a.replace(RUN, str(workplace)) for a in argv]
    extra = SMALL + ["--runs-dir", str(workplace.parent)] if argv[0] == "train" else []
    if "--budget-s" in argv:  # what fits in 60 s depends on the CPU (a slow one refuses it, rightly, in one
        extra += ["--budget-s", "900"]  # line): a budget any machine fits, so the test is the command's, not the CPU's
    code = cli.main(argv + extra)
    out, err = capsys.readouterr()
    assert code == 0, f"{where}: cifarbench {shlex.join(argv)}\n{err[-2000:]}"
