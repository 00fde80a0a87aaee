"""compare, activations and report: the numbers they print are the runs' own, the pages are whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from cifarbench.api import train
from cifarbench.cli import main
from cifarbench.errors import ConfigError
from cifarbench.eval.inference import load_model
from cifarbench.plots.charts import pareto_front
from cifarbench.report.collect import read_run
from cifarbench.report.compare import compare
from cifarbench.report.results import build_report, epoch_columns, load_targets
from cifarbench.resolve import resolve_config
from conftest import HANG_GUARD_SECONDS

ARTIFACTS = Path(os.environ.get("CIFARBENCH_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / ".test-artifacts"))
SECTIONS = ("models", "runs", "targets", "per-class", "progression", "frontier")


def tiny_run(runs_dir: Path, model: str, seed: int = 0, classes: int = 10, epochs: int = 2):
    overrides = {"data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_classes": classes,
                          "synthetic_train_size": 400, "synthetic_test_size": 200},
                 "train": {"epochs": epochs, "batch_size": 50, "device": "cpu", "precision": "fp32", "plots": False,
                           "seed": seed},
                 "runs_dir": str(runs_dir)}
    return train(resolve_config(None, {**overrides, "model": {"name": model}}), quiet=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report") / "runs"
    a = tiny_run(root, "lenet-small", seed=0)
    b = tiny_run(root, "lenet-small", seed=5)
    c = tiny_run(root, "cnn-3conv", epochs=3)
    return root, a, b, c


# ---------------------------------------------------------------- compare


def test_compare_shows_config_differences_and_per_class_deltas(runs):
    _, a, b, _ = runs
    text = compare([str(a.run.path), str(b.run.path)])
    assert "| train.seed | 0 | 5 |" in text
    assert "Same machine and software" in text
    assert a.metrics["per_class"] != b.metrics["per_class"]  # so the deltas below are not all zero
    per_class_a = {k: v["accuracy"] for k, v in a.metrics["per_class"].items()}
    per_class_b = {k: v["accuracy"] for k, v in b.metrics["per_class"].items()}
    for name in per_class_a:
        delta = 100 * (per_class_b[name] - per_class_a[name])
        assert f"| {name} | {per_class_a[name]:.2%} | {per_class_b[name]:.2%} | {delta:+.2f} pp |" in text


def test_compare_names_the_fingerprint_fields_that_differ(runs, tmp_path):
    _, a, b, _ = runs
    copy = tmp_path / "other-machine"
    shutil.copytree(b.run.path, copy)
    log = json.loads((copy / "run_log.json").read_text())
    log.update(torch="9.9.9", cpu_model="Another CPU", cpu_isa=["avx2", "fma", "avx512f", "avx512_bf16"],
               cpu_native_bf16=not log["cpu_native_bf16"])
    (copy / "run_log.json").write_text(json.dumps(log))
    text = compare([str(a.run.path), str(copy)])
    section = text.split("## Fingerprint differences")[1]
    assert "| torch |" in section and "9.9.9" in section and "| cpu_model |" in section
    assert "| cpu_isa |" in section and "avx512_bf16" in section and "| cpu_native_bf16 |" in section
    assert "| python |" not in section


def test_compare_needs_two_runs(capsys, runs):
    assert main(["compare", str(runs[1].run.path)]) == 2
    assert "at least two run directories" in capsys.readouterr().err


# ---------------------------------------------------------------- activations


def test_activations_grids_and_sparsity_match_a_manual_forward(runs, tmp_path, capsys):
    run = runs[1].run.path
    assert main(["activations", str(run), "--layers", "features.1,features.4", "--index", "7", "-o",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "features_1.png").stat().st_size > 1000 and (tmp_path / "features_4.png").is_file()
    # features.1 is the first ReLU: its sparsity is its share of exact zeros, computed here independently
    loaded = load_model(run, "cpu")
    from cifarbench.data.prepare import prepare_data

    image = prepare_data(loaded.config, quiet=True).test.images[7].float() / 255.0
    mean, std = torch.tensor(loaded.mean).view(-1, 1, 1), torch.tensor(loaded.std).view(-1, 1, 1)
    with torch.no_grad():
        relu_out = loaded.model.features[:2](((image - mean) / std).unsqueeze(0))
    expected = float((relu_out == 0).float().mean())
    row = next(line for line in out.splitlines() if "features.1" in line)
    assert f"{expected:.1%}" in row and "6" in row and "12x12" in row


def test_activations_of_an_unknown_layer_lists_the_real_ones(runs, capsys):
    assert main(["activations", str(runs[1].run.path), "--layers", "conv9"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'conv9' is not in the model" in err and "features" in err


# ---------------------------------------------------------------- report


def test_report_tables_and_targets(runs, tmp_path):
    root, a, b, c = runs
    targets = tmp_path / "targets.yaml"
    best = max(r.metrics["accuracy"] for r in (a, b, c))
    targets.write_text(f"targets:\n  - {{name: reachable, dataset: synthetic, accuracy: {best:.4f}}}\n"
                       "  - {name: too fast, dataset: synthetic, accuracy: 0.1, seconds: 0.000001}\n"
                       "  - {name: other model, dataset: synthetic, model: resnet50, accuracy: 0.1}\n")
    summary = build_report(root, tmp_path / "out", targets)
    assert summary["runs"] == 3 and summary["statuses"] == {"completed": 3}
    md = (tmp_path / "out" / "RESULTS.md").read_text()
    for title in ("## Models", "## Runs", "## Accuracy targets", "## Per-class test accuracy",
                  "## Progression by epochs", "## Accuracy against training time"):
        assert title in md
    assert "1 of 3 targets met." in md
    assert "| reachable |" in md and md.split("| reachable |")[1].split("\n")[0].rstrip().endswith("| met |")
    assert md.split("| too fast |")[1].split("\n")[0].rstrip().endswith("| not met |")
    assert "| other model | synthetic | resnet50 |" in md and "| no run |" in md
    for r in (a, b, c):
        assert f"| {r.run.path.name} | completed |" in md
        assert f"{r.metrics['accuracy']:.2%}" in md
    for image in md.split("](")[1:]:
        assert (tmp_path / "out" / image.split(")")[0]).is_file()
    assert "| epoch 1 | epoch 2 | epoch 3 |" in md


def test_a_hundred_classes_show_the_ten_worst_and_best(tmp_path):
    run = tiny_run(tmp_path / "runs", "lenet-small", classes=100, epochs=1)
    build_report(tmp_path / "runs", tmp_path / "out")
    md = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "the 10 worst and 10 best of 100 classes" in md
    table = md.split("| synthetic class |")[1].split("\n\n")[0]
    assert len([line for line in table.splitlines() if line.startswith("| class")]) == 20
    per_class = sorted(v["accuracy"] for v in run.metrics["per_class"].values())
    assert f"| {per_class[0]:.2%} |" in table


def test_bad_targets_files_are_one_line_errors(tmp_path):
    cases = {"targets: 3": "must hold `targets:`",
             "targets: [{dataset: x}]": "needs at least `dataset` and `accuracy`",
             "targets: [{dataset: x, accuracy: 94}]": "accuracy 94 must be a fraction",
             "targets: [{dataset: x, accuracy: 0.9, seconds: -1}]": "seconds -1 must be a positive number",
             "targets: [{dataset: x, accuracy: 0.9, when: now}]": "unknown key 'when'"}
    for text, message in cases.items():
        path = tmp_path / "t.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_targets(path)


def test_pareto_front_and_epoch_columns():
    assert pareto_front([(10, 0.9), (5, 0.8), (20, 0.85), (30, 0.95), (5, 0.7)]) == [(5, 0.8), (10, 0.9), (30, 0.95)]
    assert epoch_columns(3) == [1, 2, 3]
    cols = epoch_columns(40)
    assert cols[0] == 1 and cols[-1] == 40 and len(cols) == 10


CHECK_IMAGES = """<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-broken', JSON.stringify(broken));
  document.body.setAttribute('data-sections', [...document.querySelectorAll('section')].map(s => s.id).join(','));
});
</script>"""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
@pytest.mark.slow
def test_html_report_renders_in_headless_chromium_with_every_section_and_image(runs, tmp_path):
    root = runs[0]
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - {dataset: synthetic, accuracy: 0.5}\n")
    build_report(root, tmp_path / "out", targets)
    page = (tmp_path / "out" / "index.html").read_text()
    assert page.count("<img ") >= 2 + 3 * 3  # best accuracy, frontier, three charts per run
    probe = tmp_path / "out" / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_IMAGES + "</body>"))
    base = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    body = dom.split("<body", 1)[1].split(">", 1)[0]
    assert 'data-broken="[]"' in body, body
    images = int(body.split('data-images="')[1].split('"')[0])
    assert images == page.count("<img ")
    sections = body.split('data-sections="')[1].split('"')[0].split(",")
    assert set(SECTIONS) <= set(sections)
    assert sum(s.startswith("run-") for s in sections) == 3
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([*base, "--window-size=1200,2400", f"--screenshot={shot}", (tmp_path / "out" / "index.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000  # a page with charts, not a blank one


# ---------------------------------------------------------------- reading runs that are being written


@pytest.mark.slow
def test_report_while_a_run_is_being_written_reads_whole_files(tmp_path):
    from held_run import HELD, RELEASE
    from test_reliability import long_config, start_training

    # held before its last step until the test has read it several times while it was written
    proc, runs_dir = start_training(tmp_path, long_config(tmp_path), hold_at=95)
    seen_statuses, builds = set(), 0
    deadline = time.monotonic() + HANG_GUARD_SECONDS  # a hang guard: the loop ends when training does
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if list(runs_dir.glob("*/run_log.json")):
                summary = build_report(runs_dir, tmp_path / "out")  # must never raise on a half-written run
                (run,) = [read_run(p.parent) for p in runs_dir.glob("*/run_log.json")]
                assert run.problems == [], run.problems
                seen_statuses |= set(summary["statuses"])
                builds += 1
                if builds >= 3 and (tmp_path / HELD).exists():
                    (tmp_path / RELEASE).touch()
            time.sleep(0.05)
    finally:
        proc.kill() if proc.poll() is None else None
        proc.communicate(timeout=HANG_GUARD_SECONDS)
    assert proc.returncode == 0
    assert "running" in seen_statuses and builds >= 3
    final = build_report(runs_dir, tmp_path / "out")
    assert final["statuses"] == {"completed": 1}


@pytest.mark.parametrize("where", ["missing", "empty", "no-runs"])
def test_report_on_a_folder_without_runs_is_one_line_and_writes_nothing(tmp_path, capsys, where):
    from cifarbench.cli import main

    runs_dir = tmp_path / where
    if where != "missing":
        runs_dir.mkdir()
    if where == "no-runs":
        (runs_dir / "notes.txt").write_text("a folder of other things")
    out = tmp_path / "out"
    assert main(["report", str(runs_dir), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(runs_dir) in err
    assert not out.exists()
