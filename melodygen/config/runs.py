"""The schema of each command (``melodygen-train``, ``-prepare``, ``-generate``, ``-evaluate``,
``-corpus``): its groups and top-level keys, with the checks of a whole config."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from melodygen import pretrained
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
    """The folder melodygen was started from, or `$MELODYGEN_ROOT`."""
    data_dir: str = "${paths.root_dir}/data"
    """Data and its cache."""
    folk_dir: str = "${paths.data_dir}/folk"
    """The built-in folk corpus (`melodygen-corpus` writes it)."""
    cache_dir: str = "${paths.data_dir}/cache"
    """Parsed melodies (`data.cache_dir`)."""
    log_dir: str = "${paths.root_dir}/outputs"
    """Every run's folder: `<log_dir>/<task_name>/runs/<time>` and
    `<log_dir>/<task_name>/multiruns/<time>/<job>`.
    """
    output_dir: str = "${hydra:runtime.output_dir}"
    """This run's folder (Hydra's)."""


@dataclass
class TrainerConfig:
    """The ``pytorch_lightning.Trainer`` arguments melodygen sets; ``+trainer.NAME=value`` adds others."""

    accelerator: Accelerator = Accelerator.auto
    """Where to train: `auto` uses a GPU when there is one, else the CPU."""
    devices: Any = 1
    """Devices per node (GPUs, or CPU processes with `trainer=ddp trainer.accelerator=cpu`)."""
    num_nodes: int = 1
    """Machines, for DDP across nodes (SLURM)."""
    strategy: str = "auto"
    """Lightning's strategy: `auto`, `ddp` …"""
    precision: Any = "32-true"
    """`32-true`, or mixed: `bf16-mixed` where the GPU supports it, else `16-mixed`."""
    max_epochs: int = 2
    """Epochs to train at most."""
    min_epochs: int = 1
    """Epochs to train at least (before early stopping may stop the run)."""
    max_steps: int = -1
    """Optimizer steps to train at most; -1 = no limit."""
    max_time: Any = None
    """Wall-clock limit, e.g. `00:00:10:00` (DD:HH:MM:SS); null = none."""
    gradient_clip_val: Any = 1.0
    """Gradients are clipped to this norm; null = off."""
    accumulate_grad_batches: int = 1
    """Batches whose gradients add up to one optimizer step."""
    val_check_interval: Any = None
    """Validate every this many training batches (an int) or this share of an epoch (a float); null = once an
    epoch.
    """
    check_val_every_n_epoch: Any = 1
    """Validate every N epochs."""
    log_every_n_steps: int = 50
    """Training metrics are logged every N steps."""
    limit_train_batches: Any = None
    """Train on at most this many batches (an int) or this share (a float) of an epoch; null = all."""
    limit_val_batches: Any = None
    """The same for validation."""
    limit_test_batches: Any = None
    """The same for the test."""
    overfit_batches: Any = 0.0
    """Train and validate on this many training batches only (`debug=overfit`); 0 = off."""
    fast_dev_run: Any = False
    """One batch of training and validation to check that everything runs (`debug=fast_dev_run`)."""
    num_sanity_val_steps: int = 2
    """Validation batches run before training starts, to catch a bug early."""
    deterministic: Any = False
    """Deterministic algorithms only (bit-for-bit repeatable on a GPU, and slower)."""
    enable_checkpointing: bool = True
    """Write checkpoints."""
    enable_progress_bar: bool = True
    """Show a progress bar."""
    enable_model_summary: bool = True
    """Print the network's layers and parameter counts at the start."""
    default_root_dir: Any = "${paths.output_dir}"
    """Lightning's own files (the run's folder)."""


@dataclass
class TrainConfig:
    plugins: list[str] = field(default_factory=list)
    """Modules to import before the config is composed, whose parts become options (`plugins=[my_parts]`);
    installed plugin packages load by themselves.
    """
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    """The network and how it is trained; conf/train.yaml chooses `model: lstm`."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    samples: SamplingConfig = field(default_factory=SamplingConfig)
    logger: Any = None
    """Where metrics go, chosen with `logger=NAME`: csv, tensorboard, wandb or none (metrics.json is always written)."""
    callbacks: Any = None
    """Checkpoints, early stopping and the sample monitor, chosen with `callbacks=default` or `callbacks=none`."""
    task_name: str = "train"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""
    seed: int = 42
    """Seed of the weights, the batches' order and the samples: the same seed and settings give the same run.
    """
    train: bool = True
    """Fit the model (false: only score `ckpt_path`)."""
    test: bool = True
    """Then score the best checkpoint on the test split."""
    ckpt_path: Optional[str] = None
    """Resume from this checkpoint (or score it, with train=false); `last` = the newest last.ckpt of this
    task; `pretrained:<name>` = a pretrained model, to score (train=false).
    """
    init_from: Optional[str] = None
    """Start a new run from this checkpoint's weights (fine-tuning): the model's shape comes from it; the
    optimizer, learning rate and epochs start anew. `pretrained:<name>` = a pretrained model.
    """
    threads: Optional[int] = None
    """Torch's intra-op threads; null = this job's share of the cores (its CPU affinity, SLURM's count, or the
    cores divided by the sweep's parallel jobs).
    """
    trial: TrialConfig = field(default_factory=TrialConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)


@dataclass
class PrepareConfig:
    plugins: list[str] = field(default_factory=list)
    """Modules to import before the config is composed (see `melodygen-train`)."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task_name: str = "prepare"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""


@dataclass
class GenerateConfig:
    plugins: list[str] = field(default_factory=list)
    """Modules to import before the config is composed (see `melodygen-train`)."""
    ckpt_path: str = MISSING
    """The checkpoint to sample from; `last` = the newest last.ckpt of any run; `pretrained:<name>` = a
    pretrained model."""
    pretrained: Optional[str] = None
    """A model that ships with melodygen (folk-lstm, folk-transformer, folk-transformer-conditioned), instead
    of `ckpt_path`; its card lies beside it in melodygen/pretrained/.
    """
    samples: SamplingConfig = field(default_factory=SamplingConfig)
    primer: Optional[str] = None
    """A MIDI file, or notes as PITCH:16THS such as "60:4 C4:2 F#4:2 r:2" (C4 = 60); null = none."""
    seed: Optional[int] = 0
    """The same seed gives the same melodies; null draws a fresh one."""
    out_dir: Optional[str] = None
    """Where the melodies go; null = `<run dir>/samples`."""
    png: bool = True
    """Piano rolls: one beside each of the first `max_pngs` MIDI files, and a grid of 16."""
    max_pngs: int = 16
    """Drawing one takes about 0.8 s, so a thousand samples get the first 16."""
    wav: bool = True
    """A WAV beside each of those (FluidSynth's SoundFont piano, or sine tones)."""
    device: str = "auto"
    """`auto` = cuda when available, else cpu; or any torch device."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "generate"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""


@dataclass
class EvaluateConfig:
    """``melodygen-evaluate``: score checkpoints on a MIDI folder, and/or compare generated melodies with real ones."""

    ckpt_path: Any = None
    """A checkpoint, or a list of them for one comparison table (`'ckpt_path=[a.ckpt,b.ckpt]'`); `last` = the
    newest last.ckpt of any run; `pretrained:<name>` = a pretrained model; null with `samples_dir` = compare
    sets only.
    """
    pretrained: Optional[str] = None
    """A model that ships with melodygen (folk-lstm, folk-transformer, folk-transformer-conditioned), instead
    of `ckpt_path`; its card lies beside it in melodygen/pretrained/.
    """
    plugins: list[str] = field(default_factory=list)
    """Modules to import before the config is composed (see `melodygen-train`)."""
    data: DataConfig = field(default_factory=DataConfig)
    """`data.midi_dir` holds the melodies to score."""
    samples_dir: Optional[str] = None
    """A folder of generated MIDI to compare with `reference_dir` (Yang & Lerch 2018); null = no comparison.
    """
    reference_dir: Optional[str] = None
    """The real melodies to compare `samples_dir` with; null = `data.midi_dir`."""
    device: str = "auto"
    """`auto` = cuda when available, else cpu."""
    batch_size: int = 32
    """Melodies scored at once."""
    adapt_lr: float = 0.0
    """Dynamic evaluation (categorical models): the model also learns within each melody it scores, one SGD
    step of this learning rate after every `adapt_chunk` elements; the weights return before the next
    melody. 0 = off.
    """
    adapt_chunk: int = 4
    """With `adapt_lr` above 0: elements scored between two learning steps."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "evaluate"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""


@dataclass
class CorpusConfig:
    """``melodygen-corpus``: the folk corpus, one MIDI file per tune of the ABC collections in music21."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    out_dir: str = "${paths.folk_dir}"
    """Where the MIDI files go, one sub-folder per collection."""
    collections: list[FolkCollection] = field(default_factory=lambda: list(FolkCollection))
    """The ABC collections shipped inside music21 to export."""
    route: FolkRoute = FolkRoute.auto
    """How ABC becomes MIDI: `auto` uses abc2midi when it is installed (seconds), music21 otherwise (minutes).
    """
    workers: int = 0
    """Processes; 0 = all cores, 1 = run in this process."""
    limit: Optional[int] = None
    """At most this many tunes per collection (quick runs); null = all."""
    max_tune_notes: int = 2000
    """The longest tune; a longer repeat expansion is exported as written."""
    progress: bool = True
    """Show a progress bar."""
    task_name: str = "corpus"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""


@dataclass
class ExportConfig:
    """``melodygen-export``: a checkpoint's network as a folder that runs without torch (ONNX)."""

    plugins: list[str] = field(default_factory=list)
    """Modules to import before the config is composed (see `melodygen-train`)."""
    ckpt_path: str = MISSING
    """The checkpoint to export; `last` = the newest last.ckpt of any run; `pretrained:<name>` = a pretrained
    model."""
    pretrained: Optional[str] = None
    """A model that ships with melodygen (folk-lstm, folk-transformer, folk-transformer-conditioned), instead
    of `ckpt_path`; its card lies beside it in melodygen/pretrained/.
    """
    out_dir: Optional[str] = None
    """The folder to write; null = `<run dir>/export`."""
    check_steps: int = 64
    """Steps of a rollout on which the exported function is held to torch's logits before the folder is
    written (0 = none)."""
    page: bool = True
    """Write `index.html` beside the model: a page that generates melodies in the browser, offline (categorical
    and event models)."""
    runtime: Optional[str] = None
    """The onnxruntime-web package the page runs on, a `.tgz` from the npm registry; null = downloaded once
    into `~/.cache/melodygen`."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "export"
    """Names the folder of this command's runs: `<paths.log_dir>/<task_name>/`."""


SCHEMAS = {
    "train_schema": TrainConfig,
    "prepare_schema": PrepareConfig,
    "generate_schema": GenerateConfig,
    "corpus_schema": CorpusConfig,
    "evaluate_schema": EvaluateConfig,
    "export_schema": ExportConfig,
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


def take_pretrained(cfg: DictConfig, command: str) -> None:
    """``pretrained=<name>`` → ``ckpt_path``, and ``pretrained:<name>`` in ``ckpt_path`` → its file."""
    given = not OmegaConf.is_missing(cfg, "ckpt_path") and cfg.ckpt_path is not None
    if cfg.get("pretrained") is not None:
        if given:
            raise MelodygenError(
                f"pretrained={cfg.pretrained!r} and ckpt_path={cfg.ckpt_path!r}: give one of them, not both"
            )
        cfg.ckpt_path = pretrained.checkpoint_of(str(cfg.pretrained))
    elif OmegaConf.is_missing(cfg, "ckpt_path"):
        raise MelodygenError(
            f"ckpt_path is required, e.g. {command} ckpt_path=path/to/last.ckpt, or {command} pretrained=folk-lstm"
        )
    elif isinstance(cfg.ckpt_path, ListConfig):
        cfg.ckpt_path = [pretrained.resolve(str(p)) for p in cfg.ckpt_path]
    else:
        cfg.ckpt_path = pretrained.resolve(cfg.ckpt_path)


def check_generate(cfg: DictConfig) -> None:
    take_pretrained(cfg, "melodygen-generate")
    resolve_last_checkpoint(cfg)
    check_checkpoint_path(cfg.ckpt_path)
    check_samples(cfg.samples)
    require(cfg.max_pngs >= 0, "max_pngs", cfg.max_pngs, "0 (only the grid) or more piano rolls")


def check_export(cfg: DictConfig) -> None:
    take_pretrained(cfg, "melodygen-export")
    resolve_last_checkpoint(cfg)
    check_checkpoint_path(cfg.ckpt_path)
    require(cfg.check_steps >= 0, "check_steps", cfg.check_steps, "0 (no check) or more steps")


def check_evaluate(cfg: DictConfig) -> None:
    if cfg.pretrained is not None or cfg.ckpt_path is not None:
        take_pretrained(cfg, "melodygen-evaluate")
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
    if pretrained.is_pretrained(cfg.ckpt_path) and cfg.train:
        raise MelodygenError(
            f"ckpt_path={cfg.ckpt_path}: a pretrained model holds no optimizer state to resume; fine-tune it "
            f"with init_from={cfg.ckpt_path}, or score it with train=false"
        )
    cfg.ckpt_path = pretrained.resolve(cfg.ckpt_path)
    cfg.init_from = pretrained.resolve(cfg.init_from, "init_from")
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
    guided = s.get("guidance", 1.0) != 1
    # from a checkpoint, the checkpoint decides (and sampling checks it)
    fresh = cfg.ckpt_path is None and cfg.init_from is None
    require(
        not (guided and fresh and not cfg.model.get("condition_dropout", 0.0)),
        "samples.guidance",
        s.get("guidance"),
        "needs a model trained with model.condition_dropout (e.g. 0.1) and model.conditions",
    )


def check_corpus_config(cfg: DictConfig) -> None:
    check_corpus(cfg.workers, cfg.limit, cfg.max_tune_notes)


def check_corpus(workers: int, limit: int | None, max_tune_notes: int) -> None:
    """Reject ``melodygen-corpus`` options no build can use, naming the option."""
    require(workers >= 0, "workers", workers, "0 (all cores) or a positive number of processes")
    require(limit is None or limit >= 1, "limit", limit, "at least 1 tune per collection (or null for all)")
    require(max_tune_notes >= 1, "max_tune_notes", max_tune_notes, "must be at least 1")
