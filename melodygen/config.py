"""Every config schema (Hydra structured configs) and every value check, in one place.

Each default lives here once. The YAML files under ``conf/`` set only what their variant changes, and
the library constructors take their defaults from these classes. A misspelled key, a wrongly typed
value or an unknown choice fails when the config is composed; the ``check_*`` functions then reject
impossible values (``model.hidden_size=0``) with one line naming the key.

This module imports no torch, so a user's typo is reported before any heavy import.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, DictConfig, ListConfig, OmegaConf

from melodygen.errors import MelodygenError
from melodygen.registry import DATA_SOURCES, NETWORKS, REPRESENTATIONS, SAMPLERS, load_plugins

# Hydra's structured configs need typing.Optional rather than "X | None" in field annotations.
# ruff: noqa: UP045


class KeySource(Enum):
    """Where ``data.transpose_to_c`` takes a melody's key from."""

    estimated = "estimated"  # from its notes, all of them (Krumhansl–Schmuckler; melodygen.keys)
    notated = "notated"  # the file's key signature, as written before the first note; else estimated


class TokenizerModel(Enum):
    """What MidiTok learns on top of a tokenization when ``data.tokenizer_vocab_size`` is set."""

    BPE = "BPE"
    Unigram = "Unigram"


class Reader(Enum):
    """The library that reads MIDI files (the same extraction rules, limits and skip reasons either way)."""

    pretty_midi = "pretty_midi"
    symusic = "symusic"  # much faster on big folders; needs the miditok extra


class Optimizer(Enum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"


class Scheduler(Enum):
    none = "none"
    cosine = "cosine"  # cosine decay over trainer.max_epochs, stepped each epoch
    plateau = "plateau"
    # linear warm-up over model.warmup_steps optimizer steps, then cosine decay to 0 at the last step
    # (trainer.max_steps, or max_epochs × the batches of an epoch), stepped each optimizer step
    warmup_cosine = "warmup_cosine"


class Accelerator(Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"
    cuda = "cuda"
    mps = "mps"


class Direction(Enum):
    minimize = "minimize"
    maximize = "maximize"


class SearchSampler(Enum):
    tpe = "tpe"  # Optuna's default, a Bayesian sampler
    random = "random"


class SearchPruner(Enum):
    median = "median"  # stop a trial whose epoch is worse than the median of earlier trials' same epoch
    hyperband = "hyperband"
    none = "none"


class FolkCollection(Enum):
    """The ABC collections shipped inside music21."""

    essen = "essen"
    oneills = "oneills"
    ryans = "ryans"


class FolkRoute(Enum):
    """How ABC becomes MIDI: ``auto`` uses abc2midi when it is installed, music21 otherwise."""

    auto = "auto"
    abc2midi = "abc2midi"
    music21 = "music21"


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
class DataConfig:
    """``MelodyDataModule``: a folder of MIDI files → windows of ``seq_len`` elements."""

    # where the melodies come from: midi (a folder of MIDI files), or a registered data source (data=NAME)
    source: str = "midi"
    midi_dir: str = MISSING
    cache_dir: str = "${paths.cache_dir}"
    # how a melody is encoded, a registered name: continuous (the blog post's [pitch, duration] in [-1, 1],
    # MSE), categorical ((pitch-or-rest, duration) classes), event (one token per 16th), miditok (a MidiTok
    # tokenization, data.tokenizer), or a plugin's
    representation: str = "categorical"
    # each representation's own settings, by name: data.representations.NAME.KEY (a plugin's, say)
    representations: dict[str, Any] = field(default_factory=lambda: representation_settings())
    # data.representation=miditok: REMI, TSD, MIDILike, Structured, or a tokenizer.json saved by MidiTok
    tokenizer: str = "REMI"
    # > 0: learn a vocabulary of this many tokens (tokenizer_model) on the training split, on top of the tokenizer
    tokenizer_vocab_size: int = 0
    tokenizer_model: TokenizerModel = TokenizerModel.BPE
    tokenizer_beat_res: int = (
        4  # positions and durations per beat: 4 = 16ths (the melodies' grid), or 8, 12 …
    )
    tokenizer_rest_res: int = 4  # rest values per beat; MidiTok needs it no finer than tokenizer_beat_res
    tokenizer_rests: bool = True  # Rest tokens for silences (else only time tokens move past them)
    tokenizer_time_signatures: bool = True  # TimeSig tokens (4/4: the melodies carry no meter)
    reader: Reader = Reader.pretty_midi  # how MIDI files are read: pretty_midi or symusic (faster)
    seq_len: int = 64  # inputs per training window (notes and rests; 16th steps for event)
    window_stride: int = 16
    # windows per batch on each device; one optimizer step sees batch_size × devices × nodes ×
    # trainer.accumulate_grad_batches (logged as "batch: …" and kept in metrics.json as global_batch_size)
    batch_size: int = 64
    # DataLoader worker processes; 0 suits the in-memory windows: a batch is a slice of one tensor, so
    # workers would only copy it between processes (and take cores from training on a CPU)
    num_workers: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    # k-fold cross-validation: with folds=K the test split is fold `fold` of K (by file, seeded by
    # split_seed; test_fraction is then unused) and val_fraction of the other files validate
    folds: int = 0  # 0 = off
    fold: int = 0
    # melodies that also occur in this folder (the same notes and durations) are left out of every split,
    # e.g. the melodies a pretrained model will be tested on
    exclude_dir: Optional[str] = None
    # with exclude_dir: also leave out melodies that share this many consecutive pitch intervals with one of
    # its melodies, in any key (variants and transposed copies of the same tune); 0 = exact copies only
    exclude_shared_run: int = 0
    transpose: int = 0  # random transposition of training windows within ±N semitones (0 = off)
    transpose_to_c: bool = False  # move every melody to C (major or minor), by the key data.key says
    key: KeySource = KeySource.estimated
    # the style of each melody (model.conditions=[style]): by default the sub-folder of midi_dir it lies in
    # (the folk corpus's collection); or {label: file of paths}, e.g. '+data.style_lists={jig: jigs.txt}'
    style_lists: dict[str, str] = field(default_factory=dict)
    min_notes: int = 8  # a file whose melody has fewer notes is skipped
    parse_workers: int = 0  # processes for parsing MIDI (0 = all cores)
    # Limits that keep a huge or crafted file from taking memory or time: a file past one is skipped
    # with its reason (too_large, too_complex, absurd_length) in data_report.json. In musical terms
    # where they can be: 100,000 beats is about 14 hours at 120 beats a minute.
    max_file_bytes: int = 4_000_000
    max_tracks: int = 512
    max_events: int = 200_000
    max_notes: int = 20_000  # notes of all pitched tracks together
    max_beats: int = 100_000


@dataclass
class ModelConfig:
    """``MelodyModel``: how every architecture is trained. Each architecture's schema below adds its
    network's own keys; ``model=lstm|gru|transformer`` chooses one."""

    architecture: str = MISSING  # a registered network: lstm, gru, transformer, or a plugin's
    optimizer: Optimizer = Optimizer.adam
    lr: float = 2e-3
    weight_decay: float = 0.0
    scheduler: Scheduler = Scheduler.none
    warmup_steps: int = 0  # optimizer steps of linear warm-up, for scheduler=warmup_cosine
    # what the network is told beside every element: any of meter, key, style ([] = nothing, as before)
    conditions: list[str] = field(default_factory=list)


@dataclass
class RecurrentConfig(ModelConfig):
    """A recurrent network: input layer → ``num_layers`` recurrent layers → one head per predicted quantity."""

    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.2
    # width of each class embedding (categorical, event) or of the linear input layer (continuous;
    # 0 feeds the raw [pitch, duration] pair to the network, as the blog post did)
    embedding_dim: int = 32

    @staticmethod
    def check(m: DictConfig) -> None:
        """Reject settings no recurrent network can have, naming the key."""
        check_sizes(m, "hidden_size", "num_layers")
        check_dropout_and_embedding(m)


@dataclass
class LSTMConfig(RecurrentConfig):
    """``model=lstm``: the blog post's ``nn.LSTM``, the default."""

    architecture: str = "lstm"


@dataclass
class GRUConfig(RecurrentConfig):
    """``model=gru``: ``nn.GRU``, three gates' weights where the LSTM has four."""

    architecture: str = "gru"


@dataclass
class TransformerConfig(ModelConfig):
    """``model=transformer``: a decoder-only causal Transformer with pre-norm blocks and rotary positions.

    Each position sees itself and the ``context - 1`` elements before it, in training, scoring and
    sampling alike (sampling keeps a key/value cache of that many elements and rolls it on).
    """

    architecture: str = "transformer"
    # the shape that won a pilot of four at about the default LSTM's parameter count (docs/architectures.md)
    hidden_size: int = 128  # the width of every block (d_model)
    num_layers: int = 2
    num_heads: int = 4  # must divide hidden_size
    ff_size: int = 256  # the feed-forward layer's width
    dropout: float = 0.1  # on the input and each block's residual branches
    embedding_dim: int = 32  # as for the recurrent networks; projected to hidden_size
    context: int = II("data.seq_len")  # elements each prediction sees at most
    lr: float = 1e-3
    scheduler: Scheduler = Scheduler.warmup_cosine
    warmup_steps: int = 200

    @staticmethod
    def check(m: DictConfig) -> None:
        check_sizes(m, "hidden_size", "num_layers", "num_heads", "ff_size", "context")
        check_dropout_and_embedding(m)
        rule = f"model.num_heads={m.num_heads} must divide it"
        require(m.hidden_size % m.num_heads == 0, "model.hidden_size", m.hidden_size, rule)
        head = m.hidden_size // m.num_heads
        rule = f"each of the model.num_heads={m.num_heads} heads gets {head}, and rotary positions need an even size"
        require(head % 2 == 0, "model.hidden_size", m.hidden_size, rule)


def check_sizes(m: DictConfig, *keys: str) -> None:
    """Each of ``model.KEY`` is at least 1."""
    for key in keys:
        require(m[key] >= 1, f"model.{key}", m[key], "must be at least 1")


def check_dropout_and_embedding(m: DictConfig) -> None:
    """``model.dropout`` in [0, 1) and ``model.embedding_dim`` not negative."""
    require(m.embedding_dim >= 0, "model.embedding_dim", m.embedding_dim, "must not be negative")
    require(0 <= m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)")


class _Schemas(Mapping):
    """The config dataclass of each registered network, by ``model.architecture`` (plugins' too)."""

    def __getitem__(self, name: str) -> type[ModelConfig]:
        return NETWORKS.entry(getattr(name, "value", name)).config

    def __iter__(self):
        return iter(NETWORKS)

    def __len__(self) -> int:
        return len(NETWORKS)


#: the schema of each architecture, by ``model.architecture``
ARCHITECTURES: Mapping[str, type[ModelConfig]] = _Schemas()


def representation_settings() -> dict[str, Any]:
    """``data.representations``: the settings of each registered representation that has some, at their
    defaults (a representation registered with a config dataclass; see :mod:`melodygen.plugins`)."""
    return {e.name: e.config() for e in REPRESENTATIONS.entries() if e.config is not None}


#: the keys every architecture shares: how it is trained, not what its network is (``conditions`` is: its input)
TRAINING_KEYS = tuple(
    f.name for f in dataclasses.fields(ModelConfig) if f.name not in ("architecture", "conditions")
)


def architecture_defaults(architecture: str | Enum) -> dict[str, Any]:
    """An architecture's schema defaults as plain values (``context``, which follows ``data.seq_len``,
    is its default window)."""
    schema = ARCHITECTURES[getattr(architecture, "value", architecture)]
    defaults = {}
    for f in dataclasses.fields(schema):
        value = f.default
        defaults[f.name] = value.value if isinstance(value, Enum) else value
    if "context" in defaults:
        defaults["context"] = DataConfig.seq_len
    return defaults


def network_keys(architecture: str | Enum) -> tuple[str, ...]:
    """The keys of an architecture's network (``hidden_size``, ``num_heads`` …), in schema order."""
    schema = ARCHITECTURES[getattr(architecture, "value", architecture)]
    shared = {f.name for f in dataclasses.fields(ModelConfig)}
    return tuple(f.name for f in dataclasses.fields(schema) if f.name not in shared)


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
class SamplingConfig:
    """How melodies are sampled, by ``melodygen-generate`` and at the end of ``melodygen-train``."""

    num_samples: int = 4
    length: int = 64  # notes and rests generated after the primer (event: onsets)
    temperature: float = 1.0  # 0 = always the most likely class
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    # a registered sampler: sample (draw each element: temperature, top_k, top_p; temperature 0 = the
    # likeliest), beam (the likeliest continuations, beam_size kept at every step), or a plugin's
    strategy: str = "sample"
    beam_size: int = 4  # continuations kept at every step (strategy=beam); num_samples of them are returned
    # what a conditioned model is asked for (null = drawn from its training melodies, per sample):
    meter: Optional[str] = None  # a time signature it was trained on, e.g. 6/8
    key: Optional[str] = None  # a tonic: C, D, F#, Bb …
    mode: Optional[str] = None  # major or minor
    style: Optional[str] = None  # a style label it was trained on, e.g. oneills


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
    # {model: {transformer: {model.num_heads: choice(2,4)}, lstm: {…}}} (see melodygen/search.py)
    conditional: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepConfig:
    """What names a sweep (or a single run) for people looking at it later."""

    # null = its time; a name such as lr-search goes into the sweep's folder (multiruns/<time>_lr-search)
    # and is the W&B group of all its runs (of a single run too)
    name: Optional[str] = None


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
    # torch's intra-op threads; null = this job's share of the cores (see melodygen/threads.py)
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


def claim_folder(path: str) -> str:
    """``path``, made now; if it exists already, ``path-2``, ``path-3`` … (the first that did not).

    A sweep's folder is named after the second it started in, as Hydra's are; two sweeps started in the
    same second would share it (and their W&B group). ``mkdir`` either makes a folder or fails, so of two
    processes asking at once each gets its own. Resolved once per sweep: the resolver is cached, and
    Hydra copies the cache into each job's config (keyed by the unresolved text, so a job whose own config
    names another task still finds the sweep's folder).
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = base if number == 1 else base.with_name(f"{base.name}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return str(folder)
    raise AssertionError("unreachable")


#: the key of each config group that names the registered part its option is
DISCRIMINATORS = {"model": "architecture", "data": "source", "samples": "strategy"}


def register_configs(plugins: Sequence[str] = ()) -> None:
    """Load the plugins (installed ones, and the modules ``plugins`` names), then register the schemas, a
    config-group option for each registered part (``model=mlp`` for a plugin's network), the ``${cwd:}``
    resolver (Hydra's own is not set yet when a sweep dir is made), ``${suffix:x}`` (``_x``, or nothing for
    null: a sweep's name after its time) and ``${claim:path}`` (:func:`claim_folder`)."""
    load_plugins(plugins)
    if not OmegaConf.has_resolver("cwd"):
        OmegaConf.register_new_resolver("cwd", os.getcwd)
    if not OmegaConf.has_resolver("suffix"):
        OmegaConf.register_new_resolver("suffix", lambda value: f"_{value}" if value else "")
    if not OmegaConf.has_resolver("claim"):  # cached: a sweep's jobs (Hydra copies the cache) see the same
        OmegaConf.register_new_resolver("claim", claim_folder, use_cache=True)
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(name=name, node=node)
    # conf/model/<architecture>.yaml extends its schema (kept out of the model group's own options); a
    # plugin's part is an option of its group as it is
    for registry in (NETWORKS, DATA_SOURCES, SAMPLERS):
        for entry in registry.entries():
            if entry.config is None:
                continue
            node = OmegaConf.structured(entry.config)
            node[DISCRIMINATORS[registry.group]] = entry.name
            store.store(group=f"schema/{registry.group}", name=entry.name, node=node)
            if not entry.built_in:
                store.store(group=registry.group, name=entry.name, node=node, provider=entry.provider)
    store.store(
        group="hydra/sweeper", name="melodygen_optuna", node=OptunaSweeperConfig, provider="melodygen"
    )


def to_plain(cfg: DictConfig) -> dict:
    """A resolved config as plain Python values (choices as their names), fit for JSON and checkpoints."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


# ---------------------------------------------------------------------------------------------- checks


def as_typed(value: Any, quote_strings: bool = True) -> str:
    """A value as a user types it on the command line: ``true``, ``0.5``, ``categorical``, ``'/a/path'``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, str) and quote_strings:
        return repr(value)
    return str(value)


def require(ok: bool, key: str, value: Any, rule: str) -> None:
    """Raise a one-line :class:`MelodygenError` ``key=value is not allowed: rule`` unless ``ok``."""
    if not ok:
        raise MelodygenError(f"{key}={as_typed(value)} is not allowed: {rule}")


#: the data.* keys that bound what one MIDI file may cost to read
LIMITS = ("max_file_bytes", "max_tracks", "max_events", "max_notes", "max_beats")


def check_data(d: DictConfig) -> None:
    """Reject ``data.*`` values no run can use, naming the key (a data source's own keys by its schema's
    ``check``)."""
    representation = REPRESENTATIONS.entry(REPRESENTATIONS.check(d.representation))
    settings_check = getattr(representation.config, "check", None)
    if settings_check is not None:  # its own settings, data.representations.<name>
        settings_check(d.representations[representation.name])
    source = DATA_SOURCES.entry(d.source)
    if source.config is not None and OmegaConf.get_type(d) not in (source.config, dict):
        raise MelodygenError(
            f"data.source={source.name} is not allowed: choose the data source with data={source.name}"
        )
    own_check = getattr(source.config, "check", None)
    if own_check is not None:
        own_check(d)
    for key in ("seq_len", "batch_size", "window_stride", "min_notes", *LIMITS):
        require(d[key] >= 1, f"data.{key}", d[key], "must be at least 1")
    for key in ("num_workers", "parse_workers", "transpose", "exclude_shared_run"):
        require(d[key] >= 0, f"data.{key}", d[key], "must not be negative")
    require(d.transpose <= 12, "data.transpose", d.transpose, "at most 12 semitones")
    require(
        d.tokenizer_vocab_size >= 0, "data.tokenizer_vocab_size", d.tokenizer_vocab_size, "0 (off) or more"
    )
    rule = "a multiple of 4 (4 = 16ths, the melodies' grid), so every note keeps its place and length"
    require(d.tokenizer_beat_res >= 4 and d.tokenizer_beat_res % 4 == 0, "data.tokenizer_beat_res",
            d.tokenizer_beat_res, rule)  # fmt: skip
    require(d.tokenizer_rest_res >= 1, "data.tokenizer_rest_res", d.tokenizer_rest_res, "must be at least 1")
    for key in ("val_fraction", "test_fraction"):
        require(0 <= d[key] < 1, f"data.{key}", d[key], "must be in [0, 1)")
    require(
        d.folds == 0 or d.folds >= 2, "data.folds", d.folds, "at least 2 folds (or 0 for no cross-validation)"
    )
    if d.folds:
        require(0 <= d.fold < d.folds, "data.fold", d.fold, f"a fold number from 0 to {d.folds - 1}")
    require(
        d.val_fraction + d.test_fraction < 1,
        "data.val_fraction",
        d.val_fraction,
        f"val_fraction + test_fraction must stay below 1 (test_fraction={d.test_fraction})",
    )


def check_model(m: DictConfig) -> None:
    """Reject ``model.*`` values no network can have, naming the key: how every model is trained here,
    its network's own settings by its schema's ``check`` (a plugin's too)."""
    architecture = NETWORKS.check(m.architecture)
    schema = ARCHITECTURES[architecture]
    if OmegaConf.get_type(m) not in (schema, dict):  # model=lstm model.architecture=transformer
        chosen = next(name for name, cls in ARCHITECTURES.items() if cls is OmegaConf.get_type(m))
        raise MelodygenError(
            f"model.architecture={architecture} is not allowed: choose the architecture with "
            f"model={architecture} (this is model={chosen})"
        )
    for key in ("weight_decay", "warmup_steps"):
        require(m[key] >= 0, f"model.{key}", m[key], "must not be negative")
    require(m.lr > 0, "model.lr", m.lr, "must be positive")
    from melodygen.conditions import check_names

    check_names(m.conditions)
    own_check = getattr(schema, "check", None)
    if own_check is not None:
        own_check(m)


def check_sampling(
    num_samples: int,
    length: int,
    temperature: float,
    top_k: int,
    top_p: float,
    prefix: str = "samples.",
    strategy: str = "sample",
    beam_size: int = 1,
) -> None:
    """Raise :class:`MelodygenError` naming the first impossible sampling value."""
    strategy = SAMPLERS.check(as_typed(strategy, quote_strings=False))
    require(num_samples >= 1, f"{prefix}num_samples", num_samples, "must be at least 1")
    if strategy == "beam":
        require(beam_size >= 1, f"{prefix}beam_size", beam_size, "must be at least 1")
        require(
            num_samples <= beam_size,
            f"{prefix}num_samples",
            num_samples,
            f"beam search returns at most beam_size={beam_size} continuations",
        )
    require(length >= 1, f"{prefix}length", length, "must be at least 1")
    require(temperature >= 0, f"{prefix}temperature", temperature, "must not be negative (0 means argmax)")
    require(top_k >= 0, f"{prefix}top_k", top_k, "must not be negative (0 keeps every class)")
    require(0 < top_p <= 1, f"{prefix}top_p", top_p, "must be in (0, 1]")


def check_samples(s: DictConfig, none_allowed: bool = False) -> None:
    """``samples.*``: the shared sampling values (``num_samples=0`` only where ``none_allowed``: no samples),
    then the chosen sampler's own settings by its schema's ``check`` (a plugin's)."""
    check_sampling(
        max(1, s.num_samples) if none_allowed else s.num_samples,
        s.length,
        s.temperature,
        s.top_k,
        s.top_p,
        strategy=s.strategy,
        beam_size=s.beam_size,
    )
    sampler = SAMPLERS.entry(s.strategy)
    node_type = OmegaConf.get_type(s)
    if sampler.config is not None and node_type is not dict and not issubclass(node_type, sampler.config):
        raise MelodygenError(
            f"samples.strategy={sampler.name} is not allowed: its settings come with samples={sampler.name}"
        )
    own_check = getattr(sampler.config, "check", None)
    if own_check is not None:
        own_check(s)
    samples_conditions(s)


def sampler_options(samples: DictConfig) -> dict[str, Any]:
    """The settings a plugin's sampler adds to ``samples`` (the keys beyond :class:`SamplingConfig`'s)."""
    shared = {f.name for f in dataclasses.fields(SamplingConfig)}
    return {k: v for k, v in to_plain(samples).items() if k not in shared}


def samples_conditions(samples: DictConfig) -> dict[str, str]:
    """The conditions ``samples.meter/key/mode/style`` ask for (see :func:`melodygen.conditions.asked_conditions`)."""
    from melodygen.conditions import asked_conditions

    return asked_conditions(samples.meter, samples.key, samples.mode, samples.style)


def check_midi_dir(cfg: DictConfig) -> None:
    """``data.midi_dir`` must be a folder (for a data source that reads one); the built-in folk corpus says
    how to build it."""
    if not DATA_SOURCES.entry(cfg.data.source).extra.get("reads_midi_dir", False):
        return
    midi_dir = os.path.expanduser(cfg.data.midi_dir)
    if not os.path.isdir(midi_dir):
        if cfg.data.midi_dir == cfg.paths.folk_dir:
            hint = (
                "build the folk corpus with melodygen-corpus (make data in a checkout), or point "
                "data.midi_dir at a folder of MIDI files"
            )
        else:
            hint = "give a folder of MIDI files"
        raise MelodygenError(f"data.midi_dir={midi_dir!r} is not a folder: {hint}")


def latest_checkpoint(log_dir: str, task_name: str = "*", exclude: str | None = None) -> str | None:
    """The newest ``last.ckpt`` of a task's runs and sweep jobs under ``log_dir`` (``*``: any task),
    leaving out those under ``exclude``."""
    import glob

    root = os.path.join(os.path.expanduser(log_dir), task_name)
    found = glob.glob(os.path.join(root, "runs", "*", "checkpoints", "last.ckpt"))
    found += glob.glob(os.path.join(root, "multiruns", "*", "*", "checkpoints", "last.ckpt"))
    if exclude:
        inside = os.path.abspath(exclude) + os.sep
        found = [path for path in found if not os.path.abspath(path).startswith(inside)]
    return max(found, key=os.path.getmtime) if found else None


def resolve_last_checkpoint(cfg: DictConfig, task_name: str = "*", exclude: str | None = None) -> None:
    """``ckpt_path=last`` → the newest ``last.ckpt`` under ``paths.log_dir`` (of ``task_name``'s runs,
    not under ``exclude``)."""
    if cfg.ckpt_path != "last":
        return
    path = latest_checkpoint(cfg.paths.log_dir, task_name, exclude)
    if path is None:
        where = os.path.join(cfg.paths.log_dir, task_name)
        raise MelodygenError(f"ckpt_path=last: no run under {where!r} has a last.ckpt yet; give a path")
    cfg.ckpt_path = path


def check_checkpoint_path(path: str | os.PathLike | None, key: str = "ckpt_path") -> None:
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        raise MelodygenError(f"{key}={str(os.path.expanduser(path))!r}: no such checkpoint file")


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


def checkpoint_list(ckpt_path: Any) -> list[str]:
    """``ckpt_path`` as a list of paths (one path, or a list of them)."""
    if ckpt_path is None:
        return []
    return (
        [str(p) for p in ckpt_path] if isinstance(ckpt_path, list | tuple | ListConfig) else [str(ckpt_path)]
    )


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
