"""``melodygen-train``: compose ``conf/train.yaml`` with overrides and train."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_train
from melodygen.runtime.outputs import resolve_last_checkpoint


def finished_job(job_dir: Path, overrides: list[str]) -> dict | None:
    """The ``metrics.json`` of a job that already finished in ``job_dir`` with the same overrides."""
    path = job_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) and metrics.get("overrides") == list(overrides) else None


def _train(cfg, overrides: list[str]) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from melodygen.runtime.ddp import ddp_job, local_ranks
    from melodygen.runtime.gpus import GpuSlot, gpus_for_jobs, jobs_per_gpu, visible_gpus
    from melodygen.runtime.threads import CoreShare, job_threads, parallel_jobs, shares_cores
    from melodygen.sweeps.optuna_search import quoted
    from melodygen.training.callbacks import ShareCores
    from melodygen.training.interrupts import unfinished_checkpoint
    from melodygen.training.requeue import preempted_checkpoint
    from melodygen.training.train import train  # heavy imports after the command line has been checked

    hydra_config = HydraConfig.get()
    multirun = hydra_config.mode == RunMode.MULTIRUN
    finished = finished_job(Path(cfg.paths.output_dir), overrides) if multirun and cfg.train else None
    if (
        finished is not None
    ):  # a sweep run again into its folder (hydra.sweep.dir=…) goes on after its done jobs
        logging.getLogger("melodygen").info(
            "job %s finished before with these overrides: skipped (delete %s to train it again)",
            hydra_config.job.num,
            Path(cfg.paths.output_dir) / "metrics.json",
        )
        return finished
    preempted = preempted_checkpoint(Path(cfg.paths.output_dir))
    unfinished = unfinished_checkpoint(Path(cfg.paths.output_dir)) if cfg.train else None
    if preempted is not None:  # a requeued job goes on where it was stopped, whatever it started from
        cfg.ckpt_path = str(preempted)
        logging.getLogger("melodygen").info("resuming a preempted job from %s", preempted)
    elif unfinished is not None and cfg.ckpt_path in (None, "last"):
        # run again into the directory of a run that was stopped or killed: it goes on from its last.ckpt
        cfg.ckpt_path = str(unfinished)
        logging.getLogger("melodygen").warning(
            "resuming the unfinished run in this directory from %s", unfinished
        )
    elif cfg.ckpt_path == "last":  # before the W&B run to go on in is chosen from it
        # in a sweep, not a checkpoint the sweep's own jobs have just written
        resolve_last_checkpoint(cfg, cfg.task_name, exclude=hydra_config.sweep.dir if multirun else None)
        logging.getLogger("melodygen").info("ckpt_path=last: %s", cfg.ckpt_path)
    ranks = local_ranks(cfg.trainer) if str(cfg.trainer.strategy).startswith("ddp") else 1
    share = None
    if shares_cores(cfg.threads, hydra_config.launcher):  # the last jobs of a sweep take the freed cores
        share = CoreShare(
            Path(hydra_config.sweep.dir) / ".running", reserved=cfg.data.num_workers, ranks=ranks
        )
    cfg.threads, why = job_threads(cfg.threads, hydra_config.launcher, cfg.data.num_workers, ranks)
    logging.getLogger("melodygen").info("threads: %d (%s)", cfg.threads, why)
    wandb = (cfg.logger or {}).get("wandb")
    if wandb is not None:
        from melodygen.runtime.loggers import name_wandb_run

        name_wandb_run(wandb, cfg.task_name, cfg.ckpt_path, hydra_config, cfg.sweep.name)
    slot, sharing = None, 1
    if multirun:  # parallel jobs on a machine with GPUs: a GPU each, or an even share of them
        gpus = visible_gpus()
        accelerator = getattr(cfg.trainer.accelerator, "value", cfg.trainer.accelerator)
        parallel = parallel_jobs(hydra_config.launcher)
        per_job = gpus_for_jobs(accelerator, cfg.trainer.devices, parallel, gpus)
        if per_job is not None:
            sharing = jobs_per_gpu(parallel, per_job, gpus)
            slot = GpuSlot(Path(hydra_config.sweep.dir) / ".gpus", gpus, per_job, sharing)
    with ExitStack() as stack:
        taken = stack.enter_context(slot) if slot is not None else None
        # DDP's other ranks are started from these overrides: they resume what this rank resumes and use
        # as many threads, whatever they would find or be given on their own
        pinned = {"ckpt_path": cfg.ckpt_path and quoted(cfg.ckpt_path), "threads": cfg.threads}
        job_overrides = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in pinned]
        job_overrides += [f"{key}={value}" for key, value in pinned.items() if value is not None]
        if taken:  # and they take the same GPUs
            cfg.trainer.devices = taken
            job_overrides.append(f"trainer.devices=[{','.join(map(str, taken))}]")
            logging.getLogger("melodygen").info(
                "GPUs: %s (%s)",
                taken,
                "free when this job started"
                if sharing == 1
                else f"the least used when this job started; {parallel} jobs at once share them, at most {sharing} a GPU",
            )
        stack.enter_context(ddp_job(hydra_config, job_overrides))
        if share is not None:
            stack.enter_context(share)
        # a sweeper (sweep=optuna) reads the metrics this returns
        return train(cfg, overrides, callbacks=[ShareCores(share)] if share else [])


main = hydra_app("train", _train, check_train)

if __name__ == "__main__":
    main()
