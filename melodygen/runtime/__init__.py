"""What runs under every stage: threads, GPUs, DDP, progress lines, atomic writes, process pools and loggers."""
