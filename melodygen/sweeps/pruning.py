"""Pruning an Optuna trial from inside its training job: a Lightning callback that reports to the study."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.trainer.states import TrainerFn

from melodygen.errors import MelodygenError
from melodygen.sweeps.optuna_search import load_study, make_pruner

log = logging.getLogger(__name__)


class TrialPruning(pl.Callback):
    """Report ``metric`` after every validation to the job's Optuna trial; stop training when the study's
    pruner prunes the trial. Rank 0 talks to the storage and tells the other ranks."""

    def __init__(self, trial_id: int, storage: str, study_name: str, metric: str):
        self.trial_id, self.storage, self.study_name, self.metric = trial_id, storage, study_name, metric
        self.pruned_at_epoch: int | None = None
        self._trial = None

    def _optuna_trial(self):
        if self._trial is None:
            import optuna

            study = load_study(self.storage, self.study_name)
            study.pruner = make_pruner(**study.user_attrs["pruner"])  # the sweeper's, not Optuna's default
            self._trial = optuna.trial.Trial(study, self.trial_id)
        return self._trial

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        prune, value = False, None
        if trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.metric)
            if value is None:
                known = ", ".join(sorted(k for k in trainer.callback_metrics if k.startswith("val/")))
                raise MelodygenError(f"trial.metric={self.metric}: not logged; validation logs {known}")
            trial = self._optuna_trial()
            trial.report(float(value), step=trainer.current_epoch)
            prune = trial.should_prune()
        if trainer.strategy.broadcast(prune):
            self.pruned_at_epoch = trainer.current_epoch
            trainer.should_stop = True
            log.info("trial pruned after epoch %d (%s %s)", trainer.current_epoch, self.metric, value)


def trial_callback(trial: DictConfig) -> TrialPruning | None:
    """The pruning callback of a job that is an Optuna trial; None for any other job."""
    if trial.id is None:
        return None
    return TrialPruning(trial.id, trial.storage, trial.study_name, trial.metric)
