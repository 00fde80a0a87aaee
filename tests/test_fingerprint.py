"""The fingerprint names the CPU features that decide a figure's meaning (issue 18)."""

from __future__ import annotations

from cifarbench import devices
from cifarbench.fingerprint import fingerprint


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
