"""The README's picture: validation accuracy against training seconds for the planner's schedules,
the fixed CPU recipes and a plain baseline, one panel per CPU measured, drawn from the side-by-side
sittings' JSON (benchmarks/time_to_accuracy.py) and naming each machine from its own fingerprint.

    python benchmarks/readme_figure.py            # writes docs/images/accuracy-vs-seconds.png
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITTINGS = ("time-to-accuracy-fashion-mnist-avx2-family23.json", "time-to-accuracy-fashion-mnist-avx2.json")
OUT = ROOT / "docs" / "images" / "accuracy-vs-seconds.png"


def machine_of(info: dict) -> str:
    """The CPU as the JSON records it; what it does not record is said, not guessed."""
    isa = "+".join(info.get("cpu_isa") or []) or "instruction sets not recorded"
    return f"{info.get('cpu_model', 'CPU not recorded')}, {info.get('cpu_id') or 'cpu_id not recorded'} ({isa})"


def curve(result: dict) -> tuple[list[float], list[float]]:
    """The seeds' mean (training seconds, validation accuracy) at each check, over the checks every
    seed reached."""
    seeds = [s["points"] for s in result["seeds"]]
    n = min(len(points) for points in seeds)
    return ([sum(p[i]["train_seconds"] for p in seeds) / len(seeds) for i in range(n)],
            [sum(p[i]["accuracy"] for p in seeds) / len(seeds) for i in range(n)])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cifarbench.training.recipes import RENAMED

    fig, axes = plt.subplots(1, len(SITTINGS), figsize=(6.2 * len(SITTINGS), 4.6), sharey=True)
    colours: dict[str, str] = {}  # one colour a contender, the same in every panel
    for ax, name in zip(axes, SITTINGS):
        data = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        for label, result in data["results"].items():
            if any("points" not in s for s in result["seeds"]):
                continue  # a refused plan (a target above the frontier) drew no curve
            xs, ys = curve(result)
            shown = RENAMED.get(label, (label,))[0]
            if shown not in colours:
                palette = [f"C{i}" for i in range(10) if i != 7]  # C7 is grey, the baseline's
                colours[shown] = "grey" if label == data["baseline"] else palette[len(colours) % len(palette)]
            style = {"lw": 2.2} if label.startswith("plan") else ({"ls": "--"} if label == data["baseline"]
                                                                   else {"lw": 1.2})
            ax.plot(xs, [100 * y for y in ys], marker=".", label=shown, color=colours[shown], **style)
        torch = data["machine"].get("torch", "?")
        ax.set_title(f"{machine_of(data['machine'])}\ntorch {torch}, {data['dataset']}, 3 seeds", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel("training seconds (the clock paused while checking)")
        ax.grid(alpha=0.3)
        ax.set_ylim(85, 94)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("validation accuracy, %")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()
