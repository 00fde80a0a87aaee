"""Test-time augmentation as airbench does it (airbench/utils.py `infer`), and selectively.

level 0: the image; 1: the mean of the image's and its mirror's logits; 2: half the level-1
logits plus half the mean over two 1-pixel translations (up-left and down-right, reflect
padding) each with its mirror: six views in all.

Selective TTA (hiverge/cifar10-speedrun's idea): the plain view first, then the other views
only for the least confident share of each batch (by plain-view softmax confidence). A confident
prediction rarely changes under a mirror or a shift, so most of the evaluation's cost goes where
it can change an answer. A share, not a confidence threshold: label smoothing caps confidence
(at 0.26 no image passes 0.77), so a threshold means something else for every recipe, while a
share costs the same everywhere (1 + (views - 1) x share passes), which a planner can predict.
The extra views of an image are combined exactly as above.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]  # a model, or any function from batch to logits
VIEWS = {0: 1, 1: 2, 2: 6}  # forward passes per image at each level: what an evaluation costs


def _combine(model: Forward, x: torch.Tensor, plain: torch.Tensor, level: int) -> torch.Tensor:
    """The level's logits, given the plain view's (not recomputed)."""
    logits = 0.5 * plain + 0.5 * model(x.flip(-1))
    if level == 1:
        return logits
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = [padded[..., 0:h, 0:w], padded[..., 2 : h + 2, 2 : w + 2]]
    translated = torch.stack([0.5 * model(s) + 0.5 * model(s.flip(-1)) for s in shifted]).mean(0)
    return 0.5 * logits + 0.5 * translated


def tta_logits(model: Forward, x: torch.Tensor, level: int, share: float | None = None) -> torch.Tensor:
    """Logits of batch `x` at TTA `level`; with `share`, the views past the plain one only for
    that share of the batch, its least confident images."""
    return tta_views(model, x, level, share)[0]


def tta_views(model: Forward, x: torch.Tensor, level: int, share: float | None = None) -> tuple[torch.Tensor, int]:
    """tta_logits, and how many images of the batch were given the views past the plain one."""
    plain = model(x)
    if level == 0:
        return plain, 0
    if share is None or share >= 1:
        return _combine(model, x, plain, level), len(x)
    count = round(share * len(x))
    if count == 0:
        return plain, 0
    unsure = plain.float().softmax(1).amax(1).topk(count, largest=False).indices
    out = plain.clone()
    out[unsure] = _combine(model, x[unsure], plain[unsure], level).to(out.dtype)
    return out, count


def views_per_image(level: int, share: float | None = None) -> float:
    """Forward passes per image an evaluation costs at `level` with selective `share`."""
    return 1 + (VIEWS[level] - 1) * (1.0 if share is None else share)
