"""Render the result tables of README.md and the docs pages from the JSON the benchmarks wrote, so
no figure in them is typed by hand.

    python benchmarks/readme_tables.py           # rewrite the tables in README.md and docs/**/*.md
    python benchmarks/readme_tables.py --check   # exit 1 if a page differs from its JSON (a test runs this)

Each table sits between `<!-- table: NAME -->` and `<!-- /table -->` in a page; NAME picks the
function below that renders it from its file in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

from cifarbench.training.recipes import RENAMED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"


def pages() -> list[Path]:
    """README.md and every docs page: where result tables may stand."""
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _pct_range(summary: dict) -> str:
    """An accuracy summary as 'mean (min–max)'."""
    return f"{_pct(summary['mean'])} ({summary['min'] * 100:.2f}–{summary['max'] * 100:.2f})"


def _secs_range(summary: dict) -> str:
    return f"{summary['mean']:.1f} ({summary['min']:.1f}–{summary['max']:.1f})"


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def reads(*names: str):
    """Mark a renderer with the results files it reads: a results page may only show a table whose
    files were measured on that page's CPU class (tests/test_results_pages.py)."""
    def mark(render):
        render.sources = names
        return render
    return mark


@reads("fashion-recipes-cpu.json")
def fashion_recipes() -> str:
    """fashion-recipes-cpu.json: each recipe's test accuracy and time over its seeds."""
    lines = ["| recipe | net, epochs | test accuracy, mean (min–max) | training s | final eval (TTA) s | whole run s |",
             "|---|---|---:|---:|---:|---:|"]
    labels = {"airbench94": "`airbench94` recipe", "cnn-adam": "`cnn-adam` (baseline, {n} seed{s})"}
    for g in _load("fashion-recipes-cpu.json")["groups"]:
        acc, n = g["test_accuracy"], g["test_accuracy"]["n"]
        recipe = RENAMED.get(g["recipe"], (g["recipe"],))[0]  # the results say the name the recipe had then
        label = labels.get(recipe, "`{recipe}`").format(recipe=recipe, n=n, s="" if n == 1 else "s")
        spread = f" ({acc['min'] * 100:.2f}–{acc['max'] * 100:.2f})" if n > 1 else ""
        lines.append(_row([label, f"{g['model']}, {g['epochs']:g}", _pct(acc["mean"]) + spread,
                           f"{g['train_seconds']['mean']:.1f}", f"{g['final_eval_seconds']['mean']:.1f}",
                           f"{g['whole_run_seconds']['mean']:.1f}"]))
    return "\n".join(lines) + "\n"


def cpu_fast_path(name: str, fraction: bool):
    def render() -> str:
        data = _load(name)["throughput"]
        settings = list(next(iter(data.values())))
        lines = [_row(["model", *settings]), "|---|" + "---:|" * len(settings)]
        for model, rows in data.items():
            cells = []
            for s in settings:
                r = rows[s]
                cell = f"{r['train_images_per_second']:,.1f}"
                if fraction:  # the share of the faster of the fp32 matmul and the setting's own
                    cell += f" ({r['train_fraction_of_peak']:.0%} of {r['matmul_peak_dtype']} peak)"
                cells.append(cell)
            lines.append(_row([model, *cells]))
        return "\n".join(lines) + "\n"

    render.__doc__ = f"{name}: training images/s of each model in each setting."
    return reads(name)(render)


@reads("fashion-cpu-frontier.json")
def frontier() -> str:
    """fashion-cpu-frontier.json: accuracy and time of each (net, epochs) point."""
    lines = ["| model (airbench94 recipe) | epochs | test accuracy | training s | TTA eval s |",
             "|---|---:|---:|---:|---:|"]
    for p in _load("fashion-cpu-frontier.json")["points"]:
        lines.append(_row([p["model"], f"{p['epochs']:g}", _pct(p["test_accuracy"]["mean"]),
                           f"{p['train_seconds']['mean']:.1f}", f"{p['final_eval_seconds']['mean']:.1f}"]))
    return "\n".join(lines) + "\n"


HYBRID_LABELS = {"plain": "plain", "hybrid-conservative": "hybrid, conservative", "hybrid-aggressive": "hybrid, aggressive",
                 "freeze": "freeze (α = 0)", "plain-matched": "plain, the hybrid's backward count, same lr",
                 "plain-matched-scaled": "plain, the hybrid's backward count, scaled lr",
                 "passive": "plain + passive detector"}


def ablation(folder: str):
    def render() -> str:
        from cifarbench.search.ablate import ablation_table

        return ablation_table(_load(f"{folder}/bench.json"))

    render.__doc__ = f"{folder}/bench.json: the ablation's rows, as its own report shows them."
    return reads(f"{folder}/bench.json")(render)


@reads()  # the planner's package data, not a results file: it may stand on any page
def planner_frontier() -> str:
    """src/cifarbench/planner/frontiers/fashion-mnist.json: the points the planner reads."""
    from cifarbench.planner.frontier import load_frontier

    def figure(acc: dict | None) -> list[str]:
        return [_pct_range(acc), str(acc["n"])] if acc else ["–", "–"]

    lines = ["| net (over `fashion-tiny-8ep`) | epochs | precision | validation accuracy, mean (min–max) | seeds "
             "| test accuracy, mean (min–max) | seeds |", "|---|---:|---|---:|---:|---:|---:|"]
    for p in sorted(load_frontier("fashion-mnist"), key=lambda p: (p.model != "airbench-tiny", p.epochs, p.precision)):
        lines.append(_row([p.model, f"{p.epochs:g}", p.precision, *figure(p.accuracy), *figure(p.test)]))
    return "\n".join(lines) + "\n"


def planned_runs(name: str, goals: tuple[str, ...] = ("budget", "target")):
    def render() -> str:
        data = _load(name)
        wall = any("wall_seconds" in g for g in data["goals"])  # measured from outside the process
        seconds = ("whole command (wall clock), mean (min–max)" if wall
                   else "seconds used (calibration + run), mean (min–max)")
        used = ">= 90% of it used" if wall else ">= 85% of it used"
        lines = [f"| goal | the plan | predicted accuracy | test accuracy, mean (min–max) | {seconds} | within budget "
                 f"| {used} |", "|---|---|---:|---:|---:|---:|---:|"]
        for g in (g for g in data["goals"] if g["goal"] in goals):
            ok = [r for r in g["runs"] if "error" not in r]
            if not ok:
                lines.append(_row([f"`--{'budget-s' if g['goal'] == 'budget' else 'target'} {g['value']:g}`",
                                   "refused: " + g["runs"][0]["error"].removeprefix("cifarbench: error: "), "", "", "",
                                   "", ""]))
                continue
            plans = []
            for m in sorted({r["model"] for r in ok}):  # each net with the epochs its own runs were planned
                epochs = sorted(r["epochs"] for r in ok if r["model"] == m)
                plans.append(f"{m}, {epochs[0]:g}–{epochs[-1]:g} epochs" if epochs[0] != epochs[-1]
                             else f"{m}, {epochs[0]:g} epochs")
            refused = len(g["runs"]) - len(ok)
            if refused:
                plans.append(f"{refused} of {len(g['runs'])} refused")
            acc, secs = g["test_accuracy"], g["wall_seconds" if wall else "used_seconds"]
            predicted = [r["predicted_accuracy"] for r in ok if r.get("predicted_accuracy")]
            split = ok[0].get("accuracy_split", "validation")
            budget = g["goal"] == "budget"
            lines.append(_row([f"`--{'budget-s' if budget else 'target'} {g['value']:g}`", "; ".join(plans),
                               f"{_pct(sum(predicted) / len(predicted))} {split}" if predicted else "–",
                               _pct_range(acc), _secs_range(secs),
                               f"{g['within_budget']} of {len(g['runs'])}" if budget else "–",
                               f"{g['at_least_90_percent' if wall else 'at_least_85_percent']} of {len(g['runs'])}"
                               if budget else "–"]))

        return "\n".join(lines) + "\n"

    render.__doc__ = f"{name}: planned runs, each a fresh `cifarbench train` process."
    return reads(name)(render)


def from_json(describe: str):
    """A table renderer over one results file: the decorated function turns the file's data into
    the table's lines; calling it with the file's name gives the renderer TABLES holds."""
    def wrap(body):
        def factory(name: str):
            def render() -> str:
                return "\n".join(body(_load(name))) + "\n"

            render.__doc__ = f"{name}: {describe}"
            return reads(name)(render)
        return factory
    return wrap


@from_json("the hybrid trainer against its controls")
def hybrid(data: dict) -> list[str]:
    target, seeds = data["target"], data["seeds"]
    lines = [_row(["configuration", f"s to {target:.0%} (seeds reaching it)", "training s", "test accuracy (min–max)",
                   "test loss", "backward passes saved", "divergences", "false alarms", "peak RSS MiB"]),
             "|---|" + "---:|" * 8]
    for name, s in data["summary"].items():
        t, acc, alarms = s["time_to_target"], s["test_accuracy"], s["false_alarm_rate"]
        lines.append(_row([
            HYBRID_LABELS.get(name, name),
            f"{t['mean']:.1f} ({t['reached']}/{seeds})" if t["mean"] is not None else f"never (0/{seeds})",
            f"{s['train_seconds']['mean']:.1f}",
            f"{acc['mean']:.2%} ({acc['min'] * 100:.2f}–{acc['max'] * 100:.2f})", f"{s['test_loss']['mean']:.4f}",
            f"{s['backward_reduction']['mean']:.1%}", f"{s['divergences']['mean']:.1f}",
            f"{alarms['mean']:.1%} of windows" if alarms["mean"] is not None else "–",
            f"{s['peak_rss_mib']['mean']:.0f}"]))
    return lines


@from_json("torch.compile against eager: compile seconds apart, steady-state images/s")
def compile_speed(data: dict) -> list[str]:
    lines = ["| model | eager images/s | compiled images/s | compiled / eager "
             "| compile s (warm-up, before the clock) |",
             "|---|---:|---:|---:|---:|"]
    runs = {(r["model"], r["compiled"]): r for r in data["runs"]}
    for model in dict.fromkeys(r["model"] for r in data["runs"]):
        eager, built = runs[(model, False)], runs[(model, True)]
        lines.append(_row([model, f"{eager['images_per_second']:,.0f}", f"{built['images_per_second']:,.0f}",
                           f"{built['images_per_second'] / eager['images_per_second']:.2f}x",
                           f"{built['compile_seconds']:.1f}"]))
    return lines


@from_json("one training step per frontier net: its share of the peak, the floor to a target, where its time goes")
def step_profile(data: dict) -> list[str]:
    nets = data["nets"]
    first = next(iter(nets.values()))
    target = f"{first['target']:.0%}"
    lines = [f"| net | precision, batch | ms a step | GFLOP/s | peak GFLOP/s | share of peak | floor to {target} s "
             f"| its steps to {target} s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for model, n in nets.items():
        floor, steps = n["floor_seconds"], n["measured_step_seconds_to_target"]
        lines.append(_row([model, f"{n['precision']}, {n['batch_size']}", f"{n['step_seconds'] * 1e3:.1f}",
                           f"{n['flops_per_second'] / 1e9:.0f}", f"{n['peak_flops_per_second'] / 1e9:.0f}",
                           f"{n['share_of_peak']:.0%}", "–" if floor is None else f"{floor:.1f}",
                           "–" if steps is None else f"{steps:.1f}"]))
    classes = sorted({c for n in nets.values() for c in n["op_seconds_by_class"]},
                     key=lambda c: -first["op_seconds_by_class"].get(c, 0))
    lines += ["", "| share of the step's op time | " + " | ".join(nets) + " |", "|---|" + "---:|" * len(nets)]
    lines += [_row([c, *(f"{n['op_seconds_by_class'].get(c, 0):.0%}" for n in nets.values())]) for c in classes]
    return lines


@from_json("a planned run's wall clock, timed from outside, phase by phase")
def phases(data: dict) -> list[str]:
    lines = ["| phase | seconds, mean (min–max) |", "|---|---:|"]
    for name, s in data["summary"].items():
        if name != "unaccounted":
            lines.append(_row([name, f"{s['mean']:.2f} ({s['min']:.2f}–{s['max']:.2f})"]))
    return lines


@from_json("a slowed budget, annealed on the clock against cut")
def clock_pace(data: dict) -> list[str]:
    labels = {"clock": "annealed on the clock", "cut": "planned steps, cut by a time limit"}
    return ["| schedule | test accuracy, mean (min–max) | seconds, mean (min–max) | steps, mean | schedule completed |",
            "|---|---:|---:|---:|---:|",
            *(_row([labels[mode], _pct_range(s["test_accuracy"]), _secs_range(s["seconds"]),
                    f"{s['steps']['mean']:.0f}", f"{s['completed']} of {s['runs']}"])
              for mode, s in data["summary"].items())]


@from_json("accuracy by images seen from two split sizes")
def images_seen(data: dict) -> list[str]:
    lines = ["| held out | epochs | images seen | validation accuracy, mean ± std | per seed |", "|---|---:|---:|---:|---|"]
    for variant, s in data["summary"].items():
        first = next(r for r in data["runs"] if r["variant"] == variant)
        acc = s["accuracy"]
        lines.append(_row([f"{first['val_split']:.0%} ({first['train_images']:,} left to train on)", f"{s['epochs']:g}",
                           f"{s['images_seen']:,}", f"{_pct(acc['mean'])} ± {acc['std'] * 100:.2f}",
                           ", ".join(_pct(v) for v in acc["values"])]))
    return lines


@from_json("images/s of each augmentation pipeline, on the CPU")
def loader(data: dict) -> list[str]:
    lines = [f"| pipeline ({data['images']:,} images, batch {data['batch_size']}) | images/s, median (min–max) |",
             "|---|---:|"]
    for pipeline, r in data["results"].items():
        ips = r["images_per_second"]
        lines.append(_row([pipeline, f"{ips['median']:,.0f} ({ips['min']:,.0f}–{ips['max']:,.0f})"]))
    return lines


@from_json("one process against several, the same global batch")
def scaling(data: dict) -> list[str]:
    lines = ["| processes | threads each | training s, median | test accuracy, mean | speed-up | efficiency |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in data["scaling"]:
        lines.append(_row([str(r["nproc"]), str(r["threads_per_process"]), f"{r['train_seconds']['median']:.2f}",
                           _pct(r["test_accuracy"]["mean"]), f"{r['speedup']:.2f}x", f"{r['efficiency']:.0%}"]))
    return lines


def own_images(name: str):
    def render() -> str:
        data = _load(name)
        lines = ["| Fashion-MNIST given as | test accuracy per seed | mean (min–max) |", "|---|---|---:|"]
        for label, source in (("the built-in loader (its files' order)", "built-in"),
                              ("70,000 PNGs, `folder:` (class by class, then file name)", "folder")):
            acc = data["test_accuracy"][source]
            lines.append(_row([label, ", ".join(_pct(a) for a in acc),
                               f"{_pct(sum(acc) / len(acc))} ({min(acc) * 100:.2f}–{max(acc) * 100:.2f})"]))
        lines.append(_row(["the built-in tensors in the folder's order, `npz:` (seed 0)",
                           _pct(data["same_order_accuracy"]), "–"]))
        return "\n".join(lines) + "\n"

    render.__doc__ = f"{name}: your own images at full size against the built-in loader."
    return reads(name)(render)


def script_table(script: str, name: str):
    """A benchmark script's own table (its `table(data)`), rendered from its JSON `name`."""
    def render() -> str:
        import importlib.util

        spec = importlib.util.spec_from_file_location(script, ROOT / "benchmarks" / f"{script}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        columns, rows = module.table(_load(name))
        lines = [_row(columns), "|---|" + "---:|" * (len(columns) - 1)]
        return "\n".join([*lines, *(_row(r) for r in rows)]) + "\n"

    render.__doc__ = f"{name}: benchmarks/{script}.py's table, from its JSON."
    return reads(name)(render)


NOT_RECORDED = "not recorded"


def _machine_cells(machine: dict | None) -> list[str]:
    """A results file's machine, from its own fingerprint: CPU and its family/model/stepping, the
    instruction sets that decide the speed, torch, the commit (and whether the tree had uncommitted
    changes). A field the file lacks says so; nothing is filled in from another file."""
    m = machine or {}
    cpu = m.get("cpu_model") or NOT_RECORDED
    cpu_id = m.get("cpu_id")
    cpu += f" ({cpu_id.split(' ', 1)[-1]})" if cpu_id else " (family/model: " + NOT_RECORDED + ")"
    isa = m.get("cpu_capability")
    isa = f"{isa}: {', '.join(m['cpu_isa'])}" if isa and m.get("cpu_isa") else isa or NOT_RECORDED
    gpu = m.get("gpu_name")
    commit = m.get("git_commit")
    if commit:
        commit = f"`{commit[:10]}`" + (" + uncommitted changes" if commit.endswith("-dirty") else "")
    return [cpu + (f", GPU {gpu}" if gpu else ""), isa, m.get("torch") or NOT_RECORDED, commit or NOT_RECORDED]


def _cpu_class(machine: dict | None) -> str:
    """The CPU class a file was measured on, from its fingerprint alone: what decides the speed."""
    m = machine or {}
    cpu_id = m.get("cpu_id")
    where = cpu_id.split(" ", 1)[-1] if cpu_id else "family/model " + NOT_RECORDED
    cpu = m.get("cpu_model") or f"CPU {NOT_RECORDED}"
    isa, capability = set(m.get("cpu_isa") or ()), m.get("cpu_capability")
    # what decides the speed beyond the vector width: native bf16, AMX's tiles
    extras = [label for flag, label in (("avx512_bf16", "BF16"), ("amx_bf16", "AMX")) if flag in isa]
    vector = (capability + (" with " + " and ".join(extras) if extras else "")) if capability else None
    return f"{cpu}, {vector or 'instruction sets ' + NOT_RECORDED}, {where}"


# One results page per CPU class: docs/results/<page>.md shows the files whose fingerprint names that
# class (as _cpu_class spells it), and no other; a file from a class without a page fails the tests.
CLASS_PAGES = {
    "epyc-zen2-avx2": "AMD EPYC, AVX2, cpu family 23 model 49 stepping 0",
    "epyc-zen1-avx2": "AMD EPYC, AVX2, cpu family 23 model 1 stepping 2",
    "epyc-avx2": "AMD EPYC, AVX2, family/model not recorded",
    "epyc-avx512-bf16": "AMD EPYC, AVX512 with BF16, family/model not recorded",
    "epyc-zen4-avx512-bf16": "AMD EPYC, AVX512 with BF16, cpu family 25 model 17 stepping 1",
    "xeon-amx": "Intel(R) Xeon(R) Processor, AVX512 with BF16 and AMX, family/model not recorded",
    "epyc-unrecorded": "AMD EPYC, instruction sets not recorded, family/model not recorded",
}


def results_files() -> list[str]:
    """Every results file, as its path under benchmarks/results/."""
    files = sorted(RESULTS.glob("*.json")) + sorted(RESULTS.glob("*/bench.json"))
    return [path.relative_to(RESULTS).as_posix() for path in files]


@functools.cache  # every page and the index ask for every file's class: read each file once
def cpu_class_of(name: str) -> str:
    return _cpu_class(_load(name).get("machine"))


def _machine_row(name: str) -> str:
    data = _load(name)
    command = data.get("command")
    command = " ".join(command) if isinstance(command, list) else command
    if command:
        # the same text wherever the repository or Python lived: paths from benchmarks/ or the script's name
        command = re.sub(r"\S*/(benchmarks/\S+)", r"\1", command)
        command = re.sub(r"\S*/bin/(\S+)", r"\1", command)
        command = f"`{command[:90]}{'…' if len(command) > 90 else ''}`".replace("|", "\\|")
    return _row([f"[{name}](../../benchmarks/results/{name})", *_machine_cells(data.get("machine")),
                 command or NOT_RECORDED])


MACHINE_HEADER = ["| results file | CPU (family, model, stepping) | instruction sets | torch | commit | command |",
                  "|---|---|---|---|---|---|"]


@reads()  # the fingerprints alone
def machines() -> str:
    """Every file in benchmarks/results/ with the machine its own fingerprint names, grouped by CPU
    class (a heading each, linking the class's page; the classes a fingerprint cannot tell apart
    stay together, labelled so)."""
    groups: dict[str, list[str]] = {}
    for name in results_files():
        groups.setdefault(cpu_class_of(name), []).append(_machine_row(name))
    page_of = {cpu_class: page for page, cpu_class in CLASS_PAGES.items()}
    parts = []
    for cpu_class in sorted(groups, key=lambda c: (NOT_RECORDED in c, c)):
        title = f"[{cpu_class}]({page_of[cpu_class]}.md)" if cpu_class in page_of else cpu_class
        parts += [f"### {title}", "", *MACHINE_HEADER, *groups[cpu_class], ""]
    return "\n".join(parts)


def machines_of(page: str):
    """The files one class page shows, with the machine each one's fingerprint names."""
    def render() -> str:
        rows = [_machine_row(name) for name in results_files() if cpu_class_of(name) == CLASS_PAGES[page]]
        return "\n".join([*MACHINE_HEADER, *rows]) + "\n"

    render.__doc__ = f"the results files measured on {CLASS_PAGES[page]}"
    return reads()(render)  # the fingerprints alone: the same on any page that names the class


TABLES = {"machines": machines, **{f"machines-{page}": machines_of(page) for page in CLASS_PAGES},
          "fashion-recipes": fashion_recipes, "planner-frontier": planner_frontier,
          "planned-runs-amx": planned_runs("budget-fashion-mnist-amx.json", ("budget",)),
          "planned-targets-amx": planned_runs("budget-fashion-mnist-amx-targets.json", ("target",)),
          "planned-targets-avx2": planned_runs("budget-fashion-mnist-avx2.json", ("target",)),
          "planned-runs-avx2-family23": planned_runs("budget-fashion-mnist-avx2-family23.json", ("budget",)),
          "planned-targets-avx2-family23": planned_runs("budget-fashion-mnist-avx2-family23-targets.json",
                                                        ("target",)),
          "planned-runs-avx2-zen2": planned_runs("budget-fashion-mnist-avx2-zen2.json", ("budget",)),
          "planned-runs-zen4": planned_runs("budget-fashion-mnist-zen4.json", ("budget",)),
          "planned-targets-zen4": planned_runs("budget-fashion-mnist-zen4-targets.json", ("target",)),
          "step-profile-zen4": step_profile("step-profile-avx512-bf16.json"),
          "phases-zen4": phases("phases-avx512-bf16.json"),
          "planned-targets-avx2-zen2": planned_runs("budget-fashion-mnist-avx2-zen2-targets.json", ("target",)),
          "clock-pace-avx2": clock_pace("clock-pace-fashion-mnist-avx2.json"),
          "images-seen-avx2": images_seen("images-seen-fashion-mnist-avx2.json"),
          "own-images-avx2": own_images("own-images-fashion-mnist-avx2.json"),
          "time-to-accuracy-avx2": script_table("time_to_accuracy", "time-to-accuracy-fashion-mnist-avx2.json"),
          "time-to-accuracy-avx2-family23": script_table("time_to_accuracy",
                                                         "time-to-accuracy-fashion-mnist-avx2-family23.json"),
          "step-levers-avx2": script_table("step_levers", "step-levers-avx2.json"),
          "cpu-fast-path": cpu_fast_path("cpu-fast-path.json", fraction=False),
          "cpu-fast-path-amx": cpu_fast_path("cpu-fast-path-xeon-amx.json", fraction=True),
          "cpu-fast-path-avx2-zen2": cpu_fast_path("cpu-fast-path-avx2-zen2.json", fraction=True),
          "loader-avx2-zen2": loader("loader-cpu-avx2-zen2.json"),
          "scaling-avx2-zen2": scaling("scaling-fashion-lenet-small-avx2-zen2/bench.json"),
          "frontier": frontier, "hybrid": hybrid("hybrid-cpu.json"),
          "hybrid-avx2-zen2": hybrid("hybrid-cpu-avx2-zen2.json"),
          "compile-avx2-zen2": compile_speed("compile-cpu-avx2-zen2.json"),
          "ablate-fashion93": ablation("ablate-fashion93"), "ablate-airbench94-tiny": ablation("ablate-airbench94-tiny")}


def render(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise SystemExit(f"README.md names table {name!r}; known: {', '.join(TABLES)}")
        return match.group(1) + TABLES[name]() + match.group(4)

    return BLOCK.sub(fill, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the JSON")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text()
        rendered = render(text)
        if rendered == text:
            continue
        if args.check:
            stale.append(str(page.relative_to(ROOT) if page.is_relative_to(ROOT) else page))
        else:
            page.write_text(rendered)
    if stale:
        print(f"{', '.join(stale)}: tables differ from benchmarks/results/: run python benchmarks/readme_tables.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
