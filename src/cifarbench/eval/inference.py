"""Using a trained checkpoint: rebuild its model, evaluate it, classify image files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cifarbench.config import RunConfig
from cifarbench.data.loader import DeviceLoader
from cifarbench.devices import autocast, resolve_device, resolve_precision
from cifarbench.errors import CheckpointError, UserError
from cifarbench.eval.metrics import classification_metrics
from cifarbench.eval.tta import tta_logits
from cifarbench.models import build_model
from cifarbench.train.checkpoint import load_checkpoint


@dataclass
class LoadedModel:
    model: torch.nn.Module
    config: RunConfig
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    shape: tuple[int, int, int]
    device: torch.device


def load_model(path: str | Path, device: str = "auto") -> LoadedModel:
    """The checkpoint's model with its weights loaded strictly, in eval mode on `device`.

    A run trained with MLX (checkpoints/last.npz) is loaded into the PyTorch twin of its model
    (the weight layouts convert exactly; tests/test_mlx.py), so eval and predict need no MLX."""
    dev = resolve_device(device)
    mlx_weights = _mlx_checkpoint(Path(path))
    ckpt = _load_mlx_checkpoint(mlx_weights) if mlx_weights else load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    meta = ckpt["data"]
    c, h, _ = meta["shape"]
    model = build_model(ckpt["model_name"], num_classes=len(meta["classes"]), in_channels=c, image_size=h)
    try:
        model.load_state_dict(ckpt["model"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit model {ckpt['model_name']!r} "
                              f"({str(exc).splitlines()[0]})") from None
    return LoadedModel(model.to(dev).eval(), config, list(meta["classes"]), tuple(meta["mean"]), tuple(meta["std"]),
                       tuple(meta["shape"]), dev)


def _mlx_checkpoint(path: Path) -> Path | None:
    """The .npz weights of an MLX run directory or file, if `path` is one."""
    if path.suffix == ".npz" and path.is_file():
        return path
    candidate = path / "checkpoints" / "last.npz"
    if path.is_dir() and candidate.is_file() and not (path / "checkpoints" / "last.pt").is_file():
        return candidate
    return None


def _load_mlx_checkpoint(weights: Path) -> dict:
    """An MLX checkpoint as the dict load_checkpoint returns: metadata + PyTorch-layout weights."""
    import json

    from cifarbench.mlx.convert import mlx_to_torch

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


@torch.no_grad()
def evaluate_loaded(loaded: LoadedModel, images: torch.Tensor, labels: torch.Tensor, tta: int = 0,
                    batch_size: int = 1000) -> dict:
    from cifarbench.data.sources import Split

    if images.shape[1:] != torch.Size(loaded.shape):
        raise CheckpointError(f"the checkpoint's model takes {tuple(loaded.shape)} images, the data has "
                              f"{tuple(images.shape[1:])}")
    if int(labels.max()) >= len(loaded.classes):
        raise CheckpointError(f"the data has labels up to {int(labels.max())}, the checkpoint knows "
                              f"{len(loaded.classes)} classes")
    loader = DeviceLoader(Split(images, labels), loaded.mean, loaded.std, batch_size, loaded.device, shuffle=False)
    amp = resolve_precision(loaded.config.train.precision, loaded.device)
    logits = []
    for x, _ in loader.batches():
        with autocast(loaded.device, amp):
            logits.append(tta_logits(loaded.model, x, tta).float().cpu())
    all_logits = torch.cat(logits)
    metrics = classification_metrics(all_logits.numpy(), labels.numpy(), loaded.classes)
    metrics["loss"] = float(torch.nn.functional.cross_entropy(all_logits, labels))
    return metrics


def read_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as (C, H, W) uint8, converted to the model's channels and resized to its size."""
    from PIL import Image, UnidentifiedImageError

    c, h, w = shape
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path} is not an image file PIL can read (PNG or JPEG): {exc}") from None
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


@torch.no_grad()
def predict(loaded: LoadedModel, paths: list[str], top_k: int = 3) -> list[list[tuple[str, float]]]:
    """For each image, the top-k (class name, probability) pairs."""
    images = torch.stack([read_image(p, loaded.shape) for p in paths])
    mean = torch.tensor(loaded.mean).view(1, -1, 1, 1)
    std = torch.tensor(loaded.std).view(1, -1, 1, 1)
    x = ((images.float() / 255 - mean) / std).to(loaded.device)
    probs = torch.softmax(loaded.model(x).float(), dim=1).cpu()
    k = min(top_k, len(loaded.classes))
    values, indices = probs.topk(k, dim=1)
    return [[(loaded.classes[i], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values.tolist(), indices.tolist())]
