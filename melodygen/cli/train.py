"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import logging

from melodygen.cli.app import hydra_app
from melodygen.config import check_train


def _train(cfg, overrides: list[str]) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from melodygen.threads import job_threads
    from melodygen.train import train  # heavy imports after the command line has been checked

    cfg.threads, why = job_threads(cfg.threads, HydraConfig.get().launcher, cfg.data.num_workers)
    logging.getLogger("melodygen").info("threads: %d (%s)", cfg.threads, why)
    return train(cfg, overrides).get("val/loss")


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
