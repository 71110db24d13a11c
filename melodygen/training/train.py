"""Training as a plain function: a composed config in, a run directory and a metrics dict out."""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from melodygen.config import check_train, require, sampler_options, samples_conditions, to_plain
from melodygen.data.datamodule import MelodyDataModule
from melodygen.data.protocol import MELODY_DATA
from melodygen.errors import MelodygenError
from melodygen.generation.sampling import sample_melodies
from melodygen.models import MelodyModel, load_model, read_checkpoint
from melodygen.models.checkpoint import safe_loading
from melodygen.music.conditions import Conditioning
from melodygen.registry import DATA_SOURCES
from melodygen.representations import Representation, representation_from_config, representation_from_hparams
from melodygen.representations.position import reads_bar_position, reads_bars_left
from melodygen.runtime.atomic import write_json_atomic
from melodygen.runtime.loggers import WandbLogger, close_loggers
from melodygen.sweeps.pruning import TrialPruning, trial_callback
from melodygen.training.callbacks import Curves, RunFacts
from melodygen.training.interrupts import (
    AtomicCheckpointIO,
    DataOrder,
    StopOnNonFinite,
    StopOnSignal,
    Stopped,
)
from melodygen.training.requeue import SaveOnPreemption, clear_preempted
from melodygen.training.resume import adopt_checkpoint, adopt_shape, check_epochs_left, overridden_keys

log = logging.getLogger(__name__)


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry of a ``callbacks`` or ``logger`` group; ``null`` entries are switched off."""
    if not group:
        return []
    try:
        return [instantiate(node) for node in group.values() if node is not None and "_target_" in node]
    except InstantiationException as exc:  # a callback of ours refused its settings: its one line
        if isinstance(exc.__cause__, MelodygenError):
            raise exc.__cause__ from None
        raise


def build_datamodule(cfg: DictConfig) -> MelodyDataModule:
    """The data source ``cfg.data`` chooses (``midi``: :class:`MelodyDataModule`; a plugin's with ``data=NAME``),
    given every ``data.*`` key."""
    datamodule = DATA_SOURCES.get_class(cfg.data.source)
    missing = [name for name in MELODY_DATA if not callable(getattr(datamodule, name, None))]
    if missing or not issubclass(datamodule, pl.LightningDataModule):
        lacks = f"lacks {', '.join(missing)}" if missing else "is not a LightningDataModule"
        raise MelodygenError(
            f"data.source={cfg.data.source}: {datamodule.__qualname__} {lacks} (see melodygen.data.protocol)"
        )
    return datamodule(
        **to_plain(cfg.data),
        conditions=list(cfg.model.conditions),
        progress=bool(cfg.trainer.enable_progress_bar),
        seed=int(cfg.seed),
    )


def build_model(
    cfg: DictConfig, representation: Representation | None = None, conditioning: Conditioning | None = None
) -> MelodyModel:
    """The model ``cfg.model`` describes (its architecture and that architecture's settings), reading
    ``representation`` (by default the one ``cfg.data`` names; a tokenizer's is the datamodule's), conditioned
    as ``conditioning`` says (the datamodule's :meth:`~MelodyDataModule.fit_conditioning`)."""
    if representation is None:
        representation = representation_from_config(cfg.data)
    model = to_plain(cfg.model)
    model.pop("conditions", None)
    return MelodyModel(
        **representation.hparams(),
        representation=representation.name,
        transpose_to_c=cfg.data.transpose_to_c,
        key=cfg.data.key.value,
        max_epochs=cfg.trainer.max_epochs,
        bar_position=reads_bar_position(cfg.data, representation),
        bars_left=reads_bars_left(cfg.data, representation),
        **model,
        **(conditioning.hparams() if conditioning is not None else {}),
    )


def check_accelerator(accelerator: str) -> None:
    """A GPU asked for on a machine without one is one line that says how to train on the CPU."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        why = (
            "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        )
        raise MelodygenError(
            f"trainer.accelerator={accelerator}: no GPU here ({why}); train on the CPU with trainer=cpu, "
            f"or trainer=default, which uses a GPU only when there is one"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise MelodygenError("trainer.accelerator=mps: Apple's MPS is not available here; use trainer=cpu")


def resolve_precision(precision, accelerator: str):
    """``mixed`` → ``bf16-mixed`` on a GPU that supports bfloat16, ``16-mixed`` on an older one, and
    ``32-true`` without a GPU; any other value stays."""
    if precision != "mixed":
        return precision
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def build_trainer(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> pl.Trainer:
    kwargs = to_plain(cfg.trainer)
    check_accelerator(kwargs["accelerator"])
    kwargs["precision"] = resolve_precision(kwargs["precision"], kwargs["accelerator"])
    loggers = _instantiate_group(cfg.logger)
    callbacks = [*_instantiate_group(cfg.callbacks), RunFacts(), Curves(), *extra_callbacks]
    pruning = trial_callback(cfg.trial)
    if pruning is not None:  # this job is a trial of an Optuna study (sweep=optuna)
        callbacks.append(pruning)
    if not loggers:  # the LR monitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.trainer.enable_progress_bar:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    try:
        # checkpoints are written beside their target and renamed into place: a kill never leaves half a file
        plugins = [*(kwargs.pop("plugins", None) or []), AtomicCheckpointIO()]
        return pl.Trainer(**kwargs, callbacks=callbacks, logger=loggers or False, plugins=plugins)
    except TypeError:  # +trainer.NAME=… that the Trainer does not take
        unknown = sorted(set(kwargs) - set(inspect.signature(pl.Trainer.__init__).parameters))
        if not unknown:
            raise
        raise MelodygenError(
            f"trainer.{unknown[0]} is not a Trainer argument (see pytorch_lightning.Trainer's parameters)"
        ) from None
    except (MisconfigurationException, ValueError) as exc:
        raise MelodygenError(f"trainer: {' '.join(str(exc).split())}") from None


def _log_config(trainer: pl.Trainer, cfg: DictConfig, out: Path) -> None:
    """The whole composed config, with Hydra's overrides and group choices, goes to every logger, so runs
    can be compared on any key; a W&B run's id is kept in ``wandb_run.json`` in the run directory."""
    params = to_plain(cfg)
    params.update(_hydra_choices())
    for logger in trainer.loggers:
        try:
            logger.log_hyperparams(params)
            if isinstance(logger, WandbLogger) and trainer.is_global_zero:
                run = logger.experiment
                record = {"id": run.id, "project": run.project, "group": run.group, "name": run.name}
                write_json_atomic(out / "wandb_run.json", {**record, "mode": run.settings.mode})
        except Exception as exc:
            if type(exc).__module__.startswith("wandb"):  # not logged in, no network, bad project…
                raise MelodygenError(
                    f"logger=wandb: {' '.join(str(exc).split())[:200]}; or set WANDB_MODE=offline to keep "
                    f"runs on disk"
                ) from None
            raise


def _hydra_choices() -> dict:
    """The job's command-line overrides and config-group choices (``model: lstm``), when Hydra runs it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    choices = {
        group: choice for group, choice in hydra.runtime.choices.items() if not group.startswith("hydra/")
    }
    return {"hydra": {"overrides": list(hydra.overrides.task), "choices": choices}}


def _first(results: list[dict]) -> dict:
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def train(cfg: DictConfig, overrides: Sequence[str] = (), callbacks: Sequence[pl.Callback] = ()) -> dict:
    """Fit, evaluate the best checkpoint, write ``metrics.json`` and samples; returns what
    ``metrics.json`` holds (on other DDP ranks: the metrics alone).

    ``overrides`` are the command line's ``key=value`` overrides: with ``ckpt_path``, the checkpoint's
    model shape replaces the config's, and an override that contradicts it is an error. ``callbacks`` go
    to the Trainer beside the config's.
    """
    check_train(cfg)
    start_weights, stored = None, None  # stored: the hyperparameters of the checkpoint the run starts from
    if cfg.ckpt_path is not None:
        ckpt = read_checkpoint(cfg.ckpt_path)
        stored = ckpt["hyper_parameters"]
        for change in adopt_checkpoint(cfg, stored, overridden_keys(overrides)):
            log.info("from the checkpoint: %s", change)
        if cfg.train:
            check_epochs_left(ckpt, cfg.trainer.max_epochs, cfg.trainer.max_steps)
        del ckpt
    if cfg.init_from is not None and cfg.ckpt_path is None:  # a resumed run's weights are in ckpt_path
        start = read_checkpoint(cfg.init_from, "init_from")
        for change in adopt_shape(cfg, start["hyper_parameters"], overridden_keys(overrides)):
            log.info("from init_from: %s", change)
        start_weights, stored = start["state_dict"], start["hyper_parameters"]
    datamodule = build_datamodule(cfg)
    if stored is not None:  # the checkpoint's own representation (its tokenizer, its settings)
        datamodule.use_representation(representation_from_hparams(stored))
    representation = datamodule.fit_representation()  # a vocabulary, if asked for, learned here
    if stored is not None and stored.get("conditions"):  # the checkpoint's own labels
        datamodule.use_conditioning(Conditioning.from_hparams(stored))
    conditioning = datamodule.fit_conditioning()
    if representation.input_kind == "embedding" and "embedding_dim" in cfg.model:
        rule = f"the {representation.name} representation needs an embedding of at least 1"
        require(cfg.model.embedding_dim >= 1, "model.embedding_dim", cfg.model.embedding_dim, rule)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.paths.output_dir)
    model = build_model(cfg, representation, conditioning)
    if _is_rank_zero():
        for path in representation.write_files(out):
            log.info("%s: %s (%s)", path.stem, path, representation.label)
    if start_weights is not None:
        model.load_state_dict(start_weights)
        log.info("weights from init_from=%s", cfg.init_from)
    # on a cluster: save before the job is requeued (preempted.json, checkpoints/preempted.ckpt);
    # Ctrl-C or SIGTERM: save last.ckpt and stop; a resumed run goes on with the same batches
    # NaN or infinite loss: one line, and no checkpoint with such weights
    stops = [SaveOnPreemption(out), StopOnSignal(out), DataOrder(), StopOnNonFinite(cfg.model.lr)]
    trainer = build_trainer(cfg, [*callbacks, *stops])
    global_batch = cfg.data.batch_size * trainer.world_size * cfg.trainer.accumulate_grad_batches
    log.info(
        "batch: %d windows per device × %d device(s) × %d accumulated = %d per optimizer step",
        cfg.data.batch_size,
        trainer.world_size,
        cfg.trainer.accumulate_grad_batches,
        global_batch,
    )
    failed = True
    try:
        _log_config(trainer, cfg, out)
        started = time.perf_counter()
        if cfg.train:
            try:
                with safe_loading():  # checked above; weights only, whoever wrote the file
                    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
            except Stopped as stop:
                _report_stop(stop, out)
                raise SystemExit(stop.exit_code) from None
        train_seconds = time.perf_counter() - started
        pruning = next((c for c in trainer.callbacks if isinstance(c, TrialPruning)), None)
        pruned_at = pruning.pruned_at_epoch if pruning is not None else None
        ckpt_callback = trainer.checkpoint_callback
        has_best = isinstance(ckpt_callback, ModelCheckpoint) and ckpt_callback.best_model_path
        best = ckpt_callback.best_model_path if has_best else None
        if not cfg.train:  # evaluation only: score the checkpoint asked for
            best = cfg.ckpt_path
        best_epoch = None
        if best is not None:  # a resumed run's best can be a file the checkpoint named: checked, weights only
            best_epoch = read_checkpoint(best, "the best checkpoint").get("epoch")
        with safe_loading():
            scored = {"datamodule": datamodule, "ckpt_path": best, "verbose": False, "weights_only": True}
            metrics = _first(trainer.validate(model, **scored))
            if cfg.test and pruned_at is None:  # a pruned trial is not worth a test
                metrics.update(_first(trainer.test(model, **scored)))
        if not trainer.is_global_zero:
            failed = False
            return metrics
        write_json_atomic(out / "data_report.json", datamodule.report())
        last = out / "checkpoints" / "last.ckpt"
        summary = {
            **metrics,
            "best_checkpoint": best,
            "last_checkpoint": str(last) if last.exists() else None,
            "global_step": int(trainer.global_step),
            "epochs": int(trainer.current_epoch),
            "train_seconds": round(train_seconds, 2),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "global_batch_size": global_batch,
            "world_size": trainer.world_size,
            "representation": representation.label,
            "overrides": list(overrides),  # a sweep run again into its folder skips this job by them
        }
        if best_epoch is not None:
            summary["best_epoch"] = int(best_epoch)
        if pruned_at is not None:
            summary["pruned_at_epoch"] = pruned_at
        if model.bars_left:  # val/ and test/ figures read each tune's bars left from its own length
            summary["looks_ahead"] = ["bars_left"]
            log.info(
                "val/ and test/ figures read the bars left to each tune's end from its own length (they look ahead)"
            )
        write_json_atomic(out / "metrics.json", summary)
        _summarize_wandb(trainer, summary)
        clear_preempted(out)
        if cfg.samples.num_samples > 0 and pruned_at is None:
            _write_samples(cfg, model if best is None else load_model(best), out / "samples")
        log.info("metrics: %s", json.dumps(metrics, sort_keys=True))
        failed = False
        return summary
    finally:
        close_loggers(trainer.loggers)
        _finish_wandb(failed)


def _is_rank_zero() -> bool:
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def _report_stop(stop: Stopped, out: Path) -> None:
    """The one line a stopped run leaves: where it stopped, and how to go on."""
    import signal

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    again = "the same command"
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        multirun = hydra.mode == RunMode.MULTIRUN
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        where = Path(hydra.sweep.dir) if multirun else out
        again = f"the same command with {key}={where}"
    log.error(
        "stopped by %s at epoch %d, step %d; saved %s (no metrics.json). To go on, run %s",
        signal.Signals(stop.signum).name,
        stop.epoch,
        stop.step,
        stop.checkpoint,
        again,
    )


def _write_samples(cfg: DictConfig, model: MelodyModel, folder: Path) -> None:
    from melodygen.evaluation.metrics import STATISTICS_FILE, write_statistics
    from melodygen.music.render import write_melodies

    s = cfg.samples
    melodies = sample_melodies(
        model, s.num_samples, s.length, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p, seed=cfg.seed,
        strategy=s.strategy, beam_size=s.beam_size, conditions=samples_conditions(s), options=sampler_options(s),
        bars=s.get("bars"), guidance=s.guidance,
    )  # fmt: skip
    write_melodies(melodies, folder, wav=True)
    write_statistics(melodies, folder / STATISTICS_FILE, after="training", checkpoint="best")


def _summarize_wandb(trainer: pl.Trainer, summary: dict) -> None:
    """The W&B run's summary holds what ``metrics.json`` holds: the best checkpoint's figures (not the last
    epoch's), its epoch and path, so a runs table sorted by ``val/pitch_bits`` ranks as melodygen-compare."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            kept = {k: v for k, v in summary.items() if k != "overrides" and v is not None}
            logger.experiment.summary.update(kept)


def _finish_wandb(failed: bool = False) -> None:
    """Close the W&B run (marked failed when the run failed), so the next job of a multirun starts its own
    instead of reusing this one."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=1 if failed else 0)
