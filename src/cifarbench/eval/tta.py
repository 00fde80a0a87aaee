"""Test-time augmentation as airbench does it (airbench/utils.py `infer`).

level 0: the image; 1: the mean of the image's and its mirror's logits; 2: half the level-1
logits plus half the mean over two 1-pixel translations (up-left and down-right, reflect
padding) each with its mirror: six views in all.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]  # a model, or any function from batch to logits
VIEWS = {0: 1, 1: 2, 2: 6}  # forward passes per image at each level: what an evaluation costs


def _mirror(model: Forward, x: torch.Tensor) -> torch.Tensor:
    return 0.5 * model(x) + 0.5 * model(x.flip(-1))


def tta_logits(model: Forward, x: torch.Tensor, level: int) -> torch.Tensor:
    if level == 0:
        return model(x)
    logits = _mirror(model, x)
    if level == 1:
        return logits
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = [padded[..., 0:h, 0:w], padded[..., 2 : h + 2, 2 : w + 2]]
    translated = torch.stack([_mirror(model, s) for s in shifted]).mean(0)
    return 0.5 * logits + 0.5 * translated
