"""The hybrid predictive trainer against its controls, on Fashion-MNIST (real data) on this CPU.

    python benchmarks/hybrid.py [--seeds 3] [--epochs 2] [--target 0.85] [--every 125]

Same recipe (lenet-small-onecycle), data order, batch and device for every configuration;
each (configuration, seed) trains in its own process. Configurations:

    plain                   the plain trainer
    hybrid-conservative     --trainer hybrid --hybrid-preset conservative
    hybrid-aggressive       --trainer hybrid --hybrid-preset aggressive
    freeze                  conservative with alpha = 0 (predicted steps change nothing)
    plain-matched           the plain trainer given only as many steps as the conservative
                            hybrid's backward calls (mean over seeds), at the same max lr
    plain-matched-scaled    the same, its max lr scaled by steps / backward calls
    passive                 the plain trainer with the divergence detector watching: its
                            alarms on a healthy run are the detector's false-alarm rate

Reported (mean and spread over seeds): wall-clock training time to the target test accuracy
(test accuracy evaluated every --every steps with the clock paused) and at the end, final test
accuracy and cross-entropy, backward reduction = predicted / all steps (counted where the
backward runs), divergences, false alarms, and peak memory (RSS). Peak memory cannot be lower
than the plain trainer's: the hybrid keeps m, a snapshot and the optimizer state on top.
A speedup is claimed only where the hybrid reaches the target sooner than every control.
Results: benchmarks/results/hybrid-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CONFIGS = ("plain", "hybrid-conservative", "hybrid-aggressive", "freeze", "plain-matched", "plain-matched-scaled",
           "passive")
RECIPE = "lenet-small-onecycle"


def overrides_for(name: str, args, matched_fraction: float | None) -> dict:
    train = {"device": args.device, "epochs": args.epochs, "eval_every": 10_000, "plots": False}
    out: dict = {"data": {"dataset": "fashion-mnist"}, "train": train, "runs_dir": args.runs_dir}
    if name.startswith("hybrid-"):
        train["trainer"] = "hybrid"
        out["hybrid"] = {"preset": name.split("-", 1)[1]}
    elif name == "freeze":
        train["trainer"] = "hybrid"
        out["hybrid"] = {"preset": "conservative", "alpha": 0.0}
    elif name == "passive":
        train["trainer"] = "hybrid"
        out["hybrid"] = {"preset": "conservative", "passive": True}
    elif name.startswith("plain-matched"):
        train["epochs"] = args.epochs * matched_fraction
        if name.endswith("scaled"):
            from cifarbench.resolve import resolve_config

            max_lr = resolve_config(RECIPE, {}).schedule.max_lr
            out["schedule"] = {"max_lr": max_lr / matched_fraction}
    return out


def run_one(spec: dict) -> dict:
    """In a fresh process: train one configuration with one seed and report what was measured."""
    from cifarbench.api import train
    from cifarbench.config import merge
    from cifarbench.devices import peak_memory_bytes
    from cifarbench.resolve import resolve_config
    from cifarbench.training.time_to_accuracy import PeriodicEval, first_reached

    config = resolve_config(RECIPE, merge(spec["overrides"], {"train": {"seed": spec["seed"]}}))
    probe = PeriodicEval(spec["every"])
    result = train(config, quiet=True, callbacks=[probe])
    log = result.run_log
    hybrid = log.get("hybrid", {})
    return {"config": spec["name"], "seed": spec["seed"], "steps": log["steps"],
            "time_to_target": first_reached(probe.points, [spec["target"]])[spec["target"]],
            "train_seconds": log["train_seconds"], "test_accuracy": result.metrics["accuracy"],
            "test_loss": result.metrics["loss"], "backward_calls": hybrid.get("backward_calls", log["steps"]),
            "predicted_steps": hybrid.get("predicted_steps", 0), "divergences": hybrid.get("divergences", 0),
            "detector_alarms": hybrid.get("detector_alarms"), "detector_windows": hybrid.get("detector_windows"),
            "confidence": hybrid.get("confidence"), "peak_rss_bytes": peak_memory_bytes(__import__("torch").device("cpu")),
            "points": probe.points, "run": result.run.path.name}


def spawn(spec: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{spec['name']} seed {spec['seed']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "min": None, "max": None, "reached": 0}
    return {"mean": statistics.mean(present), "min": min(present), "max": max(present), "reached": len(present)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--target", type=float, default=0.85, help="test accuracy target")
    p.add_argument("--every", type=int, default=125, help="evaluate test accuracy every N steps")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default="runs/hybrid")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "hybrid-cpu.json"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return

    from cifarbench.results import print_table, write_result

    names = args.configs.split(",")
    runs: dict[str, list[dict]] = {}
    matched = None
    for name in names:
        if name.startswith("plain-matched"):
            if "hybrid-conservative" not in runs:
                raise SystemExit("plain-matched needs hybrid-conservative first in --configs")
            h = runs["hybrid-conservative"]
            matched = statistics.mean(r["backward_calls"] / r["steps"] for r in h)
        overrides = overrides_for(name, args, matched)
        runs[name] = [spawn({"name": name, "seed": s, "overrides": overrides, "every": args.every,
                             "target": args.target}) for s in range(args.seeds)]
        print(f"{name}: done", file=sys.stderr)

    rows, summary = [], {}
    for name, rs in runs.items():
        s = {"time_to_target": spread([r["time_to_target"] for r in rs]),
             "train_seconds": spread([r["train_seconds"] for r in rs]),
             "test_accuracy": spread([r["test_accuracy"] for r in rs]),
             "test_loss": spread([r["test_loss"] for r in rs]),
             "backward_reduction": spread([r["predicted_steps"] / r["steps"] for r in rs]),
             "divergences": spread([r["divergences"] for r in rs]),
             "false_alarm_rate": spread([r["detector_alarms"] / r["detector_windows"] for r in rs
                                         if name == "passive" and r["detector_windows"]]),
             "peak_rss_mib": spread([r["peak_rss_bytes"] / 2**20 for r in rs])}
        summary[name] = s
        ttt = s["time_to_target"]
        rows.append([name, f"{ttt['mean']:.1f} ({ttt['reached']}/{len(rs)})" if ttt["mean"] is not None else
                     f"not reached (0/{len(rs)})", f"{s['train_seconds']['mean']:.1f}",
                     f"{s['test_accuracy']['mean']:.2%} [{s['test_accuracy']['min']:.2%}-{s['test_accuracy']['max']:.2%}]",
                     f"{s['test_loss']['mean']:.4f}", f"{s['backward_reduction']['mean']:.1%}",
                     f"{s['divergences']['mean']:.1f}",
                     f"{s['false_alarm_rate']['mean']:.1%}" if s["false_alarm_rate"]["mean"] is not None else "–",
                     f"{s['peak_rss_mib']['mean']:.0f}"])
    print_table(f"hybrid vs controls: {RECIPE}, Fashion-MNIST, {args.epochs:g} epochs, {args.seeds} seeds, "
                f"target {args.target:.0%}", ["config", "s to target (seeds)", "train s", "test acc [min-max]",
                                               "test loss", "backward saved", "divergences", "false alarms",
                                               "peak RSS MiB"], rows)
    verdict = None
    if "hybrid-conservative" in summary or "hybrid-aggressive" in summary:
        controls = [n for n in summary if not n.startswith("hybrid-") and n != "passive"]
        best_control = min((summary[n]["time_to_target"]["mean"] for n in controls
                            if summary[n]["time_to_target"]["reached"] == args.seeds), default=None)
        verdict = {}
        for name in (n for n in summary if n.startswith("hybrid-")):
            t = summary[name]["time_to_target"]
            faster = (t["reached"] == args.seeds and (best_control is None or t["mean"] < best_control))
            verdict[name] = {"speedup_claimed": faster, "time_to_target": t["mean"], "best_control": best_control}
            print(f"{name}: speedup {'CLAIMED' if faster else 'not claimed'} (its time to target "
                  f"{t['mean'] if t['mean'] is None else round(t['mean'], 1)} s; best control {best_control and round(best_control, 1)} s)")
    write_result(args.out, "hybrid", {"recipe": RECIPE, "epochs": args.epochs, "seeds": args.seeds,
                                      "target": args.target, "every": args.every, "summary": summary,
                                      "verdict": verdict, "runs": runs})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
