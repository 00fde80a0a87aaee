"""A schedule that anneals on the clock (training/pace.py): a run slowed part-way still ends at its
deadline with its schedule run to the end, and its config.yaml replays it step for step."""

from __future__ import annotations

import pytest

from cifarbench.api import train
from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback
from cifarbench.errors import ConfigError
from cifarbench.resolve import resolve_config
from cifarbench.runs import RunDir
from cifarbench.training.optim import lr_factor
from cifarbench.training.pace import PACE_EVERY, ClockPace, Progress

STEPS_PER_EPOCH = 32  # 1024 synthetic images, batch 32, drop_last


class ScriptedClock(Callback):
    """A clock the run itself moves: each step costs `fast` seconds until `slow_from` steps, then
    `slow` (a competing process arriving part-way). It never reads the host's clock."""

    def __init__(self, fast: float, slow: float, slow_from: int):
        self.fast, self.slow, self.slow_from = fast, slow, slow_from
        self.now, self.steps, self.lrs, self.whitening_trains = 0.0, 0, [], []

    def __call__(self) -> float:
        return self.now

    def on_batch_end(self, trainer, batch_index):
        self.now += self.fast if self.steps < self.slow_from else self.slow
        self.steps += 1
        self.lrs.append(trainer.optimizer.param_groups[-1]["lr"])
        self.whitening_trains.append(trainer.model.whiten.bias.requires_grad)


def config_for(tmp_path, **train) -> RunConfig:
    return resolve_config("fashion-tiny-2.25ep", {
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 1024,
                 "synthetic_test_size": 128},
        "train": {"epochs": 4, "batch_size": 32, "device": "cpu", "tta": 0, "plots": False, "threads": 1,
                  "eval_every": 10_000, **train},
        "runs_dir": str(tmp_path / "runs")})


def test_progress_on_steps_is_the_step_count_and_recorded_rates_move_it_their_way():
    plain = Progress(total=20)
    for _ in range(20):
        assert not plain.done
        plain.advance()
    assert plain.position == 20.0 and plain.done
    paced = Progress(total=20, rates=[1.0, 0.5])
    for _ in range(PACE_EVERY):
        paced.advance()
    assert paced.position == PACE_EVERY
    paced.advance()
    assert paced.position == PACE_EVERY + 0.5  # the second block's rate, and the last one's past the list


def test_a_run_slowed_part_way_ends_at_its_deadline_with_its_schedule_complete_and_replays_step_for_step(
        tmp_path, monkeypatch):
    from cifarbench.training.tricks import Lookahead

    config = config_for(tmp_path)
    planned = 4 * STEPS_PER_EPOCH
    deadline = planned * 1.0  # calibrated at 1 s a step
    clock = ScriptedClock(fast=1.0, slow=2.0, slow_from=48)
    decays = []
    real_update = Lookahead.update
    monkeypatch.setattr(Lookahead, "update", lambda self, model, decay: (decays.append(decay),
                                                                         real_update(self, model, decay))[1])
    result = train(config, quiet=True, callbacks=[clock, ClockPace(deadline, clock=clock)])
    pace = result.run_log["pace"]
    # the machine halved its speed after 48 steps: 80 s were left for 80 planned steps at 2 s each
    assert pace["clock"] and pace["schedule_completed"] and pace["planned_steps"] == planned
    assert 48 + 36 <= result.run_log["steps"] <= 48 + 44 and clock.steps == result.run_log["steps"]
    assert deadline - 2 * clock.slow <= clock.now <= deadline + 2 * clock.slow  # its time used, and no more
    # the schedule ran to its end: the last step's lr is the triangle's end, within one step's share
    s, peak = config.schedule, clock.lrs[0] / lr_factor(config.schedule, 1, planned, 0)
    assert clock.lrs[-1] == pytest.approx(peak * s.end_factor, rel=0.05)
    # so did lookahead (its last EMA weight near base ** every, then the final sync) and the whitening
    # bias, frozen after the recipe's 3 of 4 epochs' share of the schedule, not after 3 epochs' steps
    assert decays[-1] == 1.0 and decays[-2] > 0.95 ** 5 * 0.9 ** 3
    frozen_at = clock.whitening_trains.index(False)
    assert clock.whitening_trains[frozen_at:] == [False] * (clock.steps - frozen_at)
    assert 0.6 * clock.steps < frozen_at < 0.9 * clock.steps and frozen_at < 3 * STEPS_PER_EPOCH

    # config.yaml holds the rates the clock set; replayed on no clock, the same steps and losses
    saved = RunConfig.from_dict(RunDir.open(result.run.path).read_config())
    assert saved.schedule.pace is not None and len(saved.schedule.pace) >= result.run_log["steps"] // PACE_EVERY
    again = train(saved, quiet=True)
    assert again.run_log["steps"] == result.run_log["steps"]
    assert [r["train_loss"] for r in again.history] == [r["train_loss"] for r in result.history]
    assert again.metrics["loss"] == result.metrics["loss"]
    assert again.run_log["pace"]["clock"] is False and again.run_log["pace"]["schedule_completed"]


def test_a_slower_machine_keeps_more_time_for_the_work_after_training(tmp_path):
    """The final evaluation and the files are slower on a slowed machine too: the time kept for them
    grows with the slowdown the clock has seen, so the whole run still ends by its end."""
    config = config_for(tmp_path)
    planned, after = 4 * STEPS_PER_EPOCH, 10.0
    end = planned * 1.0 + after  # calibrated at 1 s a step, 10 s of work after training
    clock = ScriptedClock(fast=1.0, slow=2.0, slow_from=48)
    pace = ClockPace(end, clock=clock, after=after, step_seconds=1.0)
    result = train(config, quiet=True, callbacks=[clock, pace])
    assert result.run_log["pace"]["schedule_completed"]
    # twice as slow at the end: 2 x 10 s kept, so training ends near 138 - 20 s, not 138 - 10 s
    assert pace.deadline() == pytest.approx(end - 2 * after, abs=1.0)
    assert end - 2 * after - 2 * clock.slow <= clock.now <= end - 2 * after + 2 * clock.slow
    unslowed = ScriptedClock(fast=1.0, slow=1.0, slow_from=0)
    calm = ClockPace(end, clock=unslowed, after=after, step_seconds=1.0)
    train(config_for(tmp_path / "calm"), quiet=True, callbacks=[unslowed, calm])
    assert calm.deadline() == end - after and end - after - 2 <= unslowed.now <= end - after + 2


def test_a_run_cut_by_a_time_limit_stops_mid_schedule_where_the_clocked_one_does_not(tmp_path):
    """Today's guard (TimeLimit) on the same slowed machine: it stops at the time, lr still high."""
    from cifarbench.contract.callbacks import TimeLimit

    config = config_for(tmp_path)
    clock = ScriptedClock(fast=1.0, slow=2.0, slow_from=48)

    class ScriptedLimit(TimeLimit):
        def on_batch_end(self, trainer, batch_index):
            if clock() > self.seconds:
                trainer.should_stop = self.stopped = True

    limit = ScriptedLimit(4 * STEPS_PER_EPOCH * 1.0, every=1)
    result = train(config, quiet=True, callbacks=[clock, limit])
    assert limit.stopped and result.run_log["steps"] < 4 * STEPS_PER_EPOCH
    assert clock.lrs[-1] > 5 * clock.lrs[0] * config.schedule.end_factor / config.schedule.start_factor


@pytest.mark.parametrize("layer, message", [
    ({"schedule": {"pace": [1.0, -0.5]}}, "schedule.pace must be one or more positive rates"),
    ({"schedule": {"pace": [1.0], "name": "onecycle"}}, "schedule.pace needs a per-batch schedule other than onecycle"),
])
def test_a_pace_the_schedule_cannot_follow_is_refused_in_one_line(layer, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("fashion-tiny-2.25ep", layer)
