"""Charts written as PNG and SVG with matplotlib's Agg backend (no display needed), each file
written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cifarbench.runs import _atomic_write_bytes  # noqa: E402


def save_figure(fig, path_without_suffix: Path, formats=("png", "svg")) -> list[Path]:
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight")
        path = Path(f"{path_without_suffix}.{fmt}")
        _atomic_write_bytes(buffer.getvalue(), path)
        paths.append(path)
    plt.close(fig)
    return paths


def bar_chart(labels: list[str], values: list[float], title: str, ylabel: str, path: Path,
              annotate: str = "{:.2f}", errors: list[tuple[float, float]] | None = None) -> list[Path]:
    """Vertical bars with the value printed on each; `errors` are (low, high) whiskers."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 2), 3.6))
    yerr = None
    if errors:
        yerr = [[v - lo for v, (lo, _) in zip(values, errors)], [hi - v for v, (_, hi) in zip(values, errors)]]
    bars = ax.bar(labels, values, color="#4C72B0", yerr=yerr, capsize=4)
    for bar, value in zip(bars, values):
        ax.annotate(annotate.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
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
        ax.annotate(f"{value:.1%}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center",
                    fontsize=8, xytext=(3, 0), textcoords="offset points")
    ax.set_xlim(0, 1.08)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return save_figure(fig, path)


def confusion_heatmap(matrix, classes: list[str], path: Path, title: str, normalized: bool) -> list[Path]:
    """Rows are true classes, columns predictions; counts (or row shares) written in each cell
    while the matrix is small enough to read."""
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
                ax.text(j, i, text, ha="center", va="center", fontsize=7 if k > 10 else 8,
                        color="white" if m[i, j] > threshold else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path)
