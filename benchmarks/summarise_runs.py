"""Summarise finished run directories by recipe: final test accuracy and time, over their seeds.

    python benchmarks/summarise_runs.py RUNS_DIR [--out benchmarks/results/NAME.json]

Reads only the run directories (run_log.json, config.yaml): each group is one recipe, model and
epoch count; time is whitening init + training (train_seconds) and the final evaluation with the
recipe's TTA (final_eval_seconds), as airbench counts it. The JSON carries the machine of the
runs (their own fingerprint), not of the machine that summarises them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from cifarbench.files import atomic_write_json, utc_now
from cifarbench.fingerprint import fingerprint_fields
from cifarbench.results import print_table, summarise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs_dir")
    p.add_argument("--out")
    args = p.parse_args()
    groups: dict[tuple, list[dict]] = {}
    machine = None
    for log_path in sorted(Path(args.runs_dir).glob("*/run_log.json")):
        log = json.loads(log_path.read_text())
        if log.get("status") != "completed":
            continue
        config = yaml.safe_load((log_path.parent / "config.yaml").read_text())
        key = (log["recipe"], log["model"], config["train"]["epochs"], log["dataset"])
        groups.setdefault(key, []).append(log)
        machine = machine or {k: log.get(k) for k in fingerprint_fields() if k in log}
    rows, out = [], []
    for (recipe, model, epochs, dataset), logs in groups.items():
        whole = [g["train_seconds"] + g["final_eval_seconds"] for g in logs]
        entry = {"recipe": recipe, "model": model, "epochs": epochs, "dataset": dataset,
                 "seeds": [g["seed"] for g in logs],
                 "test_accuracy": summarise([g["test_accuracy"] for g in logs]),
                 "train_seconds": summarise([g["train_seconds"] for g in logs]),
                 "final_eval_seconds": summarise([g["final_eval_seconds"] for g in logs]),
                 "whole_run_seconds": summarise(whole)}
        out.append(entry)
        acc = entry["test_accuracy"]
        rows.append([recipe, model, f"{epochs:g}", len(logs), f"{acc['mean']:.2%} ({acc['min']:.2%}-{acc['max']:.2%})",
                     entry["train_seconds"]["mean"], entry["final_eval_seconds"]["mean"],
                     entry["whole_run_seconds"]["mean"]])
    print_table(f"runs in {args.runs_dir}", ["recipe", "model", "epochs", "seeds", "test accuracy (min-max)",
                                             "training s", "final eval s", "whole run s"], rows)
    if args.out:
        atomic_write_json({"benchmark": "run-summary", "time": utc_now(), "command": sys.argv, "machine": machine,
                           "groups": out}, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
