"""torch.compile, paid once: compile time kept apart from training time, and one compiled
model reused by the next run of the same shape in this process (`--runs N`).

A compiled module's graphs are specialised to its structure, shapes and dtypes, not to the
values of its weights. So the next run builds its model as usual (its seed decides the initial
weights), and if the last compiled model has the same structure, the new weights are copied
into that one and its graphs are reused: re-initialised, not recompiled.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from cifarbench.devices import Stopwatch
from cifarbench.models import untouched_buffers

COMPILE_OPTIONS: dict = {}  # torch.compile's keyword arguments (tests choose the fast "eager" backend)
_LAST: dict = {}  # the last compiled model of this process: {"key", "model", "forward"}


def structure_key(model: nn.Module, device: torch.device, channels_last: bool) -> tuple:
    """What a compiled graph depends on: the module types, every tensor's name, shape and dtype,
    the device and the memory format."""
    tensors = tuple((name, tuple(t.shape), t.dtype) for name, t in model.state_dict().items())
    return (
        type(model).__qualname__,
        tuple(type(m).__qualname__ for m in model.modules()),
        tensors,
        str(device),
        channels_last,
    )


def compile_or_reuse(model: nn.Module, device: torch.device, channels_last: bool) -> tuple[nn.Module, object, bool]:
    """(the model to train, its compiled forward, whether an earlier run's compiled model was reused)."""
    key = structure_key(model, device, channels_last)
    if _LAST.get("key") == key:
        reused: nn.Module = _LAST["model"]
        with torch.no_grad():
            reused.load_state_dict(model.state_dict())  # the new run's initial weights and statistics
        for mine, theirs in zip(reused.parameters(), model.parameters()):
            mine.requires_grad_(theirs.requires_grad)
        reused.train(model.training)
        return reused, _LAST["forward"], True
    forward = torch.compile(model, **COMPILE_OPTIONS)
    _LAST.clear()
    _LAST.update(key=key, model=model, forward=forward)
    return model, forward, False


def batch_sizes(n: int, batch_size: int, drop_last: bool) -> list[int]:
    """The distinct batch sizes an epoch over n images yields (a smaller last batch is a new shape)."""
    sizes = [min(batch_size, n)]
    if not drop_last and n % batch_size and n > batch_size:
        sizes.append(n % batch_size)
    return sizes


def warm_up(trainer) -> float:
    """Run every graph the loop will need once before the clock starts (forward and backward at
    each training batch shape, forward at each evaluation batch shape), leaving no trace: no
    optimizer step, BatchNorm statistics and the RNG restored, gradients cleared. Returns the
    seconds it took, which are compile time, reported apart and never counted as training."""
    model = trainer.model
    loader, val = trainer.train_loader, trainer.val_loader
    firsts = {}  # one first batch per training size: progressive resizing trains at several
    for epoch in range(trainer.num_epochs):
        if loader.training_size(epoch) not in firsts:
            firsts[loader.training_size(epoch)] = next(loader.epoch(epoch))
    rng = torch.get_rng_state()
    watch = Stopwatch(trainer.device)  # its own clock: compile time never mixes with training time
    try:
        with untouched_buffers(model), watch.region():
            model.train()
            for (inputs, labels), n in itertools.product(
                firsts.values(), batch_sizes(loader.local_size(), loader.batch_size, loader.drop_last)
            ):
                with trainer.precision.context(trainer.device):
                    loss = trainer.compute_loss(trainer.forward(trainer.cast(inputs[:n])), labels[:n])
                loss.backward()
                trainer.optimizer.zero_grad(set_to_none=True)
            model.eval()
            val_inputs, _ = next(val.batches())
            with torch.no_grad(), trainer.precision.context(trainer.device):
                for n in batch_sizes(len(val.labels), val.batch_size, False):
                    trainer.eval_forward(trainer.cast(val_inputs[:n]))
    finally:
        model.train()
        torch.set_rng_state(rng)
    return watch.seconds
