"""`cifarbench report`, `plot`, `compare` and `activations`: reading finished runs."""

from __future__ import annotations

from cifarbench.cli.commands import command
from cifarbench.config import comma_list
from cifarbench.errors import UserError


def plot_options(p) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")


def activations_options(p) -> None:
    p.add_argument("source", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument(
        "--layers",
        type=comma_list,
        help="comma-separated module names, e.g. stem,layer1,layer2,layer3 for resnet18 (default: "
        "every top-level layer that outputs feature maps)",
    )
    p.add_argument("--image", help="an image file (PNG or JPEG), converted and resized to the model's input")
    p.add_argument("--index", type=int, help="the test split's image number I (default: 0)")
    p.add_argument("--output", "-o", help="folder for the grids (default: RUN_DIR/activations)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")


def compare_options(p) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")


def report_options(p) -> None:
    p.add_argument("runs_dir", metavar="RUNS_DIR")
    p.add_argument("--output", "-o", required=True, metavar="OUT")
    p.add_argument("--targets", metavar="YAML", help="accuracy targets to judge (see the description)")


@command(
    "plot",
    "draw a run's training curves, per-class accuracy and confusion matrices",
    options=plot_options,
    example=("run-dir",),
)
def cmd_plot(args) -> int:
    from cifarbench.plots.run import plot_run
    from cifarbench.runs import RunDir

    for path in plot_run(RunDir.open(args.run_dir)):
        print(path)
    return 0


@command(
    "activations",
    "feature maps of chosen layers for one image, and each layer's sparsity",
    options=activations_options,
    example=("run-dir",),
    description="One eval-mode forward pass with forward hooks: a grid PNG per layer (first 64 channels, each "
    "scaled to its own range) and a table of each layer's sparsity, the share of its output values "
    "<= 0 (zeros after a ReLU).",
)
def cmd_activations(args) -> int:
    from cifarbench.eval.inference import load_model
    from cifarbench.report.activations import activation_table, activations
    from cifarbench.results import print_table

    if args.image is not None and args.index is not None:
        raise UserError("give --image or --index, not both")
    loaded = load_model(args.source, args.device)
    captured, paths, described = activations(
        loaded, args.output, args.layers, args.image, args.index, source=args.source
    )
    print_table(*activation_table(captured, paths, described))
    return 0


@command(
    "compare",
    "runs side by side: results, config differences, per-class deltas, machines",
    options=compare_options,
    example=("run-dir",),
    description="Markdown on stdout: results; the config fields "
    "that differ; per-class test accuracy with a "
    "delta column against the first run (top and "
    "bottom 10 past 20 classes); the "
    "hardware-fingerprint fields that differ.",
)
def cmd_compare(args) -> int:
    from cifarbench.report.compare import compare

    print(compare(args.run_dirs), end="")
    return 0


@command(
    "report",
    "RESULTS.md and a static HTML page with the charts, from a folder of runs",
    options=report_options,
    example=("runs", "-o", "out"),
    description="Reads every run directory under RUNS_DIR (safe while runs are "
    "still being written) and writes OUT/RESULTS.md, OUT/index.html "
    "(charts embedded) and OUT/images/. A targets YAML adds a met / "
    "not met table: targets: [{name: ..., dataset: fashion-mnist, "
    "model: lenet-small, accuracy: 0.90, seconds: 60}]",
)
def cmd_report(args) -> int:
    from cifarbench.report.results import build_report

    summary = build_report(args.runs_dir, args.output, args.targets)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary["statuses"].items()))
    print(f"{summary['runs']} runs ({statuses or 'none'}), {summary['images']} charts")
    print(summary["markdown"])
    print(summary["html"])
    return 0
