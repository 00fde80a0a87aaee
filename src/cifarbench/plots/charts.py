"""Charts written as PNG and SVG with matplotlib's Agg backend (no display needed), each file
written atomically."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cifarbench.files import atomic_write_bytes  # noqa: E402

_formats: tuple[str, ...] = ("png", "svg")  # what save_figure writes unless told otherwise


@contextlib.contextmanager
def figure_formats(formats: tuple[str, ...]):
    """Within the block, charts are written in these formats (a report embeds PNG only)."""
    global _formats
    saved, _formats = _formats, tuple(formats)
    try:
        yield
    finally:
        _formats = saved


def save_figure(fig, path_without_suffix: Path, formats: tuple[str, ...] | None = None) -> list[Path]:
    paths = []
    for fmt in formats or _formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight")
        path = Path(f"{path_without_suffix}.{fmt}")
        atomic_write_bytes(buffer.getvalue(), path)
        paths.append(path)
    plt.close(fig)
    return paths


def bar_chart(
    labels: list[str],
    values: list[float],
    title: str,
    ylabel: str,
    path: Path,
    annotate: str = "{:.2f}",
    errors: list[tuple[float, float]] | None = None,
    zoom: bool = False,
) -> list[Path]:
    """Vertical bars with the value printed on each; `errors` are (low, high) whiskers. `zoom`
    starts the axis near the smallest value, for differences of a fraction of a point."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 2), 3.6))
    yerr = None
    if errors:
        yerr = [[v - lo for v, (lo, _) in zip(values, errors)], [hi - v for v, (_, hi) in zip(values, errors)]]
    bars = ax.bar(labels, values, color="#4C72B0", yerr=yerr, capsize=4)
    for bar, value in zip(bars, values):
        ax.annotate(
            annotate.format(value),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if zoom:
        low = min(lo for lo, _ in errors) if errors else min(values)
        high = max(hi for _, hi in errors) if errors else max(values)
        margin = max(0.1, 0.15 * (high - low))
        ax.set_ylim(low - margin, high + 2 * margin)
    ax.spines[["top", "right"]].set_visible(False)
    if len(labels) > 4:
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return save_figure(fig, path)


def training_curves(history: list[dict], path: Path, title: str = "") -> list[Path]:
    """Loss and accuracy (train and validation) and the learning rate, per epoch."""
    epochs = [h["epoch"] for h in history]
    val = [h for h in history if "val_accuracy" in h]
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(13, 3.6))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], marker="o", label="train")
    if val:
        ax_loss.plot([h["epoch"] for h in val], [h["val_loss"] for h in val], marker="s", label="validation")
        ax_acc.plot([h["epoch"] for h in val], [h["val_accuracy"] for h in val], marker="s", label="validation")
    ax_lr.plot(epochs, [h["lr"] for h in history], marker=".", color="#55A868")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy"), (ax_lr, "learning rate (end of epoch)")):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    ax_loss.legend()
    ax_acc.legend()
    ax_acc.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def shown_classes(per_class: dict[str, float], limit: int = 10) -> list[tuple[str, float]]:
    """(class, accuracy) worst first; past 20 classes only the `limit` worst and `limit` best,
    where a chart of all would be unreadable (CIFAR-100)."""
    items = sorted(per_class.items(), key=lambda kv: kv[1])
    return items if len(items) <= 20 else items[:limit] + items[-limit:]


def per_class_accuracy(per_class: dict[str, float], path: Path, title: str, limit: int = 10) -> list[Path]:
    """Horizontal bars per class, worst at the top; past 20 classes only the `limit` best and worst."""
    items = shown_classes(per_class, limit)
    if len(items) < len(per_class):
        title += f" ({limit} worst and {limit} best of {len(per_class)})"
    names, values = zip(*items)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.2))
    bars = ax.barh(names, values, color=["#C44E52" if v < sum(values) / len(values) else "#4C72B0" for v in values])
    for bar, value in zip(bars, values):
        ax.annotate(
            f"{value:.1%}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
        )
    ax.set_xlim(0, 1.08)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return save_figure(fig, path)


def confusion_heatmap(
    matrix, classes: list[str], path: Path, title: str, normalized: bool, confused: Sequence[tuple[str, str, int]] = ()
) -> list[Path]:
    """Rows are true classes, columns predictions; counts (or row shares) written in each cell
    while the matrix is small enough to read; the most-confused pairs listed underneath."""
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    k = len(classes)
    size = min(14.0, max(5.0, 0.55 * k + 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalized else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if k <= 20:
        ax.set_xticks(range(k), classes, rotation=45, ha="right")
        ax.set_yticks(range(k), classes)
        threshold = m.max() / 2
        for i in range(k):
            for j in range(k):
                text = f"{m[i, j]:.2f}" if normalized else f"{int(m[i, j])}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7 if k > 10 else 8,
                    color="white" if m[i, j] > threshold else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if confused:
        pairs = "; ".join(f"{t} → {p}: {c}" for t, p, c in confused)
        fig.text(
            0.5,
            -0.02,
            f"most confused (true → predicted: count): {pairs}",
            ha="center",
            va="top",
            fontsize=8,
            wrap=True,
        )
    return save_figure(fig, path)


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (seconds, accuracy) points no other point beats on both: faster and at least as accurate."""
    front, best = [], float("-inf")
    for seconds, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((seconds, accuracy))
            best = accuracy
    return front


def accuracy_time_frontier(
    points: list[dict], path: Path, title: str, decorate=None, formats: tuple[str, ...] | None = None
) -> list[Path]:
    """Accuracy against training time, one colour per group (model or recipe), the Pareto front
    drawn as a step line. points: {"label", "seconds", "accuracy"}."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    groups = sorted({p["label"] for p in points})
    for i, label in enumerate(groups):
        mine = [p for p in points if p["label"] == label]
        ax.scatter(
            [p["seconds"] for p in mine],
            [p["accuracy"] for p in mine],
            label=label,
            s=36,
            color=plt.cm.tab10(i % 10),
            zorder=3,
        )
    front = pareto_front([(p["seconds"], p["accuracy"]) for p in points])
    if len(front) > 1:
        ax.step(
            [f[0] for f in front],
            [f[1] for f in front],
            where="post",
            color="#888888",
            linestyle="--",
            label="frontier",
            zorder=2,
        )
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("test accuracy")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if decorate is not None:  # a caller's extra marks (a benchmark's targets, say)
        decorate(ax)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    return save_figure(fig, path, formats)
