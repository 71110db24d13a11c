"""Typed config schemas (Hydra structured configs) and the value checks that types cannot express.

Every group's YAML is merged onto these dataclasses, so a misspelled key or a wrongly typed value
fails when the config is composed; :func:`check_train_config` then rejects impossible values
(``model.hidden_size=0``) with one line that names the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from melodygen.data.representations import REPRESENTATIONS
from melodygen.errors import MelodygenError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "plateau")


@dataclass
class PathsConfig:
    root_dir: str = MISSING
    data_dir: str = MISSING
    folk_dir: str = MISSING
    cache_dir: str = MISSING
    log_dir: str = MISSING
    output_dir: str = MISSING


@dataclass
class DataConfig:
    midi_dir: str = MISSING
    cache_dir: str = MISSING
    representation: str = "categorical"
    seq_len: int = 64
    window_stride: int = 16
    batch_size: int = 64
    num_workers: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    transpose: int = 0
    transpose_to_c: bool = False
    min_notes: int = 8
    parse_workers: int = 0


@dataclass
class ModelConfig:
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.2
    embedding_dim: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    scheduler: str = "none"


@dataclass
class TrainerConfig:
    """The ``pytorch_lightning.Trainer`` arguments melodygen exposes; typos fail at compose time."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Any = "32-true"
    max_epochs: int = 5
    min_epochs: int = 1
    max_steps: int = -1
    max_time: Any = None
    gradient_clip_val: Any = None
    accumulate_grad_batches: int = 1
    val_check_interval: Any = None
    check_val_every_n_epoch: Any = 1
    log_every_n_steps: int = 50
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    overfit_batches: Any = 0.0
    fast_dev_run: Any = False
    num_sanity_val_steps: int = 2
    deterministic: Any = False
    enable_checkpointing: bool = True
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    default_root_dir: Any = None


@dataclass
class SamplesConfig:
    """Melodies generated from the best checkpoint when training ends."""

    num_samples: int = 4
    length: int = 64
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


@dataclass
class TrainConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    samples: SamplesConfig = field(default_factory=SamplesConfig)
    logger: Any = None
    callbacks: Any = None
    task_name: str = "train"
    seed: int = 42
    train: bool = True
    test: bool = True
    ckpt_path: Any = None


@dataclass
class PrepareConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task_name: str = "prepare"


def register_configs() -> None:
    """Register the schemas and the ``${cwd:}`` resolver (Hydra's own is not set yet when a sweep dir is made)."""
    if not OmegaConf.has_resolver("cwd"):
        OmegaConf.register_new_resolver("cwd", os.getcwd)
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="prepare_schema", node=PrepareConfig)


def _require(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise MelodygenError(f"{key}={value!r} is not allowed: {rule}")


def check_data_config(d: DictConfig) -> None:
    """Reject ``data.*`` values no run can use, naming the key."""
    _require(
        d.representation in REPRESENTATIONS,
        "data.representation",
        d.representation,
        f"choose one of {sorted(REPRESENTATIONS)}",
    )
    for key in ("seq_len", "batch_size", "window_stride", "min_notes"):
        _require(d[key] >= 1, f"data.{key}", d[key], "must be at least 1")
    for key in ("num_workers", "parse_workers", "transpose"):
        _require(d[key] >= 0, f"data.{key}", d[key], "must not be negative")
    _require(d.transpose <= 12, "data.transpose", d.transpose, "at most 12 semitones")
    for key in ("val_fraction", "test_fraction"):
        _require(0 <= d[key] < 1, f"data.{key}", d[key], "must be in [0, 1)")
    _require(
        d.val_fraction + d.test_fraction < 1,
        "data.val_fraction",
        d.val_fraction,
        f"val_fraction + test_fraction must stay below 1 (test_fraction={d.test_fraction})",
    )


def check_train_config(cfg: DictConfig) -> None:
    """Reject values no training run can use, naming the key; returns quietly when all is well."""
    check_data_config(cfg.data)
    # the best checkpoint, early stopping and metrics.json are all decided on the validation split
    _require(
        cfg.data.val_fraction > 0,
        "data.val_fraction",
        cfg.data.val_fraction,
        "training needs a validation split",
    )
    m = cfg.model
    for key in ("hidden_size", "num_layers"):
        _require(m[key] >= 1, f"model.{key}", m[key], "must be at least 1")
    for key in ("embedding_dim", "weight_decay"):
        _require(m[key] >= 0, f"model.{key}", m[key], "must not be negative")
    _require(0 <= m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)")
    _require(m.lr > 0, "model.lr", m.lr, "must be positive")
    _require(m.optimizer in OPTIMIZERS, "model.optimizer", m.optimizer, f"choose one of {list(OPTIMIZERS)}")
    _require(m.scheduler in SCHEDULERS, "model.scheduler", m.scheduler, f"choose one of {list(SCHEDULERS)}")
    if REPRESENTATIONS[cfg.data.representation].input_kind == "embedding":
        _require(
            m.embedding_dim >= 1,
            "model.embedding_dim",
            m.embedding_dim,
            f"the {cfg.data.representation} representation needs an embedding of at least 1",
        )
    if cfg.ckpt_path is not None:
        _require(os.path.isfile(cfg.ckpt_path), "ckpt_path", cfg.ckpt_path, "no such checkpoint file")
    elif not cfg.train:
        _require(False, "train", cfg.train, "evaluation only (train=false) needs ckpt_path=path/to.ckpt")
    s = cfg.samples
    _require(s.num_samples >= 0, "samples.num_samples", s.num_samples, "must not be negative (0 = none)")
    from melodygen.generate import check_sampling_args

    check_sampling_args(max(1, s.num_samples), s.length, s.temperature, s.top_k, s.top_p, prefix="samples.")
