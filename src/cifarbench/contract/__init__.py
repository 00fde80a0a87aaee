"""The contract both frameworks keep with the run lifecycle (api.py): PyTorch's training/ and MLX's
mlx/ import it, so MLX needs nothing of PyTorch's loop (it still reads train/'s schedule builder,
which its shadow scheduler follows, and train/'s process context, to refuse torchrun).

    backend.py    Backend: what a framework supplies to a run, in the order api.py calls it
    state.py      TrainState (where the loop stands) and seed_everything
    callbacks.py  the loop's named moments, which extensions and loggers hook into
    epoch_end.py  an ended epoch's record, its validation, the best epoch and the console line
"""
