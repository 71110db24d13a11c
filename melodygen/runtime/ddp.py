"""DDP inside a Hydra job: the other ranks run this job, not the whole sweep, and leave nothing behind.

Lightning's ``ddp`` strategy starts ranks 1… by running the script again with ``sys.argv`` and
``hydra.run.dir=<HydraConfig run.dir>``. In a multirun ``sys.argv`` is the sweep (``-m`` and every
comma-separated value) and ``run.dir`` a fresh ``runs/<now>`` folder, so each child would start the whole
sweep again in a stray directory. :func:`ddp_job` makes both name this job alone while it runs: its own
overrides with ``hydra.mode=RUN``, and its own output directory. It also names the program: Lightning runs
``python -m <__main__'s module>``, which in a job of the joblib or submitit launcher is that launcher's
worker, not melodygen. Afterwards it restores them all, removes the rank variables Lightning put into
``os.environ`` (a ``LOCAL_RANK`` left there makes the next job of the sweep believe it is a child) and
destroys the process group, so the next job starts clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig, read_write

#: The variables Lightning's launcher sets in the launching process.
RANK_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def local_ranks(trainer: DictConfig | dict) -> int:
    """How many processes one node runs: ``devices`` when it is a count or a list, else 1."""
    devices = trainer["devices"]
    if isinstance(devices, int) or (isinstance(devices, str) and devices.isdigit()):
        return max(1, int(devices))
    if isinstance(devices, list | tuple) or type(devices).__name__ == "ListConfig":
        return max(1, len(devices))
    return 1


@contextmanager
def ddp_job(
    hydra_config: Any, overrides: Sequence[str], entry: str = "melodygen.cli.train"
) -> Iterator[None]:
    """While a job of a multirun trains, make Lightning's rank launcher run exactly this job, with the
    ``entry`` module as the program."""
    import importlib.util

    from hydra.types import RunMode

    argv, environ = list(sys.argv), dict(os.environ)
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    run_dir = hydra_config.run.dir
    if hydra_config.mode == RunMode.MULTIRUN:
        sys.argv[1:] = [*overrides, "hydra.mode=RUN"]
        main.__spec__ = importlib.util.find_spec(entry)
        with read_write(hydra_config.run):
            hydra_config.run.dir = hydra_config.runtime.output_dir
    try:
        yield
    finally:
        sys.argv[:] = argv
        main.__spec__ = spec
        with read_write(hydra_config.run):
            hydra_config.run.dir = run_dir
        for name in RANK_VARIABLES:
            if name in environ:
                os.environ[name] = environ[name]
            else:
                os.environ.pop(name, None)
        _destroy_process_group()


def _destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
