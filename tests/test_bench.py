"""Benchmarks run end to end on tiny inputs: their files and arithmetic, never their speed."""

import json

import pytest
import torch

from cifarbench.bench import throughput
from cifarbench.bench.throughput import ThroughputSpec, measure
from cifarbench.cli import main
from cifarbench.results import summarise, t_quantile_975


def test_summary_statistics():
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert (s["min"], s["median"], s["max"], s["mean"]) == (1.0, 2.5, 4.0, 2.5)
    assert s["std"] == pytest.approx(1.2909944)
    assert s["ci95"] == pytest.approx([2.5 - 3.182 * 1.2909944 / 2, 2.5 + 3.182 * 1.2909944 / 2])
    assert summarise([5.0])["ci95"] == [5.0, 5.0]
    assert t_quantile_975(60) == pytest.approx(2.000, abs=2e-3)  # the table's value at 60 degrees of freedom


def test_throughput_of_one_model():
    r = measure(ThroughputSpec(model="lenet-small", batch_size=32, steps=2, warmup_steps=1, device="cpu",
                               precision="fp32"))
    assert r["parameters"] == 62_006
    # the PyTorch tutorial net: conv1 6x28x28x75 + conv2 16x10x10x150 + fc 400x120 + 120x84 + 84x10 MACs
    macs = 6 * 28 * 28 * 75 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert r["infer_flops_per_image"] == pytest.approx(2 * macs, rel=1e-6)
    assert r["train_flops_per_image"] > 2 * r["infer_flops_per_image"]  # backward costs about twice forward
    assert r["train_images_per_second"] > 0 and r["matmul_peak_flops_per_second"] > 0


def test_a_matmul_too_slow_to_time_at_full_size_is_timed_smaller():
    """bf16 on a CPU without native bf16 takes minutes a product at 2048: a size whose product is
    projected past the limit is not timed; within it, the largest is."""
    cpu = torch.device("cpu")
    assert throughput.matmul_size(cpu, torch.float32, largest=1024, limit_s=0.0) == 256
    assert throughput.matmul_size(cpu, torch.float32, largest=1024, limit_s=float("inf")) == 1024


def test_the_peak_is_the_best_of_its_timed_repeats(monkeypatch):
    ticks = iter([0.0, 1.0, 10.0, 10.5, 20.0, 22.0])  # three matmuls timed at 1 s, 0.5 s and 2 s
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: next(ticks))
    peak = throughput.matmul_peak_flops(torch.device("cpu"), n=16, repeats=3)
    assert peak == 2 * 16**3 / 0.5


def test_a_low_precision_run_is_measured_against_the_faster_of_its_matmul_and_fp32s(monkeypatch):
    # a CPU without native bf16: its bf16 matmul is 50x slower than its fp32 one
    rates = {torch.float32: 5e10, torch.bfloat16: 1e9}
    monkeypatch.setattr(throughput, "matmul_peak_flops", lambda device, dtype=torch.float32, **_: rates[dtype])
    r = measure(ThroughputSpec(model="lenet-small", batch_size=16, steps=1, warmup_steps=1, device="cpu",
                               precision="bf16"))
    assert r["matmul_peak_flops_per_second"] == 5e10 and r["matmul_peak_dtype"] == "float32"
    assert r["train_fraction_of_peak"] == pytest.approx(r["train_flops_per_second"] / 5e10)
    rates[torch.bfloat16] = 2e11  # one with AMX: the bf16 matmul is the ceiling
    r = measure(ThroughputSpec(model="lenet-small", batch_size=16, steps=1, warmup_steps=1, device="cpu",
                               precision="bf16"))
    assert r["matmul_peak_flops_per_second"] == 2e11 and r["matmul_peak_dtype"] == "bfloat16"


def test_bench_devices_on_cpu_writes_report_json_and_chart(tmp_path):
    from cifarbench.bench.devices import bench_devices

    result = bench_devices(["cpu"], {"recipe": "lenet-small-onecycle", "runs_dir": str(tmp_path),
                                     "data": {"synthetic_train_size": 256, "synthetic_test_size": 64},
                                     "train": {"plots": False}}, repeats=2)
    folder = tmp_path / result["folder"]
    data = json.loads((folder / "bench.json").read_text())
    (cpu,) = data["devices"]
    assert cpu["speedup_vs_cpu"] == 1.0 and cpu["train_seconds"]["n"] == 2
    assert cpu["train_seconds"]["min"] <= cpu["train_seconds"]["median"] <= cpu["train_seconds"]["max"]
    assert "cpu" in (folder / "report.txt").read_text()
    assert (folder / "speedup.png").stat().st_size > 1000 and (folder / "speedup.svg").is_file()


def test_bench_throughput_cli(capsys, tmp_path):
    code = main(["bench", "throughput", "--models", "lenet-small", "--steps", "2", "--batch-size", "16",
                 "--device", "cpu", "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "lenet-small" in out and "62,006" in out
    (folder,) = tmp_path.iterdir()
    assert json.loads((folder / "throughput.json").read_text())["models"][0]["model"] == "lenet-small"
    assert (folder / "throughput.png").is_file()


def test_bench_throughput_rejects_unknown_models(capsys):
    code = main(["bench", "throughput", "--models", "lenet-small,vgg11"])
    assert code == 2 and "unknown model 'vgg11'" in capsys.readouterr().err


def test_time_to_accuracy_checks_a_tta_run_last_as_its_final_evaluation_scores_it(tmp_path):
    """The planner plans accuracy with the run's TTA, so the last check must be scored the same
    way, with the evaluation's seconds counted: with no validation split the trainer validates on
    the test split, so that check must equal the run's final test accuracy exactly."""
    from cifarbench.api import train
    from cifarbench.training.time_to_accuracy import PeriodicEval, first_reached
    from conftest import synthetic_config

    probe = PeriodicEval(every=4)
    result = train(synthetic_config(tmp_path, epochs=2, tta=2, tta_share=0.5), quiet=True, callbacks=[probe])
    plain, last = probe.points[-2], probe.points[-1]
    assert [p.get("tta", 0) for p in probe.points] == [0] * (len(probe.points) - 1) + [2]
    assert last["step"] == plain["step"] == result.run_log["steps"]
    assert last["tta_share"] == 0.5 and last["tta_seconds"] > 0
    assert last["train_seconds"] == pytest.approx(plain["train_seconds"] + last["tta_seconds"])
    assert (last["accuracy"], last["loss"]) == (result.metrics["accuracy"], result.metrics["loss"])
    assert last["loss"] != plain["loss"]  # TTA changed the logits
    assert first_reached(probe.points, [2.0]) == {2.0: None}


def test_first_reached_takes_the_first_point_at_or_past_each_target():
    from cifarbench.training.time_to_accuracy import first_reached

    points = [{"train_seconds": 1.0, "accuracy": 0.5}, {"train_seconds": 2.0, "accuracy": 0.7},
              {"train_seconds": 2.5, "accuracy": 0.69}, {"train_seconds": 3.1, "accuracy": 0.8, "tta": 2}]
    assert first_reached(points, [0.5, 0.69, 0.75, 0.9]) == {0.5: 1.0, 0.69: 2.0, 0.75: 3.1, 0.9: None}
