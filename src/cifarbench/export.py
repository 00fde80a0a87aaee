"""`cifarbench export`: a trained model in the formats other tools load.

    safetensors   the weights, plus (in the header) the model name, class names, normalisation,
                  input shape and config: `cifarbench eval` and `predict` take the file as is
    onnx          a graph for onnxruntime and friends (the [onnx] extra checks it)
    torchscript   a traced module for torch.jit.load, no cifarbench needed

The ONNX and TorchScript graphs take what an image file gives: float32 (N, C, H, W) pixels
scaled to [0, 1] (pixel / 255); the run's normalisation is inside the graph, so a user does not
need the dataset's mean and std. The batch dimension is dynamic. An MLX run exports through the
PyTorch twin of its model (checkpoints.py converts the weights exactly).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cifarbench.checkpoints import checkpoint_file, load_checkpoint, save_safetensors
from cifarbench.errors import ConfigError, UserError
from cifarbench.eval.inference import LoadedModel, model_from_checkpoint
from cifarbench.files import atomic_file

FORMATS = {"safetensors": ".safetensors", "onnx": ".onnx", "torchscript": ".torchscript.pt"}
META_KEYS = ("framework", "model_name", "config", "data")  # what a checkpoint carries for inference


class PixelsToLogits(nn.Module):
    """The trained model behind its own normalisation: [0, 1] pixels in, logits out."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model((pixels - self.mean) / self.std)


def for_export(loaded: LoadedModel) -> PixelsToLogits:
    return PixelsToLogits(loaded.model.float().cpu().eval(), loaded.mean, loaded.std).eval()


def default_output(source: str | Path, fmt: str) -> Path:
    """Beside the run's checkpoint: <run>/export/model<suffix>, or <file stem><suffix>."""
    source = Path(source)
    if source.is_dir():
        return source / "export" / f"model{FORMATS[fmt]}"
    return source.with_name(source.name.split(".")[0] + FORMATS[fmt])


def export(source: str | Path, fmt: str, out: str | Path | None = None) -> Path:
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Path(out) if out else default_output(source, fmt)
    if out.resolve() == checkpoint_file(source).resolve():
        raise UserError(f"the output {out} is the checkpoint being exported; choose another -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(source)  # read once: the weights are checked against the model, then written
    loaded = model_from_checkpoint(ckpt, source, device="cpu")
    if fmt == "safetensors":
        save_safetensors(loaded.model.state_dict(), {k: ckpt[k] for k in META_KEYS if k in ckpt}, out)
        return out
    wrapped = for_export(loaded)
    example = torch.rand(2, *loaded.shape)
    with atomic_file(out, suffix=out.suffix) as tmp:
        if fmt == "onnx":
            _export_onnx(wrapped, example, tmp)
        else:
            with torch.no_grad():
                torch.jit.save(torch.jit.trace(wrapped, example), str(tmp))
    return out


def _export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx writes through it)
    except ImportError:
        raise UserError("--format onnx needs the onnx package: pip install 'cifarbench[onnx]'") from None
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["pixels"],
        output_names=["logits"],
        dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
