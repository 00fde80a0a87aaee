"""`cifarbench bench ...` and `cifarbench compare-methods`: the same training measured side by
side on devices, world sizes, frameworks or recipes; every one takes the config options."""

from __future__ import annotations

from pathlib import Path

from cifarbench.cli.options import add_config_options, config_layers
from cifarbench.cli.parser import Parser, comma_list


def register(sub) -> None:
    from cifarbench.bench.methods import METHODS

    p = sub.add_parser("compare-methods", help="baseline resnet18 against airbench94/95/96: accuracy, time, speedup",
                       description="Train the baseline and each airbench recipe on the same data and device; "
                                   "write comparison.md and comparison.json. The config options apply to every "
                                   "method (default dataset: cifar10).")
    p.add_argument("--methods", type=comma_list, default=list(METHODS), metavar="R1,R2,...",
                   help=f"recipes to compare, the first is the baseline (default: {','.join(METHODS)})")
    p.add_argument("--quick", action="store_true",
                   help="2,000 training / 1,000 test images and a quarter of each recipe's epochs: a pipeline check")
    p.add_argument("--quiet", action="store_true", help="results only")
    add_config_options(p)
    p.set_defaults(func=cmd_compare_methods)

    bench = sub.add_parser("bench", help="benchmarks: devices, throughput, scaling, frameworks").add_subparsers(
        dest="bench", metavar="BENCHMARK", parser_class=Parser, required=True)
    p = bench.add_parser("devices", help="the same training on every available device: time, images/s, speedup",
                         description="Train the same recipe with the same data and seed on each device; one warm-up "
                                     "run, then timed repeats. Defaults: recipe airbench94, synthetic CIFAR-shaped "
                                     "data, 1 epoch; the config options change any of it.")
    p.add_argument("--devices", type=comma_list, metavar="D1,D2",
                   help="default: train.device when given, else every available device (cpu, cuda, mps)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per device (default 3)")
    add_config_options(p)
    p.set_defaults(func=cmd_bench_devices)

    p = bench.add_parser("scaling", help="the same training at several world sizes (torchrun, DDP): speedup, "
                                          "efficiency", description="Launch `torchrun --standalone --nproc_per_node=N "
                         "-m cifarbench train` for each N with the same global batch, recipe and seed; report time, "
                         "images/s, speedup, efficiency (speedup / N) and accuracy. Defaults: recipe "
                         "lenet-small-onecycle, synthetic CIFAR-shaped data, 1 epoch; train.device cpu runs Gloo, "
                         "cuda NCCL with one GPU per process. On one CPU the processes share its cores.")
    p.add_argument("--nproc", default="1,2", metavar="N1,N2,...", help="process counts (default 1,2)")
    p.add_argument("--repeats", type=int, default=1, help="runs per world size (default 1)")
    add_config_options(p)
    p.set_defaults(func=cmd_bench_scaling)

    p = bench.add_parser("frameworks", help="PyTorch and MLX on the same device class, data, weights and schedule",
                         description="Train the same recipe with PyTorch and with MLX (same splits, batches, "
                         "augmentation, initial weights and schedule); time per epoch (first epoch apart), images/s, "
                         "final loss, accuracy; table, JSON and chart. Defaults: small-resnet (MLX has small-resnet "
                         "and resnet18), 512 synthetic 3x32x32 images, 2 epochs, fp32 on the CPU; train.device "
                         "cuda or mps puts PyTorch on that GPU against MLX's.")
    add_config_options(p)
    p.set_defaults(func=cmd_bench_frameworks)

    p = bench.add_parser("throughput", help="training and inference images/s, FLOPs and peak memory per model",
                         description="Training and inference images/s of each model on synthetic inputs "
                                     "(data.synthetic_shape, data.synthetic_classes) at train.batch_size, "
                                     "train.precision and train.channels_last (default: batch 128, channels_last).")
    p.add_argument("--models", type=comma_list, metavar="M1,M2",
                   help="default: model.name when given, else every model in the zoo")
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (default 10)")
    add_config_options(p)
    p.set_defaults(func=cmd_bench_throughput)


def print_bench(result: dict) -> int:
    print((Path(result["folder"]) / "report.txt").read_text(), end="")
    print(f"report, JSON and chart in {result['folder']}")
    return 0


def cmd_compare_methods(args) -> int:
    from cifarbench.bench.methods import compare_methods

    summary = compare_methods(tuple(args.methods), config_layers(args), quick=args.quick, quiet=args.quiet)
    print((Path(summary["folder"]) / "comparison.md").read_text(), end="")
    print(f"runs in {summary['folder']}")
    return 0


def cmd_bench_devices(args) -> int:
    from cifarbench.bench.devices import bench_devices

    return print_bench(bench_devices(args.devices, config_layers(args), repeats=args.repeats, quiet=True))


def cmd_bench_scaling(args) -> int:
    from cifarbench.bench.scaling import bench_scaling, parse_nproc

    return print_bench(bench_scaling(parse_nproc(args.nproc), config_layers(args), repeats=args.repeats))


def cmd_bench_frameworks(args) -> int:
    from cifarbench.bench.frameworks import bench_frameworks
    from cifarbench.mlx import require_mlx

    require_mlx()
    return print_bench(bench_frameworks(config_layers(args)))


def cmd_bench_throughput(args) -> int:
    from cifarbench.bench.results import print_table
    from cifarbench.bench.throughput import bench_throughput, throughput_table

    result = bench_throughput(args.models, config_layers(args), steps=args.steps)
    print_table(*throughput_table(result))
    print(f"JSON and chart in {result['folder']}")
    return 0
