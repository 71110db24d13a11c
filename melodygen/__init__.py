"""melodygen: train, sweep and compare melody-generation models."""

__version__ = "0.1.0"
