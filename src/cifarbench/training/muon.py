"""Muon (Jordan et al. 2024): momentum, then each conv filter bank's update orthogonalised by a
Newton-Schulz iteration, as KellerJordan/cifar10-airbench `airbench94_muon.py` trains its convs.

For a filter bank W (out, in, kh, kw) with gradient G, each step (the reference's order):

    buf <- momentum * buf + G                        (dampening 0)
    U   <- G + momentum * buf   (Nesterov)  or  buf
    W   <- W * sqrt(out) / ||W||_F                   the filter bank's norm reset to sqrt(out)
    W   <- W - lr * NS(U viewed as (out, in*kh*kw))

NS(X) orthogonalises X approximately: X / ||X||_F (so every singular value is <= 1), then
`steps` quintic iterations X <- a X + (b A + c A^2) X with A = X X^T and (a, b, c) = (3.4445,
-4.7750, 2.0315), on the wide orientation (a tall X is transposed and back). The reference
iterates in bfloat16; so does this one on CUDA, MPS and CPUs with native bf16. A CPU without it
runs bf16 matmuls 10x slower than fp32 or worse, so there the iteration runs in fp32, which is
the same iteration done more exactly (devices.cpu_supports_fast_bf16 decides).

Every other parameter (biases, the linear head) takes Nesterov SGD with PyTorch's semantics in
the same optimizer, one param group each with its own lr and decay, so one scheduler drives
both and one state_dict resumes both. torch.optim.Muon (torch >= 2.9) takes 2-D parameters and
rescales the lr by the matrix shape; it has no norm reset, so it cannot express the reference.
"""

from __future__ import annotations

import torch

from cifarbench.devices import cpu_supports_fast_bf16

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # airbench94_muon.py zeropower_via_newtonschulz5


def newton_schulz(g: torch.Tensor, steps: int, eps: float = 1e-7, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """The approximate orthogonalisation of a 2-D tensor, computed in `dtype`."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(dtype)
    x = x / (x.norm() + eps)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def iteration_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 as the reference, except on a CPU without native bf16 (see the module docstring)."""
    return torch.bfloat16 if device.type != "cpu" or cpu_supports_fast_bf16() else torch.float32


class Muon(torch.optim.Optimizer):
    """Param groups with `muon=True` take Muon steps, the others Nesterov (or plain) SGD."""

    def __init__(
        self,
        params,
        lr: float = 0.02,
        momentum: float = 0.6,
        nesterov: bool = True,
        weight_decay: float = 0.0,
        ns_steps: int = 3,
    ):
        defaults = dict(
            lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, ns_steps=ns_steps, muon=True
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, nesterov = group["lr"], group["momentum"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not group["muon"] and group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])  # PyTorch SGD's L2 form
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(g)
                buf = state["momentum_buffer"]
                buf.mul_(momentum).add_(g)
                update = g.add(buf, alpha=momentum) if nesterov else buf
                if group["muon"]:
                    p.mul_(len(p) ** 0.5 / p.norm())  # the norm reset: ||W||_F = sqrt(out channels)
                    update = newton_schulz(
                        update.reshape(len(update), -1), group["ns_steps"], dtype=iteration_dtype(p.device)
                    ).view(p.shape)
                p.add_(update.to(p.dtype), alpha=-lr)
        return loss
