"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import logging

from melodygen.cli.app import hydra_app
from melodygen.config import check_train


def _train(cfg, overrides: list[str]) -> dict:
    from hydra.core.hydra_config import HydraConfig

    from melodygen.threads import job_threads
    from melodygen.train import train  # heavy imports after the command line has been checked

    hydra_config = HydraConfig.get()
    cfg.threads, why = job_threads(cfg.threads, hydra_config.launcher, cfg.data.num_workers)
    logging.getLogger("melodygen").info("threads: %d (%s)", cfg.threads, why)
    wandb = (cfg.logger or {}).get("wandb")
    if wandb is not None:
        from melodygen.loggers import name_wandb_run

        name_wandb_run(wandb, cfg.task_name, cfg.ckpt_path, hydra_config)
    return train(cfg, overrides)  # a sweeper (sweep=optuna) reads its metrics


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
