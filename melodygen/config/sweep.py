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
    id: Optional[int] = None  # the trial's id in the storage
    study_name: Optional[str] = None
    storage: Optional[str] = None
    metric: str = "val/pitch_bits"  # reported after every validation, for pruning


@dataclass
class OptunaSweeperConfig:
    """``hydra/sweeper=melodygen_optuna`` (``sweep=optuna``): an Optuna study of ``n_trials`` jobs."""

    _target_: str = "hydra_plugins.melodygen_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    n_trials: int = 20  # trials that finish (completed or pruned); failed ones are replaced
    n_jobs: Optional[int] = None  # trials launched at once; null = the joblib launcher's n_jobs, else 1
    metric: str = "val/pitch_bits"  # the objective: this metric of the best checkpoint
    direction: Direction = Direction.minimize
    sampler: SearchSampler = SearchSampler.tpe
    pruner: SearchPruner = SearchPruner.median
    seed: Optional[int] = 0  # the sampler's seed
    n_startup_trials: int = 4  # trials that finish before the sampler and the median pruner act
    n_warmup_epochs: int = 1  # epochs a trial always trains before it can be pruned
    study_name: Optional[str] = None  # null = the sweep directory's name
    # null = sqlite:///<sweep dir>/optuna.db: run the same command with hydra.sweep.dir=<that dir> to resume
    storage: Optional[str] = None
    # key: a Hydra sweep, e.g. choice(64,128), range(1,4), interval(0,0.5), tag(log,interval(1e-4,1e-2))
    params: dict[str, str] = field(default_factory=dict)
    # ranges that exist for one value of a searched choice, drawn only when it is drawn:
    # {model: {transformer: {model.num_heads: choice(2,4)}, lstm: {…}}} (see melodygen/sweeps/optuna_search.py)
    conditional: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepConfig:
    """What names a sweep (or a single run) for people looking at it later."""

    # null = its time; a name such as lr-search goes into the sweep's folder (multiruns/<time>_lr-search)
    # and is the W&B group of all its runs (of a single run too)
    name: Optional[str] = None
