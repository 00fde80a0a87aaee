"""The device and precision names a user can type, without torch: the config checks them when a
command line is parsed (and `--help` lists them) before anything loads torch; devices.py does what
each one means."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "bf16-pure", "fp16-pure")
