"""Checkpoints of both frameworks: written atomically, read by one function, never code.

    PyTorch  checkpoints/last.pt    the whole training state (model, optimizer, scheduler, scaler,
                                    RNG states, history, callbacks) + what inference needs
    MLX      checkpoints/last.npz   the weights in MLX's layout (numpy's .npz, arrays only)
             checkpoints/last.json  the same metadata as a PyTorch checkpoint carries

`load_checkpoint` returns either as one dict in PyTorch's layout (an MLX run's weights are
converted for the PyTorch twin of its model), so eval, predict, activations and reproduce need
neither MLX nor to know which framework trained the run. A .pt file is read with
`torch.load(weights_only=True)` and an .npz with `allow_pickle=False`: nothing in a checkpoint
can run code when it is loaded.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cifarbench.errors import CheckpointError
from cifarbench.files import atomic_file, atomic_save_torch, atomic_write_json
from cifarbench.models import build_model
from cifarbench.models.mlx_layout import mlx_to_torch
from cifarbench.runs import RunDir

CHECKPOINT_FORMAT = 1


def save_torch_checkpoint(run: RunDir, state: dict, meta: dict) -> None:
    """checkpoints/last.pt, replacing the previous one atomically."""
    if run.writable:
        atomic_save_torch({"format": CHECKPOINT_FORMAT, "framework": "torch", **meta, **state},
                          run.file(RunDir.CHECKPOINT))


def save_mlx_checkpoint(run: RunDir, write_weights: Callable[[str], None], meta: dict) -> None:
    """checkpoints/last.npz (written by `write_weights(path)`, MLX's own saver) and last.json."""
    if not run.writable:
        return
    with atomic_file(run.file(RunDir.MLX_WEIGHTS), suffix=".npz") as tmp:  # MLX insists on the suffix
        write_weights(str(tmp))
    atomic_write_json({"format": CHECKPOINT_FORMAT, "framework": "mlx", **meta}, run.file(RunDir.MLX_META))


def checkpoint_file(path: str | Path) -> Path:
    """A checkpoint file as given, or the one in a run directory (last.pt, else last.npz)."""
    path = Path(path)
    if path.is_dir():
        for name in (RunDir.CHECKPOINT, RunDir.MLX_WEIGHTS):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path} has no checkpoint (neither {RunDir.CHECKPOINT} nor {RunDir.MLX_WEIGHTS})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint of a run directory or file, in PyTorch's layout, whichever framework wrote it."""
    file = checkpoint_file(path)
    ckpt = _read_mlx(file) if file.suffix == ".npz" else _read_torch(file, map_location)
    for key in ("model_name", "config", "data", "model"):
        if key not in ckpt:
            raise CheckpointError(f"{file} is not a cifarbench checkpoint: it has no {key!r} entry")
    return ckpt


def load_training_state(run_dir: str | Path) -> dict:
    """The PyTorch training state a run continues from (`--resume`)."""
    file = checkpoint_file(run_dir)
    if file.suffix == ".npz":
        raise CheckpointError(f"{run_dir} was trained with MLX, which saves weights only; --resume is PyTorch-only")
    return load_checkpoint(file)


def _read_torch(file: Path, map_location) -> dict:
    try:
        ckpt = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any pickled global that is not a plain tensor or container
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{file} was refused: it holds pickled objects other than tensors and plain "
                              f"containers, which could run code when loaded ({first})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{file} is not a readable checkpoint ({str(exc).splitlines()[0]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{file} is not a cifarbench checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def _read_mlx(weights: Path) -> dict:
    """An MLX checkpoint as load_checkpoint returns it: its metadata + PyTorch-layout weights."""
    meta_path = weights.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        with np.load(weights, allow_pickle=False) as npz:  # arrays only: nothing in it can run
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is not a readable MLX checkpoint with its {meta_path.name} ({exc})") from None
    c, h, _ = meta["data"]["shape"]
    reference = build_model(meta["model_name"], num_classes=len(meta["data"]["classes"]), in_channels=c,
                            image_size=h).state_dict()
    try:
        meta["model"] = mlx_to_torch(arrays, reference)
    except KeyError as exc:
        raise CheckpointError(f"{weights}: no weight {exc} for model {meta['model_name']!r}") from None
    return meta
