"""The one device policy: which device, which precision, how to time it.

Every other module asks here instead of testing `torch.cuda.is_available()` itself,
so CPU, CUDA and MPS run the same code.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass

import torch

from cifarbench.device_names import DEVICES, PRECISIONS
from cifarbench.errors import ConfigError

log = logging.getLogger(__name__)


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
        raise ConfigError(
            f"device {name!r} was asked for but this torch build sees no CUDA device; use --device cpu or auto"
        )
    if base == "mps" and not mps_available():
        raise ConfigError(
            f"device {name!r} was asked for but Apple MPS is not available here; use --device cpu or auto"
        )
    return torch.device(name)


# The CPU instruction sets that decide how fast a small convnet trains (the fingerprint records
# which of them the CPU has): AVX-512 widens fp32, AVX512-BF16 and AMX compute bf16 natively.
SPEED_ISA = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
NATIVE_BF16_ISA = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere; read once per process:
    the CPU does not change under a running program)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_speed_isa() -> list[str]:
    """Which of SPEED_ISA this CPU has, in that order."""
    return [name for name in SPEED_ISA if name in cpu_flags()]


def cpu_class() -> str:
    """The CPU class a speed figure belongs to, for results files' names: amx, avx512-bf16 or avx2
    (and "other" below that). Figures of one class do not carry over to another."""
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "amx"
    if "avx512_bf16" in flags:
        return "avx512-bf16"
    return "avx2" if "avx2" in flags else "other"


def cpu_supports_fast_bf16() -> bool:
    """True where the CPU has native bf16 matmul (AVX512-BF16 or AMX), so autocast pays off."""
    return any(flag in cpu_flags() for flag in NATIVE_BF16_ISA)


@dataclass(frozen=True)
class Precision:
    """How a run computes: `autocast` casts chosen ops to a low precision around fp32 weights;
    a pure mode (`weights` below fp32) keeps the weights, activations and gradients in that
    dtype, BatchNorm in fp32, as airbench's reference does (`model.half()`), with no casts per
    forward and no loss scaling."""

    name: str  # fp32, bf16, fp16 (autocast), bf16-pure, fp16-pure
    autocast: torch.dtype | None = None
    weights: torch.dtype = torch.float32

    @property
    def pure(self) -> bool:
        return self.weights != torch.float32

    @property
    def loss_scaling(self) -> bool:
        """fp16 autocast needs a GradScaler to keep small gradients representable. The pure fp16
        mode has none: it is chosen for recipes whose gradients are large (a summed loss), as the
        reference does; a recipe with a mean loss and fp16-pure may see gradients underflow."""
        return self.autocast == torch.float16

    def context(self, device: torch.device):
        """The autocast context of a forward pass (a no-op outside autocast modes)."""
        return autocast(device, self.autocast)

    def inference_dtype(self) -> torch.dtype | None:
        """The autocast dtype that evaluates an fp32 copy of the weights as this mode trained them."""
        return self.autocast or (self.weights if self.pure else None)


_MODES = {
    "fp32": Precision("fp32"),
    "bf16": Precision("bf16", autocast=torch.bfloat16),
    "fp16": Precision("fp16", autocast=torch.float16),
    "bf16-pure": Precision("bf16-pure", weights=torch.bfloat16),
    "fp16-pure": Precision("fp16-pure", weights=torch.float16),
}


def resolve_precision(precision: str, device: torch.device, summed_loss: bool = False) -> Precision:
    """The precision mode a name means on a device.

    auto: on CUDA, fp16-pure for recipes that sum their loss (airbench's: per-example gradients
    summed over the batch stay far above fp16's underflow, so no loss scaling is needed, and a
    GradScaler's host read of its overflow flag would sync every step), fp16 autocast with a
    GradScaler otherwise; bf16 autocast on a CPU with native bf16; fp32 elsewhere (MPS autocast
    support varies between torch releases).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            precision = "fp16-pure" if summed_loss else "fp16"
        elif device.type == "cpu" and cpu_supports_fast_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    if precision.startswith("fp16") and device.type == "cpu":
        raise ConfigError(f"precision {precision!r} is not supported on cpu; use bf16, bf16-pure or fp32")
    return _MODES[precision]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast on the device, or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a clock read afterwards measures finished work. Every device goes
    through its own torch.<device>.synchronize, the CPU's too (it returns at once): one path on every
    device, so what counts a sync on one (tests/test_sync.py) counts it on all."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    else:
        torch.cpu.synchronize()


class HostCopy:
    """The newest values of a few device scalars, read without making the host wait for the device.

    request() queues a copy of the values into host memory (pinned on CUDA) behind the work already
    queued, and marks it with an event; latest() returns the newest copy whose event has passed
    (with the host-side `note` given with it, such as the count the values cover),
    so a display that requests at one refresh shows those numbers at a later one. A request made
    while the last copy is still in flight is dropped rather than waited for. On the CPU the
    values are computed by the time they are requested, so the copy is ready at once.
    """

    MARK = "_cifarbench_host_copy"  # set on the host buffers: reading them is no device read

    def __init__(self, device: torch.device):
        self.device = device
        self._pending: tuple[torch.Tensor, object, object] | None = None
        self._latest: tuple[list[float], object] | None = None

    def request(self, values: list[torch.Tensor], note=None) -> None:
        if self._pending is not None and not self._passed(self._pending[1]):
            return
        self._take_pending()
        # float32: MPS has no float64, and a count stays exact in it up to 2**24 (an epoch's images)
        staged = torch.stack([v.detach().float() for v in values])
        if self.device.type == "cpu":
            host, event = staged, None
        else:
            host = torch.empty(staged.shape, dtype=torch.float32, pin_memory=self.device.type == "cuda")
            host.copy_(staged, non_blocking=True)
            event = torch.cuda.Event() if self.device.type == "cuda" else torch.mps.Event()
            event.record()
        setattr(host, self.MARK, True)
        self._pending = (host, event, note)

    def latest(self) -> tuple[list[float], object] | None:
        """The newest finished copy's values and note (None before the first has finished)."""
        if self._pending is not None and self._passed(self._pending[1]):
            self._take_pending()
        return self._latest

    def _take_pending(self) -> None:
        if self._pending is not None:
            host, _, note = self._pending
            self._latest, self._pending = (host.tolist(), note), None

    @staticmethod
    def _passed(event) -> bool:
        return event is None or event.query()


_pinned: list[int] | None = None  # pin_to_cores' share where the OS has no affinity call


def usable_cores() -> list[int]:
    """The cores this process may run on (cgroups and affinity included)."""
    if _pinned is not None:
        return list(_pinned)
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return list(range(os.cpu_count() or 1))


def core_blocks(processes: int, size: int | None = None) -> list[list[int]]:
    """The usable cores shared out as contiguous blocks, one per process, of `size` cores each
    (default: an equal share; cores left over stay unused)."""
    cores = usable_cores()
    per = size or len(cores) // max(1, processes)
    if per < 1 or processes * per > len(cores):
        raise ConfigError(
            f"{processes} processes of {size or 1} core(s) each need {processes * (size or 1)} cores; "
            f"this process may use {len(cores)}"
        )
    return [cores[i * per : (i + 1) * per] for i in range(processes)]


def pin_to_cores(cores: list[int]) -> None:
    """Run this process on `cores` only, so configure_threads gives it one thread per core it
    owns; where the OS cannot pin (macOS), the share is remembered and only the thread count follows."""
    global _pinned
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    else:
        _pinned = list(cores)


def configure_threads(processes_per_node: int = 1, requested: int | None = None) -> int:
    """`requested` intra-op threads, else one per core this process may run on (cgroups and
    affinity included), the cores shared out when several processes of one node train together."""
    cores = len(usable_cores())
    threads = requested or max(1, cores // max(1, processes_per_node))
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
