"""The fingerprint names the CPU features that decide a figure's meaning (issue 18)."""

from __future__ import annotations

from cifarbench import devices
from cifarbench.fingerprint import cpu_id, fingerprint, short_commit


def test_fingerprint_records_the_cpu_instruction_sets_and_native_bf16():
    f = fingerprint()
    assert f["cpu_model"]
    assert set(f["cpu_isa"]) <= set(devices.SPEED_ISA)
    # the same answer `--precision auto` acts on, and consistent with the instruction sets listed
    assert f["cpu_native_bf16"] == devices.cpu_supports_fast_bf16()
    assert f["cpu_native_bf16"] == any(isa in f["cpu_isa"] for isa in devices.NATIVE_BF16_ISA)
    import torch

    assert f["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_cpu_flags_are_read_from_the_flags_line(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some Xeon\nflags\t\t: fpu avx2 fma avx512f avx512_bf16 amx_tile\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path,
                                                                        *a, **k))
    devices.cpu_flags.cache_clear()
    try:
        assert devices.cpu_speed_isa() == ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"]
        assert devices.cpu_supports_fast_bf16()
    finally:
        devices.cpu_flags.cache_clear()


ZEN1 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 23
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 2

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 23
"""


def test_two_cpus_of_one_model_name_are_told_apart_by_family_and_model():
    zen3 = ZEN1.replace("cpu family\t: 23\nmodel\t\t: 1", "cpu family\t: 25\nmodel\t\t: 1")
    assert cpu_id(ZEN1) == "AuthenticAMD cpu family 23 model 1 stepping 2"
    assert cpu_id(zen3) == "AuthenticAMD cpu family 25 model 1 stepping 2"
    assert cpu_id("Hardware\t: some board\n") is None  # an ARM board's cpuinfo has none of them
    assert "cpu_id" in fingerprint()


def test_a_calibration_of_one_generation_is_not_read_on_another(monkeypatch):
    from cifarbench.planner import calibrate
    from cifarbench.resolve import resolve_config

    config = resolve_config("airbench94", {"data": {"dataset": "synthetic"}})
    keys = []
    for text in (ZEN1, ZEN1.replace("cpu family\t: 23", "cpu family\t: 25")):
        monkeypatch.setattr("cifarbench.fingerprint.cpu_id", lambda text=text: cpu_id(text))
        calibrate._machine.cache_clear()
        keys.append(calibrate.machine_key(config))
    calibrate._machine.cache_clear()
    assert keys[0]["cpu_id"] != keys[1]["cpu_id"]


def test_a_short_commit_keeps_dirty():
    """A figure made from uncommitted code must not pass for the commit's (the frontier's machine line)."""
    assert short_commit("0123456789abcdef0123-dirty") == "0123456789ab-dirty"
    assert short_commit("0123456789abcdef0123") == "0123456789ab"
    assert short_commit(None) == "unknown"
