"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import logging
from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_train


def _train(cfg, overrides: list[str]) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from melodygen.threads import job_threads
    from melodygen.train import train  # heavy imports after the command line has been checked

    hydra_config = HydraConfig.get()
    cfg.threads, why = job_threads(cfg.threads, hydra_config.launcher, cfg.data.num_workers)
    logging.getLogger("melodygen").info("threads: %d (%s)", cfg.threads, why)
    wandb = (cfg.logger or {}).get("wandb")
    if wandb is not None:  # a sweep's runs share a group; each run is named after its own overrides
        from hydra.types import RunMode

        from melodygen.loggers import run_group, run_name, swept_keys

        multirun = hydra_config.mode == RunMode.MULTIRUN
        if wandb.group is None:
            wandb.group = run_group(cfg.task_name, multirun, hydra_config.sweep.dir, hydra_config.run.dir)
        if wandb.name is None:
            swept = swept_keys(hydra_config.sweep.dir) if multirun else None
            name = run_name(hydra_config.overrides.task, swept)
            wandb.name = name or Path(hydra_config.runtime.output_dir).name
    return train(cfg, overrides).get("val/loss")


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
