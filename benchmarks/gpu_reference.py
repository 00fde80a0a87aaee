"""cifarbench's airbench recipes beside the reference scripts, on one CUDA GPU, on the same tensors.

    python benchmarks/gpu_reference.py --reference-dir PATH/TO/cifar10-airbench [--runs 10] [--data-dir D]

PATH holds KellerJordan/cifar10-airbench's `airbench94.py` and `airbench94_muon.py` (the reference
is not copied into this repository; clone it yourself; it needs torchvision). Both sides train on
the same tensors: real CIFAR-10 when cifarbench finds it (`--data-dir`, or its cache), else
synthetic data of CIFAR-10's shape (50,000 + 10,000 3x32x32 images), written for the reference in
its own `cifar10/{train,test}.pt` format. Each reference script runs as its authors time it: its
compiled model warmed up once, then N runs, each timed by its own CUDA events (whitening init,
training, TTA evaluation). cifarbench runs `airbench94` and `airbench94_muon` with --compile (the
warm-up before the clock, the compiled model reused across runs), timed the same way
(init + training + TTA evaluation). Prints time per run and accuracy side by side with the
ratio, and writes benchmarks/results/gpu-reference.json with the GPU's name.

Without CUDA it exits with a one-line reason (exit code 2).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import re
import statistics
import sys
from pathlib import Path

import torch

PAIRS = {"airbench94": "airbench94.py", "airbench94_muon": "airbench94_muon.py"}  # our recipe: reference script


def fail(message: str) -> None:
    print(f"gpu_reference: {message}", file=sys.stderr)
    raise SystemExit(2)


def write_reference_data(dataset, folder: Path) -> None:
    """cifar10/train.pt and test.pt as the reference's CifarLoader reads them: uint8 NHWC images,
    int64 labels, class names (what it saves from torchvision's CIFAR10)."""
    (folder / "cifar10").mkdir(parents=True, exist_ok=True)
    for name, split in (("train", dataset.train), ("test", dataset.test)):
        torch.save({"images": split.images.permute(0, 2, 3, 1).contiguous(), "labels": split.labels.clone(),
                    "classes": list(dataset.classes)}, folder / "cifar10" / f"{name}.pt")


def load_data(data_dir: str | None):
    from cifarbench.data.store import load_dataset
    from cifarbench.errors import DataError

    try:
        return load_dataset("cifar10", data_dir=data_dir, download=False, quiet=True), "cifar10"
    except DataError:
        return load_dataset("synthetic", shape=(3, 32, 32), num_classes=10, train_size=50_000, test_size=10_000,
                            seed=0), "synthetic 3x32x32"


def reference_time(printed: str) -> float:
    """The time_seconds column of the reference's final ("eval") row."""
    rows = [line for line in printed.splitlines() if re.search(r"\|\s*eval\s*\|", line)]
    if not rows:
        raise ValueError("no final 'eval' row in the reference's output")
    return float(rows[-1].strip().strip("|").split("|")[-1])


def run_reference(script: Path, workdir: Path, runs: int) -> list[dict]:
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    here, argv = os.getcwd(), sys.argv
    os.chdir(workdir)  # its CifarLoader reads cifar10/*.pt from the working folder
    sys.argv = [str(script)]  # it reads its own source through sys.argv[0]
    try:
        spec.loader.exec_module(module)
        model = module.CifarNet().cuda().to(memory_format=torch.channels_last)
        model.compile(mode="max-autotune")
        with contextlib.redirect_stdout(io.StringIO()):
            module.main("warmup", model)
        out = []
        for run in range(runs):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                accuracy = module.main(run, model)
            accuracy = accuracy[0] if isinstance(accuracy, tuple) else accuracy
            out.append({"seconds": reference_time(printed.getvalue()), "accuracy": float(accuracy)})
        return out
    finally:
        os.chdir(here)
        sys.argv = argv


def run_cifarbench(recipe: str, data_dir: str | None, synthetic: bool, runs: int, runs_dir: Path) -> list[dict]:
    from cifarbench.repeat import timed_seconds, train_repeated
    from cifarbench.resolve import resolve_config

    data = ({"dataset": "synthetic", "synthetic_shape": [3, 32, 32], "synthetic_train_size": 50_000,
             "synthetic_test_size": 10_000} if synthetic else {"dataset": "cifar10", "data_dir": data_dir,
                                                                "download": False})
    config = resolve_config(recipe, {"data": data, "train": {"device": "cuda", "compile": True, "plots": False},
                                     "runs_dir": str(runs_dir)})
    train_repeated(config, 1, quiet=True)  # a warm-up run, as the reference makes one
    repeated = train_repeated(config, runs, quiet=True)
    return [{"seconds": timed_seconds(r), "accuracy": r.metrics["accuracy"]} for r in repeated.runs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference-dir", required=True, help="folder with airbench94.py and airbench94_muon.py")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--data-dir", help="where cifarbench finds CIFAR-10 (default: its cache; else synthetic data)")
    p.add_argument("--work-dir", default="runs/gpu-reference")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu-reference.json"))
    args = p.parse_args()
    if not torch.cuda.is_available():
        fail("needs a CUDA device (torch.cuda.is_available() is False here); the reference scripts are CUDA-only")
    reference_dir = Path(args.reference_dir)
    missing = [name for name in PAIRS.values() if not (reference_dir / name).is_file()]
    if missing:
        fail(f"--reference-dir {reference_dir} has no {', '.join(missing)} (clone KellerJordan/cifar10-airbench)")
    if args.runs < 1:
        fail(f"--runs {args.runs} must be at least 1")
    from cifarbench.results import print_table, summarise, write_result

    dataset, data_name = load_data(args.data_dir)
    work = Path(args.work_dir).resolve()
    write_reference_data(dataset, work)
    results, rows = {}, []
    for recipe, script in PAIRS.items():
        ours = run_cifarbench(recipe, args.data_dir, data_name != "cifar10", args.runs, work / "cifarbench")
        theirs = run_reference((reference_dir / script).resolve(), work, args.runs)
        results[recipe] = {"cifarbench": ours, "reference": theirs}
        t_ours = statistics.fmean(r["seconds"] for r in ours)
        t_ref = statistics.fmean(r["seconds"] for r in theirs)
        a_ours = summarise([r["accuracy"] for r in ours])
        a_ref = summarise([r["accuracy"] for r in theirs])
        rows.append([recipe, f"{t_ref:.3f}", f"{a_ref['mean']:.2%}", f"{t_ours:.3f}", f"{a_ours['mean']:.2%}",
                     f"{t_ours / t_ref:.2f}x"])
    print_table(f"{torch.cuda.get_device_name(0)}, {data_name}, {args.runs} runs each (after one warm-up)",
                ["recipe", "reference s/run", "reference acc", "cifarbench s/run", "cifarbench acc",
                 "time ratio (ours / reference)"], rows)
    write_result(args.out, "gpu-reference", {"gpu": torch.cuda.get_device_name(0), "data": data_name,
                                             "runs": args.runs, "results": results}, torch.device("cuda"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
