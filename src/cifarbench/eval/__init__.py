"""Evaluation: metrics from predictions (metrics), test-time augmentation (tta)."""
