"""benchmarks/step_levers.py: which levers it runs on a CPU, and that each lever's setting reaches
the fresh process that measures it (oneDNN's environment, its fp32 math, torch.compile's mode)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cifarbench.bench.throughput import ThroughputSpec

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "step_levers.py"


@pytest.fixture(scope="module")
def levers():
    spec = importlib.util.spec_from_file_location("step_levers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tile_widths_round_each_width_up_to_a_multiple_of_32(levers):
    assert levers.tile_widths((16, 32, 64)) == (32, 32, 64)
    assert levers.tile_widths((24, 33, 256)) == (32, 64, 256)
    assert levers.default_widths("airbench-tiny") == (16, 32, 64)
    assert levers.default_widths("lenet-small") is None


@pytest.mark.parametrize("variant, model, auto, same", [
    ("fp32", "airbench94", "fp32", True),  # auto is fp32 on an AVX2 CPU: nothing to measure
    ("fp32", "airbench94", "bf16", False),
    ("widths-x32", "airbench94", "fp32", True),  # 64/256/256 fill the tiles already
    ("widths-x32", "airbench-tiny", "fp32", False),  # 16/32/64 -> 32/32/64
    ("widths-x32", "lenet-small", "fp32", True),  # no widths to round
    ("batch-x4", "airbench94", "fp32", False),
    ("compile-max-autotune", "airbench94", "fp32", False),
])
def test_a_lever_that_would_measure_the_base_again_is_not_run(levers, variant, model, auto, same):
    base = levers.spec_for(model, "base", 64, 10)
    assert levers.same_as_base(variant, levers.spec_for(model, variant, 64, 10), base, auto) is same


def test_a_lever_for_an_instruction_set_the_cpu_lacks_says_so(levers, monkeypatch):
    amx_off = "amx-off"
    monkeypatch.setattr(levers, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert levers.not_applicable(amx_off) == "needs amx_bf16, which this CPU lacks"
    assert levers.not_applicable("compile") is None
    monkeypatch.setattr(levers, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16", "amx_bf16"}))
    assert levers.not_applicable(amx_off) is None


def test_each_levers_setting_reaches_the_process_that_measures_it(levers, monkeypatch):
    spec = ThroughputSpec(model="airbench-tiny", batch_size=4, precision="fp32", shape=(1, 16, 16), warmup_steps=1,
                          steps=1, widths=(32, 32, 64))
    monkeypatch.setitem(levers.VARIANTS, "probe", {"env": {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "fp32_math": "bf16",
                                                   "compile_options": {"mode": "max-autotune"}})
    seen = levers.run_child("probe", spec)
    assert seen["seen"] == {"fp32_math": "bf16", "onednn_max_cpu_isa": "AVX2",
                            "compile_options": {"mode": "max-autotune"}}
    assert seen["widths"] == [32, 32, 64] and seen["train_images_per_second"] > 0
    plain = levers.run_child("base", spec)
    assert plain["seen"] == {"fp32_math": "none", "onednn_max_cpu_isa": None, "compile_options": {}}
    # the wider first group costs more FLOPs per image than airbench-tiny's own 16
    narrow = levers.run_child("base", ThroughputSpec(**{**spec.__dict__, "widths": None}))
    assert narrow["train_flops_per_image"] < plain["train_flops_per_image"]


def test_the_table_gives_each_lever_against_its_models_base(levers):
    def measured(ips, fraction, widths=None):
        return {"train_images_per_second": ips, "fraction_of_base_peak": fraction, "precision": "fp32",
                "batch_size": 64, "widths": widths, "warmup_seconds": 1.5}

    data = {"models": {"airbench-tiny": {"variants": {
        "base": measured(1000.0, 0.2), "widths-x32": measured(1100.0, 0.3, [32, 32, 64]),
        "amx-off": {"not_applicable": "needs amx_bf16, which this CPU lacks"}}}}}
    columns, rows = levers.table(data)
    assert columns[3:6] == ["train img/s", "vs base", "of base's matmul peak"]
    assert rows[0][1:6] == ["base", "fp32, batch 64", "1,000", "1.00x", "20.0%"]
    assert rows[1][2:5] == ["fp32, batch 64, widths 32/32/64", "1,100", "1.10x"]
    assert rows[2][2] == "–" and rows[2][-1] == "needs amx_bf16, which this CPU lacks"
