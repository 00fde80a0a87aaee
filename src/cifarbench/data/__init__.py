"""Datasets as uint8 tensors (sources) and device-resident batches (loader)."""
