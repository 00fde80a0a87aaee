"""Checkpoints of both frameworks: written atomically, read by one function, never code.

    PyTorch  checkpoints/last.pt    the whole training state (model, optimizer, scheduler, scaler,
                                    RNG states, history, callbacks) + what inference needs
    MLX      checkpoints/last.npz   the weights in MLX's layout (numpy's .npz, arrays only)
             checkpoints/last.json  the same metadata as a PyTorch checkpoint carries
    export   *.safetensors          `cifarbench export`: the weights, and the same metadata as JSON in
                                    the file's header (metadata key "cifarbench")

`load_checkpoint` returns either as one dict in PyTorch's layout (an MLX run's weights are
converted for the PyTorch twin of its model), so eval, predict, activations and reproduce need
neither MLX nor to know which framework trained the run. A .pt file is read with
`torch.load(weights_only=True)` and an .npz with `allow_pickle=False`: nothing in a checkpoint
can run code when it is loaded.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cifarbench.errors import CheckpointError
from cifarbench.files import atomic_file, atomic_save_torch, atomic_write_bytes, atomic_write_json
from cifarbench.models import build_model
from cifarbench.models.mlx_layout import mlx_to_torch
from cifarbench.runs import RunDir

CHECKPOINT_FORMAT = 1


def save_torch_checkpoint(run: RunDir, state: dict, meta: dict) -> None:
    """checkpoints/last.pt, replacing the previous one atomically."""
    if run.writable:
        atomic_save_torch(
            {"format": CHECKPOINT_FORMAT, "framework": "torch", **meta, **state}, run.file(RunDir.CHECKPOINT)
        )


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


SAFETENSORS_KEY = "cifarbench"  # the safetensors metadata entry holding the checkpoint's metadata as JSON


def save_safetensors(weights: dict, meta: dict, path: str | Path) -> None:
    """Weights (contiguous tensors, no shared storage) and the checkpoint metadata, one file."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in weights.items()}
    header = {"format": CHECKPOINT_FORMAT, **{k: v for k, v in meta.items() if k != "model"}}
    atomic_write_bytes(save(tensors, metadata={SAFETENSORS_KEY: json.dumps(header)}), path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint of a run directory or file, in PyTorch's layout, whichever framework wrote it."""
    file = checkpoint_file(path)
    if file.suffix == ".npz":
        return _read_mlx(file)
    if file.suffix == ".safetensors":
        return _read_safetensors(file)
    ckpt = _read_torch(file, map_location)
    check_metadata(file, ckpt)
    if not isinstance(ckpt.get("model"), dict):
        raise CheckpointError(f"{file} is not a cifarbench checkpoint: it has no weights ('model' entry)")
    return ckpt


def check_metadata(file: Path, meta: dict) -> None:
    """What a checkpoint says about its model and data has the types inference relies on: a file
    that does not is refused in one line instead of failing somewhere later."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{file} is not a cifarbench checkpoint: {what}")

    if not isinstance(meta, dict):
        raise bad(f"it holds a {type(meta).__name__}, not a mapping")
    for key in ("model_name", "config", "data"):
        if key not in meta:
            raise bad(f"it has no {key!r} entry")
    if not isinstance(meta["model_name"], str) or not isinstance(meta["config"], dict):
        raise bad("'model_name' must be a name and 'config' a mapping")
    data = meta["data"]
    if not isinstance(data, dict) or not all(k in data for k in ("classes", "mean", "std", "shape")):
        raise bad("'data' must hold classes, mean, std and shape")
    shape, classes = data["shape"], data["classes"]
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise bad(f"'data.shape' {shape!r} is not three positive integers (C, H, W)")
    if not (isinstance(classes, (list, tuple)) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)):
        raise bad("'data.classes' must be a list of at least two class names")
    for key in ("mean", "std"):
        values = data[key]
        if not (
            isinstance(values, (list, tuple))
            and len(values) == shape[0]
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            raise bad(f"'data.{key}' must hold {shape[0]} numbers, one per channel")
    if any(v <= 0 for v in data["std"]):
        raise bad("'data.std' must be positive")


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
        raise CheckpointError(
            f"{file} was refused: it holds pickled objects other than tensors and plain "
            f"containers, which could run code when loaded ({_first_line(exc)})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail in torch.load in many ways
        raise CheckpointError(f"{file} is not a readable checkpoint ({_first_line(exc)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{file} is not a cifarbench checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def _read_mlx(weights: Path) -> dict:
    """An MLX checkpoint as load_checkpoint returns it: its metadata + PyTorch-layout weights."""
    meta_path = weights.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"{meta_path} (the metadata of {weights.name}) is not readable JSON ({_first_line(exc)})"
        ) from None
    check_metadata(meta_path, meta)
    try:
        with np.load(weights, allow_pickle=False) as npz:  # arrays only: nothing in it can run
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - zip, format and pickle refusals alike
        raise CheckpointError(f"{weights} is not a readable MLX checkpoint ({_first_line(exc)})") from None
    c, h, _ = meta["data"]["shape"]
    reference = build_model(
        meta["model_name"], num_classes=len(meta["data"]["classes"]), in_channels=c, image_size=h
    ).state_dict()
    try:
        meta["model"] = mlx_to_torch(arrays, reference)
    except KeyError as exc:
        raise CheckpointError(f"{weights}: no weight {exc} for model {meta['model_name']!r}") from None
    except (ValueError, TypeError) as exc:  # an array of a type torch cannot hold
        raise CheckpointError(
            f"{weights}: weights do not fit model {meta['model_name']!r} ({_first_line(exc)})"
        ) from None
    return meta


def _read_safetensors(file: Path) -> dict:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="pt") as f:  # tensors and a JSON header only: nothing runs
            header = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{file} is not a readable safetensors file ({_first_line(exc)})") from None
    if SAFETENSORS_KEY not in header:
        raise CheckpointError(
            f"{file} has no cifarbench metadata (model, classes, normalisation); export it with `cifarbench export`"
        )
    try:
        meta = json.loads(header[SAFETENSORS_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{file}: its cifarbench metadata is not JSON ({_first_line(exc)})") from None
    check_metadata(file, meta)
    meta["model"] = weights
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
