"""The MLX backend (`--framework mlx`): the same recipes, data, splits and augmentation as the
PyTorch loop, trained with mlx.core / mlx.nn / mlx.optimizers in NHWC.

MLX is an optional dependency (`pip install "cifarbench[mlx]"`: mlx[cpu] on Linux, Metal on
Apple silicon); nothing here is imported unless MLX is asked for.
"""

from __future__ import annotations

from cifarbench.errors import UserError


def require_mlx():
    """mlx.core, or a one-line error saying how to install it."""
    try:
        import mlx.core as mx
    except ImportError:
        raise UserError(
            '--framework mlx needs MLX: pip install "cifarbench[mlx]" (mlx[cpu] on Linux, Metal on Apple silicon)'
        ) from None
    return mx
