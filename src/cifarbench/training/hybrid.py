"""The hybrid predictive trainer: some steps apply a predicted update instead of a backward pass.

A policy of the one training loop (Trainer.step_policy), not a second loop:

    warmup (W real steps) -> full (F real steps) -> predict (up to H steps) -> full -> ...

- A real step is the loop's own train_step (forward, backward, optimizer.step, scheduler). Around
  it the policy records the update the optimizer actually made, d = theta_after - theta_before
  (Adam's scaling, weight decay and the lr schedule included), and keeps m = EMA_beta(d).
- A predicted step adds alpha * m to the parameters under no_grad: no backward, no optimizer
  step. The scheduler and the step counter move on, as they do for any step. Every
  `monitor_every` predicted steps a no_grad forward on the step's batch measures the loss.
- Confidence is the cosine between m and the next real update d, averaged over the last k real
  steps. Predict is entered only above tau. Momentum alone makes consecutive updates alike even
  on data that cannot be learned, so tau must be calibrated on a real run: the run log keeps
  the distribution of confidences seen.
- Correction: every K predicted steps one real step, then a fresh snapshot; back to full if the
  confidence falls below tau.
- Divergence: the mean of the last w monitored losses above mu + z * sd / sqrt(w), mu and sd
  from the real-step losses of the last full block, or a non-finite loss, restores the
  snapshot (parameters, buffers, optimizer state, m), counts one divergence, returns to full,
  and multiplies alpha by `backoff`.

Counters are measured where the events happen (a backward is counted in the real step itself)
and land in run_log.json under "hybrid".

This takes the idea of a published Rust "HybridTrainer" and none of its numbers: its reported
accuracy and memory came from random number generators and its predicted updates were never
applied. Our own measurements, whatever they show, are in benchmarks/hybrid.py and the README.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from dataclasses import asdict, dataclass

import torch

from cifarbench.config import HybridConfig


@dataclass
class HybridCounters:
    real_steps: int = 0
    backward_calls: int = 0
    predicted_steps: int = 0
    corrections: int = 0
    divergences: int = 0
    predict_phases: int = 0
    monitored_forwards: int = 0
    detector_windows: int = 0  # windowed tests made (passive mode: the false-alarm denominator)
    detector_alarms: int = 0
    seconds_real: float = 0.0
    seconds_predicted: float = 0.0


class HybridPolicy:
    """Decides, step by step, whether the loop does a real step or a predicted one."""

    def __init__(self, config: HybridConfig):
        self.knobs = config.resolved()
        self.counters = HybridCounters()
        self.phase = "warmup"
        self.alpha = self.knobs["alpha"]
        self.m: torch.Tensor | None = None  # EMA of real updates (flat)
        self.confidences: deque[float] = deque(maxlen=self.knobs["confidence_window"])
        self.all_confidences: list[float] = []
        self.phase_steps = 0  # steps in the current phase
        self.since_correction = 0
        self.full_losses: list[float] = []  # real-step losses of the current full block
        self.reference: tuple[float, float] | None = None  # (mu, sd) of the last full block
        self.monitored: deque[float] = deque(maxlen=self.knobs["detector_window"])
        self.snapshot: dict | None = None

    # ------------------------------------------------------------------ the loop calls this

    def step(self, trainer, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        if self.phase == "predict" and not self.knobs["passive"]:
            if self.since_correction >= self.knobs["correct_every"]:
                self.correction(trainer, inputs, labels)
            else:
                self.predicted_step(trainer, inputs, labels)
            return
        self.real_step(trainer, inputs, labels)
        self.phase_steps += 1
        if self.phase == "warmup" and self.phase_steps >= self.knobs["warmup"]:
            self.start_full()
        elif self.phase == "full" and self.phase_steps >= self.knobs["full"]:
            self.end_full_block(trainer)

    # ------------------------------------------------------------------ steps

    def real_step(self, trainer, inputs, labels) -> float:
        started = time.perf_counter()
        before = flat_parameters(trainer.model)
        loss = trainer.train_step(inputs, labels)
        self.counters.real_steps += 1
        self.counters.backward_calls += 1  # train_step ran exactly one backward
        d = flat_parameters(trainer.model) - before
        if self.m is not None:
            c = float(torch.nn.functional.cosine_similarity(self.m, d, dim=0))
            if math.isfinite(c):
                self.confidences.append(c)
                self.all_confidences.append(c)
        beta = self.knobs["beta"]
        self.m = d if self.m is None else beta * self.m + (1 - beta) * d
        value = float(loss)  # a device sync per real step: the policy decides on it
        if self.phase in ("full", "warmup"):
            self.full_losses.append(value)
        every = self.knobs["monitor_every"] or 1
        if self.knobs["passive"] and self.counters.real_steps % every == 0:
            self.watch(trainer, value)
        self.counters.seconds_real += time.perf_counter() - started
        return value

    @torch.no_grad()
    def predicted_step(self, trainer, inputs, labels) -> None:
        started = time.perf_counter()
        params = [p for p in trainer.model.parameters() if p.requires_grad]
        offset = 0
        step = self.alpha * self.m
        for p in params:  # theta <- theta + alpha * m
            n = p.numel()
            p.add_(step[offset : offset + n].view_as(p))
            offset += n
        trainer.advance_step()
        self.counters.predicted_steps += 1
        self.since_correction += 1
        self.phase_steps += 1
        every = self.knobs["monitor_every"]
        if every and self.counters.predicted_steps % every == 0:
            # the training loss's own definition (train mode, label smoothing), so the detector
            # compares it with the real-step losses it was calibrated on; BatchNorm statistics stay
            loss = trainer.batch_loss(inputs, labels)
            self.counters.monitored_forwards += 1
            self.watch(trainer, loss)
        if self.phase == "predict" and self.phase_steps >= self.knobs["horizon"]:
            self.start_full()
        self.counters.seconds_predicted += time.perf_counter() - started

    def correction(self, trainer, inputs, labels) -> None:
        loss = self.real_step(trainer, inputs, labels)
        self.counters.corrections += 1
        self.since_correction = 0
        self.phase_steps += 1
        if not math.isfinite(loss):
            self.diverged(trainer)
        elif self.confidence() < self.knobs["tau"]:
            self.start_full()
        else:
            self.take_snapshot(trainer)

    # ------------------------------------------------------------------ phases

    def confidence(self) -> float:
        return sum(self.confidences) / len(self.confidences) if self.confidences else -1.0

    def start_full(self) -> None:
        self.phase, self.phase_steps, self.full_losses = "full", 0, []
        self.monitored.clear()

    def end_full_block(self, trainer) -> None:
        losses = [v for v in self.full_losses if math.isfinite(v)]
        if len(losses) >= 2:
            mu = sum(losses) / len(losses)
            sd = math.sqrt(sum((v - mu) ** 2 for v in losses) / (len(losses) - 1))
            self.reference = (mu, sd)
        self.full_losses = []
        self.phase_steps = 0
        if not self.knobs["passive"] and self.reference and self.confidence() > self.knobs["tau"]:
            self.phase, self.since_correction = "predict", 0
            self.counters.predict_phases += 1
            self.monitored.clear()
            self.take_snapshot(trainer)

    # ------------------------------------------------------------------ divergence

    def watch(self, trainer, loss: float) -> None:
        """The windowed test on monitored losses (acts in predict, only counts when passive)."""
        if not math.isfinite(loss):
            self.counters.detector_alarms += 1
            if not self.knobs["passive"]:
                self.diverged(trainer)
            return
        if self.reference is None:
            return
        self.monitored.append(loss)
        w = self.knobs["detector_window"]
        if len(self.monitored) < w:
            return
        self.counters.detector_windows += 1
        mu, sd = self.reference
        if sum(self.monitored) / w > mu + self.knobs["z"] * sd / math.sqrt(w):
            self.counters.detector_alarms += 1
            self.monitored.clear()
            if not self.knobs["passive"]:
                self.diverged(trainer)

    def diverged(self, trainer) -> None:
        self.restore_snapshot(trainer)
        trainer.forget_nonfinite()  # the broken step is undone: it must not stop the run later
        self.counters.divergences += 1
        self.alpha *= self.knobs["backoff"]
        self.start_full()

    def take_snapshot(self, trainer) -> None:
        assert self.m is not None  # a snapshot follows real steps, which set it
        self.snapshot = {
            "model": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
            "m": self.m.clone(),
        }

    def restore_snapshot(self, trainer) -> None:
        if self.snapshot is None:
            return
        trainer.model.load_state_dict(self.snapshot["model"])
        trainer.optimizer.load_state_dict(copy.deepcopy(self.snapshot["optimizer"]))
        self.m = self.snapshot["m"].clone()

    # ------------------------------------------------------------------ reporting

    def summary(self) -> dict:
        c = sorted(self.all_confidences)

        def q(p: float):
            return c[min(len(c) - 1, int(p * len(c)))] if c else None

        out = asdict(self.counters)
        total = self.counters.real_steps + self.counters.predicted_steps
        out.update(
            knobs=self.knobs,
            final_alpha=self.alpha,
            steps=total,
            backward_reduction=self.counters.predicted_steps / total if total else 0.0,
            false_alarm_rate=(
                self.counters.detector_alarms / self.counters.detector_windows
                if self.knobs["passive"] and self.counters.detector_windows
                else None
            ),
            confidence={
                "count": len(c),
                "min": q(0.0),
                "p10": q(0.1),
                "median": q(0.5),
                "p90": q(0.9),
                "max": c[-1] if c else None,
            },
        )
        return out


def flat_parameters(model: torch.nn.Module) -> torch.Tensor:
    """The trainable parameters as one flat vector (a copy)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])
