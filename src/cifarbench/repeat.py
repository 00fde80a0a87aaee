"""N seeded runs of one config, and their statistics (as the airbench paper reports: mean,
standard deviation and a 95% confidence interval over n runs).

    runs/<time>-<dataset>-<model>-x<N>-<id>/
        summary.json  summary.md
        <time>-seed0-<id>/ ...   one complete run directory per seed

Where the runs happen:
    --runs N              one after another in this process
    --runs N --jobs K     K worker processes here, each on its block of the CPU cores (and its own
                          GPU where there are several), taking seeds i, i+K, ...
    torchrun ... train --runs N
                          each torchrun process takes its share of the seeds as independent runs
                          (no DDP: a process group only to agree on the folder and gather results);
                          rank 0 writes the summary
The summary is the same in every case: per-run records, sorted by seed. A seed gives the same
run whatever K at the same threads per run: by default K workers split the cores, so a run has
fewer threads (and sums in another order) as K grows; fix hardware.threads to compare bit for bit.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import torch

from cifarbench.api import RunResult, train
from cifarbench.config import RunConfig
from cifarbench.data.custom import folder_label
from cifarbench.devices import core_blocks, pin_to_cores
from cifarbench.errors import ConfigError
from cifarbench.files import atomic_write_json, atomic_write_text, new_folder
from cifarbench.results import summarise
from cifarbench.tables import markdown_table, percent
from cifarbench.training import distributed


@dataclass
class RepeatResult:
    folder: Path
    runs: list[RunResult]  # the runs trained in this process (none when workers or other ranks trained them)
    summary: dict | None  # None on torchrun ranks other than 0


def timed_seconds(result: RunResult) -> float:
    """Time as airbench counts it: data-dependent init + training + the final (TTA) evaluation."""
    return result.run_log["train_seconds"] + result.run_log["final_eval_seconds"]


def seeded(config: RunConfig, folder: Path, seed: int, device: str | None = None) -> RunConfig:
    train_section = dataclasses.replace(config.train, seed=seed)
    hardware = dataclasses.replace(config.hardware, device=device) if device else config.hardware
    return dataclasses.replace(config, runs_dir=str(folder), name=f"seed{seed}", train=train_section, hardware=hardware)


def run_record(result: RunResult) -> dict:
    """What the summary needs of one run (small enough to pass between processes)."""
    log = result.run_log
    return {
        "seed": log["seed"],
        "test_accuracy": result.metrics["accuracy"],
        "train_seconds": log["train_seconds"],
        "timed_seconds": timed_seconds(result),
        "run_dir": result.run.path.name,
        "device": log["device"],
        "precision": log["precision"],
    }


def train_repeated(config: RunConfig, runs: int, *, quiet: bool = False, argv=None, jobs: int = 1) -> RepeatResult:
    if runs < 1:
        raise ConfigError(f"--runs {runs} must be at least 1")
    if jobs < 1 or jobs > runs:
        raise ConfigError(f"--jobs {jobs} must be between 1 and the {runs} runs")
    seeds = [config.train.seed + i for i in range(runs)]
    if distributed.torchrun_ranks()[1] > 1:
        if jobs != 1:
            raise ConfigError("--jobs starts processes of its own; under torchrun the processes are torchrun's")
        return _under_torchrun(config, seeds, quiet, argv)
    folder = new_folder(Path(config.runs_dir), f"{folder_label(config.data.dataset)}-{config.model.name}-x{runs}")
    if jobs == 1:
        results = [train(seeded(config, folder, seed), quiet=quiet, argv=argv) for seed in seeds]
        records = [run_record(r) for r in results]
    else:
        results, records = [], _in_workers(config, folder, seeds, jobs, argv)
    summary = write_summary(config, folder, records)
    return RepeatResult(folder, results, summary)


def write_summary(config: RunConfig, folder: Path, records: list[dict]) -> dict:
    records = sorted(records, key=lambda r: r["seed"])
    summary = {
        "recipe": config.recipe,
        "dataset": config.data.dataset,
        "model": config.model.name,
        "runs": len(records),
        "seeds": [r["seed"] for r in records],
        "device": records[0]["device"],
        "precision": records[0]["precision"],
        "test_accuracy": summarise([r["test_accuracy"] for r in records]),
        "train_seconds": summarise([r["train_seconds"] for r in records]),
        "timed_seconds": summarise([r["timed_seconds"] for r in records]),
        "run_dirs": [r["run_dir"] for r in records],
    }
    atomic_write_json(summary, folder / "summary.json")
    atomic_write_text(summary_markdown(summary), folder / "summary.md")
    return summary


def _device_for(config: RunConfig, index: int) -> str | None:
    """One GPU per worker where there are several CUDA devices and the run would use CUDA."""
    if config.hardware.device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return f"cuda:{index % torch.cuda.device_count()}"
    return None


def _worker(config: RunConfig, folder: Path, seeds: list[int], cores: list[int], device: str | None, argv, out) -> None:
    pin_to_cores(cores)
    out.put([run_record(train(seeded(config, folder, seed, device), quiet=True, argv=argv)) for seed in seeds])


def _in_workers(config: RunConfig, folder: Path, seeds: list[int], jobs: int, argv) -> list[dict]:
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no threads or CUDA state inherited
    out = context.Queue()
    workers = [
        context.Process(target=_worker, args=(config, folder, seeds[i::jobs], cores, _device_for(config, i), argv, out))
        for i, cores in enumerate(core_blocks(jobs, config.hardware.threads))
    ]
    for w in workers:
        w.start()
    records = [r for _ in workers for r in out.get()]  # read before join: a full queue would block the worker
    for w in workers:
        w.join()
    return records


def _under_torchrun(config: RunConfig, seeds: list[int], quiet: bool, argv) -> RepeatResult:
    import torch.distributed as dist

    rank, world, local_rank, local_world = distributed.torchrun_ranks()
    if world > len(seeds):
        raise ConfigError(f"{world} torchrun processes for {len(seeds)} runs: give --runs at least {world}")
    distributed.init_process_group("gloo")  # to agree on the folder and gather the records, never for gradients
    try:
        name = f"{folder_label(config.data.dataset)}-{config.model.name}-x{len(seeds)}"
        box = [str(new_folder(Path(config.runs_dir), name)) if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        assert box[0] is not None  # rank 0's folder, broadcast to every rank
        folder = Path(box[0])
        pin_to_cores(core_blocks(local_world, config.hardware.threads)[local_rank])
        device = (
            f"cuda:{local_rank}" if config.hardware.device in ("auto", "cuda") and torch.cuda.is_available() else None
        )
        with distributed.independent_runs():
            results = [
                train(seeded(config, folder, seed, device), quiet=quiet or rank > 0, argv=argv)
                for seed in seeds[rank::world]
            ]
        gathered: list = [None] * world
        dist.all_gather_object(gathered, [run_record(r) for r in results])
    finally:
        dist.destroy_process_group()
    summary = write_summary(config, folder, [r for part in gathered for r in part]) if rank == 0 else None
    return RepeatResult(folder, results, summary)


def summary_markdown(s: dict) -> str:
    acc, t = s["test_accuracy"], s["timed_seconds"]
    rows = [
        [
            "test accuracy",
            *(percent(acc[k]) for k in ("mean", "std")),
            f"[{acc['ci95'][0]:.2%}, {acc['ci95'][1]:.2%}]",
            percent(acc["min"]),
            percent(acc["max"]),
        ],
        [
            "time, s (init + training + final eval)",
            *(f"{t[k]:.2f}" for k in ("mean", "std")),
            f"[{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}]",
            f"{t['min']:.2f}",
            f"{t['max']:.2f}",
        ],
    ]
    return "\n".join(
        [
            f"# {s['recipe']}: {s['model']} on {s['dataset']}, {s['runs']} seeded runs "
            f"({s['device']}, {s['precision']})",
            "",
            markdown_table(["measure", "mean", "std", "95% CI of the mean", "min", "max"], rows, align="lrrlrr"),
            f"Seeds: {', '.join(map(str, s['seeds']))}.",
            "",
        ]
    )
