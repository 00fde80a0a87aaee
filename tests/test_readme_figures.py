"""The README's result figures are the figures in benchmarks/results/*.json: its tables are rendered
from the JSON (benchmarks/readme_tables.py, checked here), and the figures its prose quotes from
the same files are checked one by one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def tables_script():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results(name: str) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / name).read_text())


def test_the_readme_tables_are_their_json(capsys):
    assert tables_script().main(["--check"]) == 0, capsys.readouterr().err


def test_the_check_fails_when_a_figure_in_a_table_is_changed(tmp_path, monkeypatch):
    script = tables_script()
    edited = tmp_path / "README.md"
    start = README.index("<!-- table: fashion-recipes -->")
    table = README[start:README.index("<!-- /table -->", start)]
    edited.write_text(README.replace(table, table.replace("| 67.7 |", "| 60.0 |")))
    monkeypatch.setattr(script, "README", edited)
    assert "| 60.0 |" in edited.read_text() and script.main(["--check"]) == 1


def _group(recipe: str) -> dict:
    return next(g for g in results("fashion-recipes-cpu.json")["groups"] if g["recipe"] == recipe)


def _frameworks(name: str) -> dict:
    return next(f for f in results("frameworks-cpu-small-resnet.json")["frameworks"] if f["framework"] == name)


PROSE = [  # (what the README says, the same figure rendered from its JSON)
    ("fashion93` reaches {} in {} s", lambda: (f"{_group('fashion93')['test_accuracy']['mean']:.2%}",
                                               f"{_group('fashion93')['whole_run_seconds']['mean']:.1f}")),
    ("`fashion94` {} in {} s", lambda: (f"{_group('fashion94')['test_accuracy']['mean']:.2%}",
                                        f"{_group('fashion94')['whole_run_seconds']['mean']:.1f}")),
    ("whole runs of {}–{} s against {}–{} s", lambda: tuple(
        f"{_group(r)['whole_run_seconds'][k]:.0f}" for r in ("fashion94", "airbench94") for k in ("min", "max"))),
    ("by {} points (the seeds'", lambda: (f"{(_group('fashion94')['test_accuracy']['mean'] - _group('airbench94')['test_accuracy']['mean']) * 100:.2f}",)),
    ("PyTorch 2.13.0 (CPU): {} images/s, {} s/epoch, final train loss {}, accuracy {}", lambda: (
        f"{_frameworks('torch')['images_per_second']:.1f}", f"{_frameworks('torch')['epoch_seconds']:.2f}",
        f"{_frameworks('torch')['final_train_loss']:.4f}", f"{_frameworks('torch')['test_accuracy']:.2%}")),
    ("MLX 0.32.4 (its Linux CPU backend): {} images/s, {} s/epoch (first epoch {} s", lambda: (
        f"{_frameworks('mlx')['images_per_second']:.1f}", f"{_frameworks('mlx')['epoch_seconds']:.0f}",
        f"{_frameworks('mlx')['first_epoch_seconds']:.0f}")),
]


@pytest.mark.parametrize("template, figures", PROSE, ids=[p[0][:40] for p in PROSE])
def test_each_figure_the_prose_quotes_is_its_json(template, figures):
    assert template.format(*figures()) in README
