"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import open_dict

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
        resumed = _wandb_run_of(cfg.ckpt_path)
        if resumed:  # go on in the W&B run of the checkpoint's run (online; offline W&B makes a new one)
            with open_dict(wandb):
                wandb.id, wandb.resume = resumed["id"], "allow"
            wandb.group, wandb.name = wandb.group or resumed.get("group"), wandb.name or resumed.get("name")
        if wandb.group is None:
            wandb.group = run_group(cfg.task_name, multirun, hydra_config.sweep.dir, hydra_config.run.dir)
        if wandb.name is None:
            swept = swept_keys(hydra_config.sweep.dir) if multirun else None
            name = run_name(hydra_config.overrides.task, swept)
            wandb.name = name or Path(hydra_config.runtime.output_dir).name
    return train(cfg, overrides).get("val/loss")


def _wandb_run_of(ckpt_path: str | None) -> dict | None:
    """The ``wandb_run.json`` of the run that wrote ``ckpt_path`` (``<run>/checkpoints/<name>.ckpt``)."""
    if ckpt_path is None:
        return None
    record = Path(ckpt_path).expanduser().resolve().parent.parent / "wandb_run.json"
    return json.loads(record.read_text()) if record.is_file() else None


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
