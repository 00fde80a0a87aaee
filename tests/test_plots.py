
import pytest

from cifarbench.cli import main
from cifarbench.plots import charts as plots
from cifarbench.runs import RunDir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_run(tmp_path, classes):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_json(RunDir.RUN_LOG, {"model": "m", "dataset": "d", "validation_split": "test (used as validation)"})
    run.write_json(RunDir.HISTORY, [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5 + e / 10, "lr": 0.1,
                                     "val_loss": 1.1 / e, "val_accuracy": 0.45 + e / 10} for e in (1, 2, 3)])
    k = len(classes)
    cm = [[10 if i == j else (i + j) % 3 for j in range(k)] for i in range(k)]
    run.write_json(RunDir.METRICS, {
        "classes": classes, "confusion_matrix": cm,
        "confusion_matrix_normalized": [[v / sum(row) for v in row] for row in cm],
        "per_class": {c: {"accuracy": (i + 1) / (k + 1)} for i, c in enumerate(classes)}})
    return run


@pytest.mark.parametrize("k", [10, 100])
def test_cli_plot_draws_every_picture(capsys, tmp_path, k):
    run = fake_run(tmp_path, [f"class{i}" for i in range(k)])
    assert main(["plot", str(run.path)]) == 0
    listed = capsys.readouterr().out.split()
    for name in ("curves", "per_class_accuracy", "confusion", "confusion_normalized"):
        png = run.path / f"{name}.png"
        assert str(png) in listed and png.read_bytes()[:8] == PNG_MAGIC
        assert (run.path / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_per_class_chart_shows_worst_and_best_past_twenty_classes():
    per_class = {f"c{i}": i / 100 for i in range(100)}
    shown = plots.shown_classes(per_class)
    assert [name for name, _ in shown] == [f"c{i}" for i in (*range(10), *range(90, 100))]
    ten = {f"c{i}": i / 10 for i in range(10)}
    assert len(plots.shown_classes(ten)) == 10


def test_plot_refuses_a_folder_that_is_not_a_run(capsys, tmp_path):
    assert main(["plot", str(tmp_path)]) == 2
    assert "is not a cifarbench run directory" in capsys.readouterr().err
