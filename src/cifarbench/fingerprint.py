"""The hardware and software fingerprint written into every run and benchmark result."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

from cifarbench import __version__
from cifarbench.devices import cpu_speed_isa, cpu_supports_fast_bf16


def _cpuinfo_fields(cpuinfo: str | None = None) -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo as {field: value} (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        except OSError:
            return {}
    fields: dict[str, str] = {}
    for line in cpuinfo.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _cpu_model() -> str:
    model = _cpuinfo_fields().get("model name")
    if model:
        return model
    if sys.platform == "darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or "unknown"


def cpu_id(cpuinfo: str | None = None) -> str | None:
    """Vendor, family, model and stepping, as Linux reports them for x86 (None elsewhere): the
    model name alone can cover several generations (two virtual machines here that both reported
    "AMD EPYC" with AVX2 trained the same schedule a factor of 2 apart)."""
    fields = _cpuinfo_fields(cpuinfo)
    parts = [fields.get("vendor_id")] + [
        f"{name} {fields[name]}" for name in ("cpu family", "model", "stepping") if fields.get(name)
    ]
    return " ".join(p for p in parts if p) or None


def _cpu_capability() -> str | None:
    """The vector kernels torch dispatches to here: DEFAULT, AVX2, AVX512, ZVECTOR..."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return None


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The commit of the cifarbench source tree, when it runs from a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


GPU_FIELDS = ("gpu_name", "gpu_memory_bytes", "gpu_count", "cuda_version", "cudnn_version", "gpu_driver")


def gpu_info(device: torch.device | None = None) -> dict:
    """The accelerator's fields (GPU_FIELDS), None where there is none, so every fingerprint has
    the same keys and two of them compare field by field."""
    info = dict.fromkeys(GPU_FIELDS)
    if torch.cuda.is_available():
        index = device.index if device is not None and device.type == "cuda" and device.index is not None else 0
        props = torch.cuda.get_device_properties(index)
        info.update(
            gpu_name=props.name,
            gpu_memory_bytes=int(props.total_memory),
            gpu_count=torch.cuda.device_count(),
            cuda_version=torch.version.cuda,
            cudnn_version=torch.backends.cudnn.version(),
            gpu_driver=_nvidia_driver(),
        )
    elif hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        info.update(gpu_name="Apple MPS", gpu_count=1)
    return info


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


# What a run records about how it ran, beside the machine (written by the backends).
RUN_SETUP_FIELDS = ("device", "precision", "threads")


def fingerprint_fields() -> tuple[str, ...]:
    """The names of every fingerprint field, and of the run-setup fields compared with them."""
    return tuple(fingerprint()) + RUN_SETUP_FIELDS


def short_commit(commit: str | None) -> str:
    """A commit as a reader quotes it: 12 hex digits, and `-dirty` kept where the tree had changes
    (cut with the digits, a figure from uncommitted code would pass for the commit's)."""
    if not commit:
        return "unknown"
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def fingerprint(device: torch.device | None = None) -> dict:
    """What a reader needs to judge a number: machine, accelerator, library versions, code version."""
    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "kernel": platform.version(),
        "architecture": platform.machine(),
        "cpu_model": _cpu_model(),  # as the OS reports it
        "cpu_id": cpu_id(),  # family, model and stepping: one model name can cover two generations
        # what decides CPU speed: the instruction sets, the kernels torch picked, native bf16
        # (which is what `--precision auto` looks for before it chooses bf16 on a CPU)
        "cpu_isa": cpu_speed_isa(),
        "cpu_capability": _cpu_capability(),
        "cpu_native_bf16": cpu_supports_fast_bf16(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_bytes": _ram_bytes(),
        **gpu_info(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "mlx": _version("mlx"),
        "cifarbench": __version__,
        "git_commit": git_commit(),
        "hostname": platform.node(),
    }


def machine_info() -> dict:
    """What `cifarbench info` prints: the fingerprint every run records, for the device `auto`
    picks, and what that choice and `--precision auto` act on."""
    from cifarbench.devices import configure_threads, resolve_device

    configure_threads()
    device = resolve_device("auto")
    info = fingerprint(device)
    info["auto_device"] = str(device)
    info["cpu_fast_bf16"] = cpu_supports_fast_bf16()
    info["cuda_available"] = torch.cuda.is_available()
    return info
