"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from melodygen.cli.app import CONFIG_DIR, user_errors_as_one_line
from melodygen.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@user_errors_as_one_line
def main(cfg: DictConfig) -> float | None:
    from melodygen.train import train  # heavy imports after Hydra has parsed the command line

    metrics = train(cfg)
    return metrics.get("val/loss")


if __name__ == "__main__":
    main()
