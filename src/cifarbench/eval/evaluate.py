"""The one evaluation loop: every split, every model, every framework.

A forward function takes a normalised NCHW torch batch and returns logits: a PyTorch model,
or an MLX model behind a converter (mlx/backend.py). Test-time augmentation (eval/tta.py)
works on the torch batch around that function, so both frameworks get the same views.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cifarbench.eval.tta import tta_views


@dataclass
class Evaluation:
    logits: torch.Tensor  # (N, classes) float32, on the CPU
    labels: torch.Tensor  # (N,)
    loss: float  # mean cross-entropy, without label smoothing: comparable across recipes
    extra_view_share: float = 0.0  # the share of images given the TTA views past the plain one

    @property
    def accuracy(self) -> float:
        return float((self.logits.argmax(1) == self.labels).float().mean())

    @property
    def predictions(self) -> torch.Tensor:
        return self.logits.argmax(1)


@torch.no_grad()
def evaluate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    tta: int = 0,
    precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    tta_share: float | None = None,
) -> Evaluation:
    """Logits of every batch (with `tta` views, past the plain one only for the least confident
    `tta_share` of each batch when it is given), gathered on the CPU; `precision` is the
    autocast context the forward runs in (devices.autocast)."""
    logits, labels, extra = [], [], 0
    for inputs, targets in batches:
        with precision():
            out, given = tta_views(forward, inputs, tta, tta_share)
        logits.append(out.float().cpu())
        labels.append(targets.cpu())
        extra += given
    all_logits, all_labels = torch.cat(logits), torch.cat(labels)
    return Evaluation(
        all_logits, all_labels, float(F.cross_entropy(all_logits, all_labels)), extra / max(1, len(all_labels))
    )
