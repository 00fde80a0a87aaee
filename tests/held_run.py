"""`cifarbench <args>` with its training held after one step, so that a test acts on a run that is
certainly still under way, however fast the machine is.

    python tests/held_run.py STEP FOLDER train --config ...

After optimizer step STEP the loop writes FOLDER/held and waits, computing nothing, until a stop
signal has arrived (the run then stops after this step, as it would have anyway) or FOLDER/release
exists (the run goes on). A test that kills the process needs neither: the run is held until the
kill. Waiting changes no number the run computes, so a held run equals an unheld one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cifarbench.cli import main
from cifarbench.contract.callbacks import Callback
from cifarbench.training import backend

HELD, RELEASE = "held", "release"


class HoldAtStep(Callback):
    def __init__(self, step: int, folder: Path):
        self.step, self.folder = step, folder

    def on_batch_end(self, trainer, batch_index):
        if trainer.state.step != self.step:
            return
        (self.folder / HELD).write_text(str(self.step))
        while trainer.stop_signal is None and not (self.folder / RELEASE).exists():
            time.sleep(0.01)  # waiting for an event (a signal, a file), not for a length of time


def held_trainer(hold: HoldAtStep):
    make_trainer = backend.TorchBackend.make_trainer

    def make(self, run, meta):
        trainer = make_trainer(self, run, meta)
        trainer.callbacks.callbacks.append(hold)
        return trainer

    return make


if __name__ == "__main__":
    step, folder, *args = sys.argv[1:]
    backend.TorchBackend.make_trainer = held_trainer(HoldAtStep(int(step), Path(folder)))
    sys.exit(main(args))
