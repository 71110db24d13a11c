"""Helpers shared by tests: compose the real Hydra config with test paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from melodygen.cli.app import config_dir
from melodygen.config import register_configs

#: the built-in representations that need no tokenizer (miditok's tests are tests/representations/)
REPRESENTATIONS = ("categorical", "continuous", "event")
#: overrides for a one-layer model on short windows, without progress bar or summary
QUIET_SMALL_RUN = [
    "model.num_layers=1",
    "model.embedding_dim=8",
    "data.seq_len=16",
    "data.batch_size=16",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]

#: the same, without samples after training or after each epoch
QUIET_SMALL_RUN_NO_SAMPLES = [*QUIET_SMALL_RUN, "samples.num_samples=0", "callbacks.sample_monitor=null"]


def compose_train(root: Path, midi_dir: Path, *overrides: str, config_name: str = "train"):
    """The ``train`` config as ``melodygen-train`` would compose it, with every path under ``root``."""
    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(
            config_name,
            overrides=[
                f"paths.root_dir={root}",
                f"paths.output_dir={root / 'run'}",
                f"data.midi_dir={midi_dir}",
                *overrides,
            ],
        )


def run_cli(
    command: str, cwd: Path, *overrides: str, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``melodygen-<command>`` as a user would, in a subprocess started in ``cwd`` (also MELODYGEN_ROOT).

    ``env`` adds to (or replaces) the environment's variables.
    """
    env = {**os.environ, "MELODYGEN_ROOT": str(cwd), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", f"melodygen.cli.{command}", *overrides],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def run_compare(*args, timeout: int = 180) -> subprocess.CompletedProcess:
    """``melodygen-compare`` with ``args`` (paths and options), in a subprocess as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "melodygen.cli.compare", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
