"""A training run: the Trainer and its callbacks, resuming, interruptions and preemption."""
