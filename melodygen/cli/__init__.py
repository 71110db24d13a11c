"""Hydra entry points. Each composes a config and calls a plain library function."""
