"""The schema of each command (``melodygen-train``, ``-prepare``, ``-generate``, ``-evaluate``,
``-corpus``): its groups and top-level keys, with the checks of a whole config."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from melodygen.config.choices import Accelerator, FolkCollection, FolkRoute
from melodygen.config.data import DataConfig, check_data, check_midi_dir
from melodygen.config.model import ModelConfig, check_model
from melodygen.config.sampling import SamplingConfig, check_samples
from melodygen.config.sweep import SweepConfig, TrialConfig
from melodygen.config.values import require
from melodygen.errors import MelodygenError
from melodygen.runtime.outputs import resolve_last_checkpoint

# Hydra's structured configs need typing.Optional rather than "X | None" in field annotations.
# ruff: noqa: UP045


@dataclass
class PathsConfig:
    """Where things live. ``root_dir`` is the folder melodygen was started from (or $MELODYGEN_ROOT)."""

    root_dir: str = "${oc.env:MELODYGEN_ROOT,${cwd:}}"
    data_dir: str = "${paths.root_dir}/data"
    folk_dir: str = "${paths.data_dir}/folk"
    cache_dir: str = "${paths.data_dir}/cache"
    log_dir: str = "${paths.root_dir}/outputs"
    output_dir: str = "${hydra:runtime.output_dir}"  # this run's directory


@dataclass
class TrainerConfig:
    """The ``pytorch_lightning.Trainer`` arguments melodygen sets; ``+trainer.NAME=value`` adds others."""

    accelerator: Accelerator = Accelerator.auto  # auto: a GPU when there is one, else the CPU
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Any = "32-true"  # or mixed: bf16-mixed where the GPU supports it, else 16-mixed
    max_epochs: int = 5
    min_epochs: int = 1
    max_steps: int = -1
    max_time: Any = None
    gradient_clip_val: Any = 1.0
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
    default_root_dir: Any = "${paths.output_dir}"


@dataclass
class TrainConfig:
    plugins: list[str] = field(default_factory=list)
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)  # conf/train.yaml chooses model: lstm
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    samples: SamplingConfig = field(default_factory=SamplingConfig)
    logger: Any = None
    callbacks: Any = None
    task_name: str = "train"
    seed: int = 42
    train: bool = True  # fit the model
    test: bool = True  # then score the best checkpoint on the test split
    # resume from this checkpoint (or score it, with train=false); last = the newest last.ckpt of this task
    ckpt_path: Optional[str] = None
    # start a new run from this checkpoint's weights (fine-tuning): the model's shape comes from it, the
    # optimizer, learning rate and epochs start anew
    init_from: Optional[str] = None
    # torch's intra-op threads; null = this job's share of the cores (see melodygen/runtime/threads.py)
    threads: Optional[int] = None
    trial: TrialConfig = field(default_factory=TrialConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)


@dataclass
class PrepareConfig:
    plugins: list[str] = field(default_factory=list)
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task_name: str = "prepare"


@dataclass
class GenerateConfig:
    plugins: list[str] = field(default_factory=list)
    ckpt_path: str = MISSING  # the checkpoint to sample from; last = the newest last.ckpt of any run
    samples: SamplingConfig = field(default_factory=SamplingConfig)
    # a MIDI file, or notes as PITCH:16THS such as "60:4 C4:2 F#4:2 r:2" (C4 = 60); null = none
    primer: Optional[str] = None
    seed: Optional[int] = 0  # the same seed gives the same melodies; null draws a fresh one
    out_dir: Optional[str] = None  # null = <run dir>/samples
    png: bool = True  # piano rolls: one beside each of the first max_pngs MIDI files, and a grid of 16
    max_pngs: int = 16  # drawing one takes about 0.8 s, so a thousand samples get the first 16
    wav: bool = True  # a WAV beside each of those (FluidSynth's SoundFont piano, or sine tones)
    device: str = "auto"  # auto = cuda when available, else cpu; or any torch device
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "generate"


@dataclass
class EvaluateConfig:
    """``melodygen-evaluate``: score checkpoints on a MIDI folder, and/or compare generated melodies with real ones."""

    # a checkpoint, or a list of them for one comparison table ('ckpt_path=[a.ckpt,b.ckpt]'); last = the
    # newest last.ckpt of any run; null with samples_dir = compare sets only
    ckpt_path: Any = None
    plugins: list[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)  # data.midi_dir: the melodies to score
    # a folder of generated MIDI to compare with reference_dir (Yang & Lerch 2018); null = no comparison
    samples_dir: Optional[str] = None
    reference_dir: Optional[str] = None  # null = data.midi_dir
    device: str = "auto"  # auto = cuda when available, else cpu
    batch_size: int = 32  # melodies scored at once
    # dynamic evaluation (categorical models): the model also learns within each melody it scores, one SGD
    # step of adapt_lr after every adapt_chunk elements; the weights return before the next melody. 0 = off
    adapt_lr: float = 0.0
    adapt_chunk: int = 4
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "evaluate"


@dataclass
class CorpusConfig:
    """``melodygen-corpus``: the folk corpus, one MIDI file per tune of the ABC collections in music21."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    out_dir: str = "${paths.folk_dir}"
    collections: list[FolkCollection] = field(default_factory=lambda: list(FolkCollection))
    route: FolkRoute = FolkRoute.auto
    workers: int = 0  # processes; 0 = all cores, 1 = run in this process
    limit: Optional[int] = None  # at most this many tunes per collection (quick runs)
    max_tune_notes: int = 2000  # longest tune; a longer repeat expansion is exported as written
    progress: bool = True
    task_name: str = "corpus"


SCHEMAS = {
    "train_schema": TrainConfig,
    "prepare_schema": PrepareConfig,
    "generate_schema": GenerateConfig,
    "corpus_schema": CorpusConfig,
    "evaluate_schema": EvaluateConfig,
}


def check_checkpoint_path(path: str | os.PathLike | None, key: str = "ckpt_path") -> None:
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        raise MelodygenError(f"{key}={str(os.path.expanduser(path))!r}: no such checkpoint file")


def checkpoint_list(ckpt_path: Any) -> list[str]:
    """``ckpt_path`` as a list of paths (one path, or a list of them)."""
    if ckpt_path is None:
        return []
    return (
        [str(p) for p in ckpt_path] if isinstance(ckpt_path, list | tuple | ListConfig) else [str(ckpt_path)]
    )


def check_prepare(cfg: DictConfig) -> None:
    check_data(cfg.data)
    check_midi_dir(cfg)


def check_generate(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise MelodygenError("ckpt_path is required, e.g. melodygen-generate ckpt_path=path/to/last.ckpt")
    resolve_last_checkpoint(cfg)
    check_checkpoint_path(cfg.ckpt_path)
    check_samples(cfg.samples)
    require(cfg.max_pngs >= 0, "max_pngs", cfg.max_pngs, "0 (only the grid) or more piano rolls")


def check_evaluate(cfg: DictConfig) -> None:
    require(
        cfg.ckpt_path is not None or cfg.samples_dir is not None,
        "ckpt_path",
        None,
        "give a checkpoint to score on data.midi_dir, or samples_dir=… to compare with reference_dir",
    )
    if cfg.ckpt_path == "last":
        resolve_last_checkpoint(cfg)
    for path in checkpoint_list(cfg.ckpt_path):
        check_checkpoint_path(path)
    if cfg.ckpt_path is not None or cfg.reference_dir is None:
        check_midi_dir(cfg)
    for key in ("samples_dir", "reference_dir"):
        folder = cfg[key]
        if folder is not None and not os.path.isdir(os.path.expanduser(folder)):
            raise MelodygenError(f"{key}={str(os.path.expanduser(folder))!r} is not a folder")
    require(cfg.batch_size >= 1, "batch_size", cfg.batch_size, "at least 1 melody at a time")
    require(cfg.adapt_lr >= 0, "adapt_lr", cfg.adapt_lr, "must not be negative (0 = no adaptation)")
    require(cfg.adapt_chunk >= 1, "adapt_chunk", cfg.adapt_chunk, "at least 1 element between steps")


def check_train(cfg: DictConfig) -> None:
    """Reject values no training run can use, naming the key; returns quietly when all is well."""
    check_data(cfg.data)
    check_model(cfg.model)
    check_midi_dir(cfg)
    resolve_last_checkpoint(cfg, cfg.task_name)
    check_checkpoint_path(cfg.ckpt_path)
    check_checkpoint_path(cfg.init_from, "init_from")
    if cfg.data.exclude_dir is not None:
        exclude = os.path.expanduser(cfg.data.exclude_dir)
        require(os.path.isdir(exclude), "data.exclude_dir", exclude, "no such folder")
    # the best checkpoint, early stopping and metrics.json are all decided on the validation split
    require(
        cfg.data.val_fraction > 0,
        "data.val_fraction",
        cfg.data.val_fraction,
        "training needs a validation split",
    )
    # ddp_spawn's workers start from a pickled copy of the run: the loggers' state and what the launching
    # process writes afterwards are lost (CSV and TensorBoard fail)
    strategy = str(cfg.trainer.strategy)
    spawned = strategy.startswith(("ddp_spawn", "ddp_notebook", "ddp_fork"))
    require(not spawned, "trainer.strategy", strategy, "use trainer=ddp, which also works in a --multirun")
    if cfg.ckpt_path is None and not cfg.train:
        require(False, "train", cfg.train, "evaluation only (train=false) needs ckpt_path=path/to.ckpt")
    require(
        cfg.threads is None or cfg.threads >= 1, "threads", cfg.threads, "at least 1 (or null for a share)"
    )
    name = cfg.sweep.name
    rule = "a name of letters, digits, '.', '_' and '-' (it names a folder and a W&B group)"
    require(name is None or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(name)), "sweep.name", name, rule)
    every = OmegaConf.select(cfg, "callbacks.model_checkpoint.last_every_n_steps", default=None)
    key = "callbacks.model_checkpoint.last_every_n_steps"
    require(every is None or every >= 1, key, every, "at least 1 (or null for the end of each epoch only)")
    s = cfg.samples
    require(s.num_samples >= 0, "samples.num_samples", s.num_samples, "must not be negative (0 = none)")
    check_samples(s, none_allowed=True)


def check_corpus_config(cfg: DictConfig) -> None:
    check_corpus(cfg.workers, cfg.limit, cfg.max_tune_notes)


def check_corpus(workers: int, limit: int | None, max_tune_notes: int) -> None:
    """Reject ``melodygen-corpus`` options no build can use, naming the option."""
    require(workers >= 0, "workers", workers, "0 (all cores) or a positive number of processes")
    require(limit is None or limit >= 1, "limit", limit, "at least 1 tune per collection (or null for all)")
    require(max_tune_notes >= 1, "max_tune_notes", max_tune_notes, "must be at least 1")
