"""``sweep.*``, ``trial.*`` and the Optuna sweeper's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from melodygen.config.choices import Direction, SearchPruner, SearchSampler

# Hydra's structured configs need typing.Optional rather than "X | None" in field annotations.
# ruff: noqa: UP045


@dataclass
class TrialConfig:
    """Which Optuna trial a job is; melodygen's Optuna sweeper sets it, and it stays null outside a study."""

    number: Optional[int] = None
    """The Optuna trial's number in its study."""
    id: Optional[int] = None
    """The trial's id in the storage."""
    study_name: Optional[str] = None
    """The study the trial belongs to."""
    storage: Optional[str] = None
    """The study's storage (an sqlite URL)."""
    metric: str = "val/pitch_bits"
    """Reported after every validation, for pruning."""


@dataclass
class OptunaSweeperConfig:
    """``hydra/sweeper=melodygen_optuna`` (``sweep=optuna``): an Optuna study of ``n_trials`` jobs."""

    _target_: str = "hydra_plugins.melodygen_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    """The sweeper's class (Hydra's plugin)."""
    n_trials: int = 20
    """Trials that finish (completed or pruned); failed ones are replaced."""
    n_jobs: Optional[int] = None
    """Trials launched at once; null = the joblib launcher's n_jobs, else 1"""
    metric: str = "val/pitch_bits"
    """The objective: this metric of the best checkpoint"""
    direction: Direction = Direction.minimize
    """Whether the metric is to be made smaller or larger."""
    sampler: SearchSampler = SearchSampler.tpe
    """How Optuna draws the next trial: `tpe` (Bayesian, its default) or `random`."""
    pruner: SearchPruner = SearchPruner.median
    """`median` stops a trial whose epoch is worse than the median of earlier trials' same epoch; `hyperband`;
    `none`.
    """
    seed: Optional[int] = 0
    """The sampler's seed."""
    n_startup_trials: int = 4
    """Trials that finish before the sampler and the median pruner act"""
    n_warmup_epochs: int = 1
    """Epochs a trial always trains before it can be pruned"""
    study_name: Optional[str] = None
    """The study's name; null = the sweep directory's name."""
    storage: Optional[str] = None
    """Where the study is kept; null = sqlite:///<sweep dir>/optuna.db: run the same command with hydra.sweep.dir=<that dir> to resume
    """
    params: dict[str, str] = field(default_factory=dict)
    """The searched keys, each with a Hydra sweep, e.g. choice(64,128), range(1,4), interval(0,0.5), tag(log,interval(1e-4,1e-2))"""
    conditional: dict[str, Any] = field(default_factory=dict)
    """Ranges that exist for one value of a searched choice, drawn only when it is drawn: {model: {transformer:
    {model.num_heads: choice(2,4)}, lstm: {…}}} (see melodygen/sweeps/optuna_search.py)
    """


@dataclass
class SweepConfig:
    """What names a sweep (or a single run) for people looking at it later."""

    name: Optional[str] = None
    """The sweep's name; null = its time. A name such as lr-search goes into the sweep's folder (`multiruns/<time>_lr-search`)
    and is the W&B group of all its runs (of a single run too).
    """
