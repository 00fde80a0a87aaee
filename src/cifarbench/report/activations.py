"""What a trained network computes on one image: each chosen layer's feature maps as a grid,
and how sparse each layer's output is (`cifarbench activations`).

Forward hooks read the outputs of named modules during one eval-mode forward pass; nothing
about the model changes. Sparsity is the share of output values at or below zero, which is
the share of zeros after a ReLU (a layer that ends in ReLU gives exactly its share of zeros;
for GELU networks such as airbench it is the share a ReLU would have zeroed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cifarbench.data.prepare import load_configured_dataset, test_split_of
from cifarbench.errors import UserError
from cifarbench.eval.inference import LoadedModel, normalised, read_image
from cifarbench.plots.charts import plt, save_figure

MAX_CHANNELS_SHOWN = 64


@dataclass
class LayerActivation:
    name: str
    maps: torch.Tensor  # (C, H, W) float32 on the CPU
    sparsity: float

    @property
    def channels(self) -> int:
        return self.maps.shape[0]

    @property
    def resolution(self) -> str:
        return f"{self.maps.shape[1]}x{self.maps.shape[2]}"


def feature_layers(model: torch.nn.Module, example: torch.Tensor) -> list[str]:
    """The default layers: the top-level children whose output is a feature map (N, C, H, W);
    where fewer than two are (LeNet's `features` block ends in a flatten), the layers inside the blocks."""

    def four_d(children: list[tuple[str, torch.nn.Module]]) -> list[str]:
        dims: dict[str, int] = {}
        hooks = [
            child.register_forward_hook(lambda m, i, o, name=name: dims.__setitem__(name, o.dim()))
            for name, child in children
        ]
        try:
            with torch.no_grad():
                model.eval()
                model(example)
        finally:
            for h in hooks:
                h.remove()
        return [name for name, _ in children if dims.get(name) == 4]

    top = four_d(list(model.named_children()))
    if len(top) > 1:
        return top
    inner = [
        (f"{outer}.{name}", child) for outer, block in model.named_children() for name, child in block.named_children()
    ]
    return four_d(inner) or top


@torch.no_grad()
def capture(model: torch.nn.Module, image: torch.Tensor, layers: list[str]) -> list[LayerActivation]:
    """One forward pass of a normalised (1, C, H, W) image; the outputs of `layers`."""
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules or name == ""]
    if unknown:
        shown = ", ".join(n for n in modules if n and "." not in n)
        raise UserError(
            f"layer {unknown[0]!r} is not in the model; its top-level layers are: {shown} "
            "(nested ones by dotted name, e.g. layer1.0)"
        )
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        modules[name].register_forward_hook(
            # a copy: a later in-place activation would otherwise change what was captured
            lambda m, i, o, name=name: outputs.__setitem__(
                name, o.detach().clone() if isinstance(o, torch.Tensor) else o
            )
        )
        for name in layers
    ]
    try:
        model.eval()
        model(image)
    finally:
        for h in hooks:
            h.remove()
    result = []
    for name in layers:
        out = outputs.get(name)
        if not isinstance(out, torch.Tensor) or out.dim() != 4:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise UserError(f"layer {name!r} outputs {shape}, not feature maps (N, C, H, W)")
        maps = out[0].float().cpu()
        result.append(LayerActivation(name, maps, float((maps <= 0).float().mean())))
    return result


def grid_figure(act: LayerActivation, path_without_suffix: Path) -> Path:
    """The first 64 channels, each scaled to its own range, in a near-square grid."""
    shown = act.maps[:MAX_CHANNELS_SHOWN].numpy()
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, fmap in zip(axes.flat, shown):
        lo, hi = float(fmap.min()), float(fmap.max())
        ax.imshow((fmap - lo) / (hi - lo) if hi > lo else np.zeros_like(fmap), cmap="viridis", vmin=0, vmax=1)
    more = f", first {MAX_CHANNELS_SHOWN} shown" if act.channels > MAX_CHANNELS_SHOWN else ""
    fig.suptitle(f"{act.name}: {act.channels} channels, {act.resolution}{more}; sparsity {act.sparsity:.1%}")
    fig.tight_layout()
    return save_figure(fig, path_without_suffix, formats=("png",))[0]


def input_image(loaded: LoadedModel, image_path: str | None, index: int | None) -> tuple[torch.Tensor, str]:
    """The uint8 (C, H, W) image to look at and a description: a file, or the test split's image `index`."""
    if image_path is not None:
        return read_image(image_path, loaded.shape), str(image_path)
    test = test_split_of(loaded.config, load_configured_dataset(loaded.config, quiet=True))
    index = 0 if index is None else index
    if not 0 <= index < len(test):
        raise UserError(f"--index {index} is outside the test split (0 to {len(test) - 1})")
    label = loaded.classes[int(test.labels[index])]
    return test.images[index], f"test image {index} (a {label})"


def activations(
    loaded: LoadedModel,
    out_dir: str | Path | None,
    layers: list[str] | None = None,
    image_path: str | None = None,
    index: int | None = None,
    source: str | Path | None = None,
) -> tuple[list[LayerActivation], list[Path], str]:
    """Grids of the chosen layers' feature maps for one image, written to `out_dir` (default:
    `activations/` in the run folder of `source`, the run folder or checkpoint loaded)."""
    if out_dir is None:
        assert source is not None, "activations() needs out_dir or the source to write beside"
        source = Path(source)
        out_dir = (source if source.is_dir() else source.parent) / "activations"
    out_dir = Path(out_dir)
    raw, described = input_image(loaded, image_path, index)
    x = normalised(loaded, raw.unsqueeze(0))
    layers = layers or feature_layers(loaded.model, x)
    captured = capture(loaded.model, x, layers)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [grid_figure(act, out_dir / act.name.replace(".", "_")) for act in captured]
    return captured, paths, described


def activation_table(captured: list[LayerActivation], paths: list[Path], described: str):
    """Title, columns and rows of the table `cifarbench activations` prints."""
    return (
        f"activations of {described}",
        ["layer", "channels", "resolution", "sparsity (<= 0)", "grid"],
        [[a.name, a.channels, a.resolution, f"{a.sparsity:.1%}", str(path)] for a, path in zip(captured, paths)],
    )
