"""Recipe tricks that hook into the loop instead of changing it (airbench's, from
airbench/utils.py `train` and `LookaheadState`)."""

from __future__ import annotations

import torch

from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback


class FreezeWhiteningBias(Callback):
    """Train the whitening conv's bias for the first `epochs` epochs of the schedule only.

    With requires_grad off its gradient stays None, so SGD neither moves nor decays it.
    airbench: "how many epochs to train the whitening layer bias before freezing" = 3. The epochs
    are the schedule's (training/pace.py): on steps, the first `epochs` epochs' steps; on the clock, the
    same share of the schedule, however many steps it takes.
    """

    def __init__(self, epochs: int):
        self.epochs = epochs

    def _set(self, trainer) -> None:
        whiten = getattr(trainer.model, "whiten", None)
        if whiten is not None and whiten.bias is not None:
            trains = trainer.progress.position < self.epochs * trainer.steps_per_epoch
            if whiten.bias.requires_grad != trains:
                whiten.bias.requires_grad_(trains)

    def on_epoch_start(self, trainer, epoch):
        self._set(trainer)

    def on_batch_end(self, trainer, batch_index):
        self._set(trainer)


class Lookahead(Callback):
    """Every `every` steps: ema <- lerp(ema, weights, 1 - decay); weights <- ema.

    decay = base ** every * (share of the schedule done) ** 3 (0 early: the EMA follows the weights;
    0.77 at the end), and a final `weights <- ema` after the schedule's last step. All floating-point entries of
    the state dict take part, BatchNorm running statistics included, as in the reference.
    """

    def __init__(self, every: int = 5, base: float = 0.95):
        self.every, self.base = every, base
        self.ema: dict[str, torch.Tensor] | None = None

    def decay(self, fraction: float) -> float:
        return self.base**self.every * fraction**3

    def on_fit_start(self, trainer):
        if self.ema is None:  # on resume, load_state_dict has restored it
            self.ema = {k: v.detach().clone() for k, v in trainer.model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, decay: float) -> None:
        assert self.ema is not None  # on_fit_start (or load_state_dict) has set it
        for name, value in model.state_dict().items():
            if name in self.ema:
                self.ema[name].lerp_(value, 1 - decay)
                value.copy_(self.ema[name])

    def on_batch_end(self, trainer, batch_index):
        progress = trainer.progress
        if trainer.state.step % self.every == 0:
            self.update(trainer.model, self.decay(progress.position / progress.total))
        if progress.done:
            self.update(trainer.model, 1.0)  # the weights become the EMA

    def state_dict(self):
        return {"ema": self.ema}

    def load_state_dict(self, state):
        self.ema = state["ema"]


def tricks_for(config: RunConfig) -> list[Callback]:
    """The trick callbacks a config asks for."""
    out: list[Callback] = []
    if config.model.whiten_bias_epochs is not None:
        out.append(FreezeWhiteningBias(config.model.whiten_bias_epochs))
    if config.optim.lookahead:
        out.append(Lookahead(config.optim.lookahead_every, config.optim.lookahead_decay))
    return out
