"""What every loop does when an epoch ends, whatever the framework: the epoch's record, its
validation and the best epoch so far, and the line a person reads. PyTorch's Trainer and MLX's
backend both call these, so their history.json, log.jsonl and console lines cannot drift apart.
"""

from __future__ import annotations

from cifarbench.eval.evaluate import Evaluation
from cifarbench.eval.metrics import per_class_accuracy


def epoch_record(
    epoch: int, step: int, train_loss: float, train_accuracy: float, lr: float, seconds: float, images: int
) -> dict:
    """The history record of epoch `epoch` (0-based) before its validation."""
    return {
        "epoch": epoch + 1,
        "step": step,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "lr": lr,
        "epoch_seconds": seconds,
        "images_per_second": images / seconds if seconds > 0 else None,
    }


def validates(epoch: int, num_epochs: int, eval_every: int, stopping: bool = False) -> bool:
    """Whether epoch `epoch` (0-based) ends with a validation: every eval_every epochs and the last."""
    if eval_every == 0:  # none in the loop: the final evaluation only
        return False
    return epoch + 1 == num_epochs or stopping or (epoch + 1) % eval_every == 0


def add_validation(record: dict, result: Evaluation, num_classes: int, state) -> None:
    """The validation's figures into `record`; `state` (a TrainState) keeps the best epoch."""
    record.update(
        val_loss=result.loss,
        val_accuracy=result.accuracy,
        val_per_class_accuracy=per_class_accuracy(result.predictions.numpy(), result.labels.numpy(), num_classes),
    )
    if result.accuracy > state.best_val_accuracy:
        state.best_val_accuracy, state.best_epoch = result.accuracy, record["epoch"]


def epoch_line(record: dict, num_epochs: int) -> str:
    """The one line the console shows for an ended epoch."""
    val = f" | val {record['val_loss']:.4f} {record['val_accuracy']:.2%}" if "val_accuracy" in record else ""
    return (
        f"epoch {record['epoch']}/{num_epochs} | train {record['train_loss']:.4f} "
        f"{record['train_accuracy']:.2%}{val} | {record['epoch_seconds']:.1f}s "
        f"{record['images_per_second'] or 0:,.0f} img/s"
    )
