"""`cifarbench eval`, `predict` and `export`: what a trained model is used for."""

from __future__ import annotations

import json

from cifarbench.cli.commands import command
from cifarbench.cli.options import config_layers


def eval_options(p) -> None:
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")


def predict_options(p) -> None:
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=_at_least_one, default=3, metavar="K", help="classes shown per image (default 3)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")


def export_options(p) -> None:
    from cifarbench.export import FORMATS

    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--format", required=True, help="one of: " + ", ".join(FORMATS))
    p.add_argument("-o", "--output", metavar="FILE", help="default: <run>/export/model.<format suffix>")


def _at_least_one(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


@command(
    "eval",
    "evaluate a run directory or checkpoint on its test split",
    options=eval_options,
    config=True,
    example=("run-dir",),
    description="Evaluate a trained model on the test split of its dataset (or of another "
    "dataset with the same classes): per-class precision, recall, F1 and the "
    "most confused pairs. The checkpoint fixes the model and how it was "
    "trained; the options change the data section, hardware.device, train.tta "
    "(and tta_share) and train.eval_batch_size, and refuse the others.",
)
def cmd_eval(args) -> int:
    from cifarbench.api import evaluate
    from cifarbench.eval.metrics import classification_report

    metrics = evaluate(args.checkpoint, config_layers(args))
    print(json.dumps(metrics, indent=2) if args.json else classification_report(metrics), end="\n" if args.json else "")
    return 0


@command(
    "export",
    "write a run's model as safetensors, ONNX or TorchScript",
    options=export_options,
    example=("run-dir", "--format", "onnx"),
    description="safetensors: the weights, with the model name, class "
    "names, normalisation and input shape in its metadata "
    "(eval and predict take it). onnx and torchscript: a "
    "graph that takes float32 pixels in [0, 1], shape (N, "
    "C, H, W), normalises them itself and returns logits; "
    "onnx needs pip install 'cifarbench[onnx]'. MLX runs "
    "export through their PyTorch twin.",
)
def cmd_export(args) -> int:
    from cifarbench.export import export

    out = export(args.checkpoint, args.format, args.output)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.format})")
    return 0


@command(
    "predict",
    "classify image files (PNG or JPEG) with a checkpoint",
    options=predict_options,
    example=("run-dir", "image.png"),
)
def cmd_predict(args) -> int:
    from cifarbench.eval.inference import load_model, predict

    loaded = load_model(args.checkpoint, args.device)
    for path, top in zip(args.images, predict(loaded, args.images, args.top_k)):
        print(f"{path}: " + ", ".join(f"{name} {p:.1%}" for name, p in top))
    return 0
