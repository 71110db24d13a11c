"""Searching over training configs: the Optuna sweeper and the pruning of its trials."""
