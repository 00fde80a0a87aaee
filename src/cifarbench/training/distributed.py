"""Data-parallel training on PyTorch's own engine: torchrun starts the processes,
DistributedDataParallel averages the gradients (NCCL on CUDA, Gloo on CPU).

    torchrun --nproc_per_node=2 -m cifarbench train --dataset fashion-mnist --model lenet-small

The conventions that make N processes train like one:

- `train.batch_size` is the global batch; each rank takes `batch_size / world_size` of it. The
  loader shards the epoch's permutation as order[rank::world_size], so global batch b holds the
  same images at any world size, augmented the same way (augmentation is drawn per image). A
  run therefore resumes from its checkpoint with the same or a different world size.
- DDP averages gradients. With a mean loss that equals one process's gradient of the whole
  batch; with a summed loss (airbench) each rank's loss is multiplied by the world size first.
- BatchNorm statistics are each rank's own, as in plain DDP (running buffers are broadcast from
  rank 0); nets without BatchNorm train exactly like one process, up to float summation order.
- Only rank 0 writes the run directory, logs and checkpoints; every rank evaluates the whole
  validation split (the same weights give the same numbers), and training sums are all-reduced.
- A rank that dies ends the run: torchrun stops the others, and a collective that waits longer
  than `--dist-timeout` raises instead of hanging.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cifarbench.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


_independent = False  # inside independent_runs(): torchrun's processes each train runs of their own


@contextlib.contextmanager
def independent_runs():
    """Within, a run started in a torchrun process is a one-process run (no DDP, it writes its
    own run directory): how `--runs N` under torchrun spreads its seeds over the processes."""
    global _independent
    saved, _independent = _independent, True
    try:
        yield
    finally:
        _independent = saved


def torchrun_ranks() -> tuple[int, int, int, int]:
    """(rank, world size, local rank, local world size) as torchrun set them; (0, 1, 0, 1) alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (
        int(os.environ.get("RANK", "0")),
        world,
        int(os.environ.get("LOCAL_RANK", "0")),
        int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
    )


def launched_by_torchrun() -> bool:
    """Started by torchrun with several processes, to train one run together (DDP)."""
    return not _independent and int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Rank 0, or not distributed; readable before the process group exists (torchrun sets RANK)."""
    return _independent or int(os.environ.get("RANK", "0")) == 0


def broadcast_object(obj, ctx: DistContext):
    """Rank 0's `obj` on every rank (the run directory's path, chosen by rank 0)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def setup(device: torch.device, timeout_seconds: float = 300.0) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun prepared (env:// rendezvous); one device per rank."""
    if not launched_by_torchrun():
        return SINGLE, device
    if dist.is_initialized():  # already set up by the caller (a notebook, a test harness)
        return _context(dist.get_backend()), _rank_device(device)
    rank_device = _rank_device(device)
    backend = "nccl" if rank_device.type == "cuda" else "gloo"
    if rank_device.type == "mps":
        raise ConfigError(
            "distributed training is not supported on MPS (no NCCL or Gloo collectives there); "
            "use --device cpu, or one process"
        )
    if rank_device.type == "cuda":
        torch.cuda.set_device(rank_device)
    init_process_group(backend, timeout_seconds)
    return _context(backend), rank_device


def init_process_group(backend: str, timeout_seconds: float = 300.0) -> None:
    """Join torchrun's process group (env:// rendezvous) so that destroy_process_group really ends it.

    torch 2.13's `torch._dynamo`, imported on first use by torch.optim, keeps references to the
    process group that exists when it is imported, for the life of the process. destroy_process_group
    then leaves the group alive with Gloo's threads running, and the group is only destroyed during
    interpreter shutdown, where those threads sometimes abort the process ("terminate called without
    an active exception", SIGABRT): a rank that returned cleanly dies, and torchrun stops the others.
    Imported first, dynamo finds no group to hold on to."""
    import torch._dynamo  # noqa: F401 - before the group exists; see above

    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds))


def _context(backend: str) -> DistContext:
    return DistContext(
        rank=dist.get_rank(),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        world_size=dist.get_world_size(),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())),
        backend=backend,
    )


def _rank_device(device: torch.device) -> torch.device:
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", 0))
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local} has no GPU: this machine has {torch.cuda.device_count()}; "
                "start at most that many processes per node"
            )
        return torch.device("cuda", local)
    return device


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float | int], device: torch.device, ctx: DistContext) -> list[float]:
    """Sums across ranks (float64, so counts stay exact); the values themselves when alone."""
    if not ctx.enabled:
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def ranks_description(device: torch.device, ctx: DistContext) -> list[dict]:
    """Every rank's host and device (rank 0 records them in run_log.json)."""
    mine = {"rank": ctx.rank, "host": socket.gethostname(), "device": str(device), "pid": os.getpid()}
    if not ctx.enabled:
        return [mine]
    gathered: list = [None] * ctx.world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def is_peer_failure(exc: BaseException) -> bool:
    """A collective that failed because another rank died or hung (not a bug of this rank)."""
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc).lower()
    return any(word in text for word in ("gloo", "nccl", "connection reset", "connection closed", "timed out"))
