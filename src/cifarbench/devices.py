"""The one device policy: which device, which precision, how to time it.

Every other module asks here instead of testing `torch.cuda.is_available()` itself,
so CPU, CUDA and MPS run the same code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass

import torch

from cifarbench.errors import ConfigError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """Turn `auto|cpu|cuda|mps|cuda:N` into a device that exists; never fall back silently."""
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ConfigError(f"device {name!r} is not one of {', '.join(DEVICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            picked, why = "cuda", f"CUDA is available ({torch.cuda.get_device_name(0)})"
        elif mps_available():
            picked, why = "mps", "Apple MPS is available"
        else:
            picked, why = "cpu", "no CUDA or MPS device was found"
        log.info("device auto -> %s: %s", picked, why)
        return torch.device(picked)
    if base == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but this torch build sees no CUDA device; use --device cpu or auto")
    if base == "mps" and not mps_available():
        raise ConfigError(f"device {name!r} was asked for but Apple MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def cpu_supports_fast_bf16() -> bool:
    """True where the CPU has native bf16 matmul (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        flags = ""
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision name on a device, or None for plain fp32.

    auto: fp16 on CUDA (tensor cores; a GradScaler guards the gradients), bf16 on a CPU
    with native bf16, fp32 elsewhere (MPS autocast support varies between torch releases).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            precision = "fp16"
        elif device.type == "cpu" and cpu_supports_fast_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise ConfigError("precision 'fp16' is not supported on cpu; use bf16 or fp32")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast on the device, or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a clock read afterwards measures finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def configure_threads(processes_per_node: int = 1) -> int:
    """One intra-op thread per core this process may run on (cgroups and affinity included),
    the cores shared out when several processes of one node train together (torchrun)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, processes_per_node))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@dataclass
class Stopwatch:
    """Accumulates device-synchronised wall-clock time over several timed regions."""

    device: torch.device
    seconds: float = 0.0
    _started: float | None = None

    def start(self) -> None:
        synchronize(self.device)
        self._started = time.perf_counter()

    def stop(self) -> float:
        synchronize(self.device)  # sync point: count the kernels queued in the region
        assert self._started is not None, "Stopwatch.stop() without start()"
        elapsed = time.perf_counter() - self._started
        self.seconds += elapsed
        self._started = None
        return elapsed

    def elapsed_unsynced(self) -> float:
        """Time since start() without a device sync: for progress displays, not for results."""
        return time.perf_counter() - self._started if self._started is not None else 0.0

    @contextlib.contextmanager
    def region(self):
        self.start()
        try:
            yield self
        finally:
            self.stop()


def peak_memory_bytes(device: torch.device) -> int | None:
    """Peak allocated device memory; peak resident set size of the process on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    if device.type == "mps":
        return int(torch.mps.driver_allocated_memory())
    try:
        import resource

        # ru_maxrss is KiB on Linux, bytes on macOS
        scale = 1 if os.uname().sysname == "Darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale
    except (ImportError, AttributeError):
        return None
