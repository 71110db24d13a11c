"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

from melodygen.cli.app import hydra_app
from melodygen.config import check_train


def _train(cfg, overrides: list[str]) -> float | None:
    from melodygen.train import train  # heavy imports after the command line has been checked

    return train(cfg, overrides).get("val/loss")


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
