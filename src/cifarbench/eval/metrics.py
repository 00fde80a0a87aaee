"""Classification metrics from logits and labels, in plain numpy.

Accuracy, top-5 (when there are more than 10 classes), per-class accuracy (= recall),
precision and F1, macro and support-weighted averages, raw and row-normalised confusion
matrices, and scikit-learn-style text report.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(preds: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts; rows are true classes, columns predictions."""
    return np.bincount(labels * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def classification_metrics(logits: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Every metric of a classification run, as plain JSON-ready values."""
    logits, labels = np.asarray(logits), np.asarray(labels, dtype=np.int64)
    k = len(classes)
    preds = logits.argmax(axis=1)
    cm = confusion_matrix(preds, labels, k)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    recall = _safe_div(tp, support)
    precision = _safe_div(tp, predicted)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    weights = support / max(1.0, support.sum())
    out = {
        "num_examples": int(len(labels)),
        "accuracy": float((preds == labels).mean()) if len(labels) else 0.0,
        "per_class": {
            name: {
                "accuracy": float(recall[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted": {
            "precision": float((precision * weights).sum()),
            "recall": float((recall * weights).sum()),
            "f1": float((f1 * weights).sum()),
        },
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalized": _safe_div(cm.astype(np.float64), support[:, None]).round(6).tolist(),
        "classes": list(classes),
    }
    if k > 10:
        top5 = np.argsort(-logits, axis=1)[:, :5]
        out["top5_accuracy"] = float((top5 == labels[:, None]).any(axis=1).mean())
    return out


def per_class_accuracy(preds: np.ndarray, labels: np.ndarray, num_classes: int) -> list[float]:
    cm = confusion_matrix(preds, labels, num_classes)
    return _safe_div(np.diag(cm).astype(np.float64), cm.sum(axis=1).astype(np.float64)).tolist()


def most_confused_pairs(cm: np.ndarray | list, classes: list[str], top: int = 5) -> list[tuple[str, str, int]]:
    """The largest off-diagonal counts: (true class, predicted class, count)."""
    counts = np.asarray(cm).copy()
    np.fill_diagonal(counts, 0)
    order = np.argsort(-counts, axis=None)[:top]
    pairs = [(classes[i // len(classes)], classes[i % len(classes)], int(counts.flat[i])) for i in order]
    return [p for p in pairs if p[2] > 0]


def classification_report(metrics: dict) -> str:
    """A fixed-width text table in the layout of scikit-learn's classification_report."""
    names = list(metrics["per_class"])
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}", ""]
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:>{width}} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {m['support']:9d}")
    n = metrics["num_examples"]
    lines += ["", f"{'accuracy':>{width}} {'':>9} {'':>9} {metrics['accuracy']:9.4f} {n:9d}"]
    for avg in ("macro", "weighted"):
        m = metrics[avg]
        lines.append(f"{avg + ' avg':>{width}} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {n:9d}")
    if "top5_accuracy" in metrics:
        lines.append(f"{'top-5 accuracy':>{width}} {'':>9} {'':>9} {metrics['top5_accuracy']:9.4f} {n:9d}")
    pairs = most_confused_pairs(metrics["confusion_matrix"], names)
    if pairs:
        lines += ["", "most confused (true -> predicted: count):"]
        lines += [f"  {t} -> {p}: {c}" for t, p, c in pairs]
    return "\n".join(lines) + "\n"
