"""Benchmarks: device, framework, throughput and time-to-accuracy measurements."""
