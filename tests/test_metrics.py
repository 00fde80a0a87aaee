import numpy as np
import pytest

from cifarbench.eval.metrics import classification_metrics, classification_report, most_confused_pairs


def one_hot_logits(preds, k):
    logits = np.zeros((len(preds), k))
    logits[np.arange(len(preds)), preds] = 1.0
    return logits


def test_metrics_by_hand():
    # true:  a a a b b c      pred: a a b b c c
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(one_hot_logits(preds, 3), labels, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = (m["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"]) == (pytest.approx(1.0), pytest.approx(2 / 3))
    assert (b["precision"], b["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (c["precision"], c["recall"]) == (pytest.approx(0.5), pytest.approx(1.0))
    assert a["f1"] == pytest.approx(0.8) and c["f1"] == pytest.approx(2 / 3)
    assert m["macro"]["f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["weighted"]["recall"] == pytest.approx(m["accuracy"])  # support-weighted recall is accuracy
    assert m["confusion_matrix_normalized"][0] == pytest.approx([2 / 3, 1 / 3, 0])
    assert "top5_accuracy" not in m


def test_top5_only_past_ten_classes():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 20))
    labels = rng.integers(0, 20, 200)
    m = classification_metrics(logits, labels, [str(i) for i in range(20)])
    top5 = np.argsort(-logits, 1)[:, :5]
    assert m["top5_accuracy"] == pytest.approx(np.mean([l in t for l, t in zip(labels, top5)]))
    assert m["top5_accuracy"] >= m["accuracy"]


def test_empty_class_gives_zero_not_nan():
    m = classification_metrics(one_hot_logits(np.array([0, 0]), 3), np.array([0, 0]), ["a", "b", "c"])
    assert m["per_class"]["b"] == {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_report_and_confused_pairs():
    cm = [[5, 3, 0], [1, 6, 0], [0, 4, 2]]
    assert most_confused_pairs(cm, ["cat", "dog", "fox"], top=2) == [("fox", "dog", 4), ("cat", "dog", 3)]
    labels = np.array([0, 0, 1, 1])
    m = classification_metrics(one_hot_logits(np.array([0, 1, 1, 1]), 2), labels, ["cat", "dog"])
    text = classification_report(m)
    assert "cat" in text.splitlines()[2] and "0.5000" in text.splitlines()[2]
    assert "accuracy" in text and "cat -> dog: 1" in text
