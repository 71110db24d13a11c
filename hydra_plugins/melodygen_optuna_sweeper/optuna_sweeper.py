"""The Hydra side of melodygen's Optuna search: a Sweeper that hands the study to melodygen.sweeps.optuna_search."""

from __future__ import annotations

import sys
from typing import Any

from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig

from melodygen.config import register_configs

register_configs()  # hydra/sweeper=melodygen_optuna, also when Hydra finds this module first


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:  # the settings are read from hydra.sweeper in sweep()
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from melodygen.errors import MelodygenError
        from melodygen.sweeps.optuna_search import run_study

        try:
            return run_study(
                self.config.hydra.sweeper, self.config, self.launcher, self.validate_batch_is_legal, arguments
            )
        except MelodygenError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
