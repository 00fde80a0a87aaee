"""Using a trained checkpoint: rebuild its model, evaluate it, classify image files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cifarbench.checkpoints import load_checkpoint
from cifarbench.config import RunConfig
from cifarbench.data.dataset import Split
from cifarbench.data.loader import DeviceLoader, Normaliser
from cifarbench.devices import autocast, resolve_device, resolve_precision
from cifarbench.errors import CheckpointError, ConfigError, UserError
from cifarbench.eval.evaluate import evaluate
from cifarbench.eval.metrics import classification_metrics
from cifarbench.models import build_model_for
from cifarbench.models.configured import model_options


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

    A run trained with MLX is loaded into the PyTorch twin of its model (checkpoints.py converts
    the weights exactly; tests/test_mlx.py), so eval and predict need no MLX."""
    return model_from_checkpoint(load_checkpoint(path), path, device)


def model_from_checkpoint(ckpt: dict, path: str | Path, device: str = "auto") -> LoadedModel:
    """load_model's work on a checkpoint already read (`path` names it in errors)."""
    dev = resolve_device(device)
    meta = ckpt["data"]
    try:
        config = RunConfig.from_dict(ckpt["config"])
        model = build_model_for(
            ckpt["model_name"], tuple(meta["shape"]), len(meta["classes"]), **model_options(config.model)
        )
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    try:
        model.load_state_dict(ckpt["model"], strict=True)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: weights do not fit model {ckpt['model_name']!r} ({str(exc).splitlines()[0]})"
        ) from None
    return LoadedModel(
        model.to(dev).eval(),
        config,
        list(meta["classes"]),
        tuple(meta["mean"]),
        tuple(meta["std"]),
        tuple(meta["shape"]),
        dev,
    )


def evaluate_loaded(
    loaded: LoadedModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    tta: int = 0,
    batch_size: int = 1000,
    tta_share: float | None = None,
) -> dict:
    if images.shape[1:] != torch.Size(loaded.shape):
        raise CheckpointError(
            f"the checkpoint's model takes {tuple(loaded.shape)} images, the data has {tuple(images.shape[1:])}"
        )
    if int(labels.max()) >= len(loaded.classes):
        raise CheckpointError(
            f"the data has labels up to {int(labels.max())}, the checkpoint knows {len(loaded.classes)} classes"
        )
    loader = DeviceLoader(Split(images, labels), loaded.mean, loaded.std, batch_size, loaded.device, shuffle=False)
    amp = resolve_precision(loaded.config.hardware.precision, loaded.device).inference_dtype()
    result = evaluate(loaded.model, loader.batches(), tta, lambda: autocast(loaded.device, amp), tta_share)
    metrics = classification_metrics(result.logits.numpy(), labels.numpy(), loaded.classes)
    metrics["loss"] = result.loss
    if tta and tta_share is not None:
        metrics["tta_extra_view_share"] = result.extra_view_share
    return metrics


def normalised(loaded: LoadedModel, images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images as the model was trained to see them, on its device."""
    return Normaliser(loaded.mean, loaded.std, loaded.device)(images_uint8)


def read_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as (C, H, W) uint8, converted to the model's channels and resized to its size."""
    import warnings

    from PIL import Image

    c, h, w = shape
    if not Path(path).is_file():
        raise UserError(f"image {path} does not exist or is not a file")
    try:
        with warnings.catch_warnings():
            # PIL only warns between its two size limits; a huge image is refused, never decoded
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = img.convert("L" if c == 1 else "RGB")
                if img.size != (w, h):
                    img = img.resize((w, h), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken or hostile files
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"{path} is not an image file PIL can read (PNG or JPEG): {reason}") from None
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


@torch.no_grad()
def predict(loaded: LoadedModel, paths: list[str], top_k: int = 3) -> list[list[tuple[str, float]]]:
    """For each image, the top-k (class name, probability) pairs."""
    x = normalised(loaded, torch.stack([read_image(p, loaded.shape) for p in paths]))
    probs = torch.softmax(loaded.model(x).float(), dim=1).cpu()
    k = min(top_k, len(loaded.classes))
    values, indices = probs.topk(k, dim=1)
    return [
        [(loaded.classes[i], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values.tolist(), indices.tolist())
    ]
