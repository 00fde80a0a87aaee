"""Weights between PyTorch and MLX: key names and conv layouts (numpy only: no MLX needed to read an MLX run).

    PyTorch  stem.0.0.weight  (O, I, kH, kW)      MLX  stem.layers.0.layers.0.weight  (O, kH, kW, I)

Every numeric part of a PyTorch key of our models is an index into an nn.Sequential, which MLX
keeps under `.layers`. BatchNorm's `num_batches_tracked` has no MLX counterpart (it only
matters with momentum=None) and is dropped; it is restored as 0 going back.
"""

from __future__ import annotations

import numpy as np


def mlx_key(torch_key: str) -> str:
    return ".".join(f"layers.{p}" if p.isdigit() else p for p in torch_key.split("."))


def torch_key(mlx_key_: str) -> str:
    return mlx_key_.replace("layers.", "")


def torch_to_mlx(state: dict) -> dict[str, np.ndarray]:
    """A PyTorch state dict (tensors) as MLX-named float32 numpy arrays."""
    out = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        array = value.detach().cpu().float().numpy()
        if array.ndim == 4:  # conv: OIHW -> OHWI
            array = array.transpose(0, 2, 3, 1)
        out[mlx_key(key)] = np.ascontiguousarray(array)
    return out


def mlx_to_torch(arrays: dict[str, np.ndarray], reference: dict) -> dict:
    """MLX arrays as a state dict for the PyTorch model whose state dict is `reference`."""
    import torch

    out = {}
    for key, ref in reference.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(ref)
            continue
        array = np.asarray(arrays[mlx_key(key)])
        if array.ndim == 4:
            array = array.transpose(0, 3, 1, 2)
        out[key] = torch.from_numpy(np.ascontiguousarray(array)).to(ref.dtype)
    return out
