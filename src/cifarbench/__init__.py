"""cifarbench: train and benchmark small-image classifiers on any device, and record what was measured."""

__version__ = "0.1.0"
