"""Training as a plain function: a composed config in, a run directory and a metrics dict out."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar

from melodygen.config import check_train_config
from melodygen.data.datamodule import MelodyDataModule
from melodygen.generate import load_model, sample_melodies
from melodygen.models import MelodyLSTM

log = logging.getLogger(__name__)


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry of a ``callbacks`` or ``logger`` group; ``null`` entries are switched off."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None and "_target_" in node]


def build_datamodule(cfg: DictConfig) -> MelodyDataModule:
    return MelodyDataModule(
        **OmegaConf.to_container(cfg.data, resolve=True), progress=bool(cfg.trainer.enable_progress_bar)
    )


def build_model(cfg: DictConfig) -> MelodyLSTM:
    return MelodyLSTM(
        representation=cfg.data.representation,
        max_epochs=cfg.trainer.max_epochs,
        **OmegaConf.to_container(cfg.model, resolve=True),
    )


def build_trainer(cfg: DictConfig) -> pl.Trainer:
    loggers = _instantiate_group(cfg.logger)
    callbacks = _instantiate_group(cfg.callbacks)
    if not loggers:  # the LR monitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.trainer.enable_progress_bar:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    return pl.Trainer(**kwargs, callbacks=callbacks, logger=loggers or False)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _first(results: list[dict]) -> dict:
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def train(cfg: DictConfig) -> dict:
    """Fit, evaluate the best checkpoint, write ``metrics.json`` and samples; returns the metrics."""
    check_train_config(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    trainer = build_trainer(cfg)
    for logger in trainer.loggers:  # the whole composed config, so runs can be compared on any key
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    started = time.perf_counter()
    try:
        if cfg.train:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        train_seconds = time.perf_counter() - started
        ckpt = trainer.checkpoint_callback
        best = ckpt.best_model_path if isinstance(ckpt, ModelCheckpoint) and ckpt.best_model_path else None
        if not cfg.train:  # evaluation only: score the checkpoint asked for
            best = cfg.ckpt_path
        metrics = _first(trainer.validate(model, datamodule=datamodule, ckpt_path=best, verbose=False))
        if cfg.test:
            metrics.update(_first(trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)))
        if not trainer.is_global_zero:
            return metrics
        out.mkdir(parents=True, exist_ok=True)
        datamodule.corpus.write_report(out / "data_report.json")
        last = out / "checkpoints" / "last.ckpt"
        summary = {
            **metrics,
            "best_checkpoint": best,
            "last_checkpoint": str(last) if last.exists() else None,
            "global_step": int(trainer.global_step),
            "epochs": int(trainer.current_epoch),
            "train_seconds": round(train_seconds, 2),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "representation": cfg.data.representation,
        }
        _write_json(out / "metrics.json", summary)
        if cfg.samples.num_samples > 0:
            _write_samples(cfg, model if best is None else load_model(best), out / "samples")
        log.info("metrics: %s", json.dumps(metrics, sort_keys=True))
        return metrics
    finally:
        _finish_wandb()


def _write_samples(cfg: DictConfig, model: MelodyLSTM, folder: Path) -> None:
    from melodygen.render import write_melodies

    s = cfg.samples
    melodies = sample_melodies(
        model, s.num_samples, s.length, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p, seed=cfg.seed
    )
    write_melodies(melodies, folder)


def _finish_wandb() -> None:
    """Close the W&B run, so the next job of a multirun starts its own instead of reusing this one."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
