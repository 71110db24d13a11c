"""``data.*``: where the melodies come from, how they are encoded and cut into windows, and its checks."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf, ValidationError

from melodygen.config.choices import KeySource, Reader, TokenizerModel
from melodygen.config.values import require
from melodygen.errors import MelodygenError
from melodygen.registry import DATA_SOURCES, REPRESENTATIONS

# Hydra's structured configs need typing.Optional rather than "X | None" in field annotations.
# ruff: noqa: UP045


@dataclass
class DataConfig:
    """``MelodyDataModule``: a folder of MIDI files → windows of ``seq_len`` elements."""

    source: str = "midi"
    """Where the melodies come from: `midi` (a folder of MIDI files) or a registered data source, chosen with
    `data=NAME`.
    """
    midi_dir: str = MISSING
    """The folder of MIDI files (searched recursively); `~` is expanded. The folk corpus by default
    (`data=folk`).
    """
    cache_dir: str = "${paths.cache_dir}"
    """Where parsed melodies are cached, keyed by the folder and the reading settings: a second run skips the
    parsing.
    """
    representation: str = "categorical"
    """How a melody is encoded, a registered name: `continuous` (the blog post's [pitch, duration] in [-1, 1],
    MSE), `categorical` ((pitch-or-rest, duration) classes), `event` (one token per 16th), `miditok` (a
    MidiTok tokenization, `data.tokenizer`), or a plugin's.
    """
    representations: dict[str, Any] = field(default_factory=lambda: representation_settings())
    """Each representation's own settings, by name: `data.representations.NAME.KEY` (see each representation
    below).
    """
    tokenizer: str = "REMI"
    """With `data.representation=miditok`: REMI, TSD, MIDILike, Structured, or the path of a `tokenizer.json`
    saved by MidiTok.
    """
    tokenizer_vocab_size: int = 0
    """Above 0: learn a vocabulary of this many tokens (`data.tokenizer_model`) on the training split, on top
    of the tokenizer; 0 = off.
    """
    tokenizer_model: TokenizerModel = TokenizerModel.BPE
    """What MidiTok learns when `data.tokenizer_vocab_size` is set."""
    tokenizer_beat_res: int = 4
    """MidiTok's positions and durations per beat: 4 = 16ths (the melodies' grid), or 8, 12 …"""
    tokenizer_rest_res: int = 4
    """MidiTok's rest values per beat; no finer than `data.tokenizer_beat_res`."""
    tokenizer_rests: bool = True
    """MidiTok Rest tokens for silences (else only time tokens move past them)."""
    tokenizer_time_signatures: bool = True
    """MidiTok TimeSig tokens."""
    reader: Reader = Reader.pretty_midi
    """How MIDI files are read: `pretty_midi`, or `symusic` (much faster on big folders; the same rules and
    skip reasons); `auto` (the folk data group's) = symusic for a folder `melodygen-corpus` wrote, when it is
    installed, and pretty_midi for any other.
    """
    seq_len: int = 64
    """Inputs per training window (notes and rests; 16th steps for `event`)."""
    window_stride: int = 16
    """Elements between the starts of two training windows (validation and test windows do not overlap)."""
    batch_size: int = 32
    """Windows per batch on each device; one optimizer step sees batch_size × devices × nodes ×
    `trainer.accumulate_grad_batches` (logged as "batch: …", kept in metrics.json as `global_batch_size`).
    On a 2-core CPU a step's time grows with the batch, so smaller batches learn more in the same time: the
    default LSTM reached val/pitch_bits 2.3666 in 2 epochs of batch 32, 2.3858 in 2 epochs of batch 64.
    """
    num_workers: int = 0
    """DataLoader worker processes. 0 suits the in-memory windows: a batch is a slice of one tensor, so
    workers would only copy it between processes (and take cores from training on a CPU).
    """
    val_fraction: float = 0.1
    """Share of the files (not windows) that validate."""
    test_fraction: float = 0.1
    """Share of the files that test the best checkpoint (unused with `data.folds`)."""
    split_seed: int = 0
    """Seed of the split of files into training, validation and test."""
    folds: int = 0
    """K-fold cross-validation: with folds=K the test split is fold `data.fold` of K (by file, seeded by
    `data.split_seed`; `data.test_fraction` is then unused) and `data.val_fraction` of the other files
    validate. 0 = off.
    """
    fold: int = 0
    """With `data.folds`: which fold tests, from 0 to folds - 1."""
    exclude_dir: Optional[str] = None
    """Melodies that also occur in this folder (the same notes and durations) are left out of every split,
    e.g. the melodies a pretrained model will be tested on.
    """
    exclude_shared_run: int = 0
    """With `data.exclude_dir`: also leave out melodies that share this many consecutive pitch intervals with
    one of its melodies, in any key (variants and transposed copies of a tune); 0 = exact copies only.
    """
    transpose: int = 0
    """Random transposition of training windows within ±N semitones (0 = off)."""
    transpose_to_c: bool = False
    """Move every melody to C (major or minor), by the key `data.key` says."""
    key: KeySource = KeySource.estimated
    """Where a melody's key comes from (for `data.transpose_to_c` and the `key` condition): `estimated` from
    all its notes, or `notated`, the key signature written before the first note (else estimated).
    """
    bar_position: bool = True
    """Beside each element the model reads where in its bar the next one starts (16ths from the bar line)
    and the bar's number, counted from the durations and the file's time signature and bar lines; at
    generation from the durations drawn. Only representations that say how long their elements last
    (categorical, continuous, event); MidiTok's tokens carry bars and positions of their own. A checkpoint
    records it.
    """
    bars_left: bool = False
    """With `data.bar_position`: beside each element the model also reads how many whole bars are left to
    the tune's end, from the tune's own length, so it learns how tunes end. `samples.bars=N` tells it the
    count; without it (and in a fifth of the training windows) it reads a class that tells nothing.
    Validation and test figures of such a model look ahead (metrics.json says so); note-by-note prediction
    without lookahead (the IDyOM benchmark) does not tell it.
    """
    style_lists: dict[str, str] = field(default_factory=dict)
    """The style of each melody (`model.conditions=[style]`): by default the sub-folder of `data.midi_dir` it
    lies in (the folk corpus's collection); or {label: file of paths}, e.g. `+data.style_lists={jig:
    jigs.txt}`.
    """
    min_notes: int = 8
    """A file whose melody has fewer notes is skipped."""
    parse_workers: int = 0
    """Processes that parse MIDI (0 = all cores)."""
    max_file_bytes: int = 4_000_000
    """A larger file is skipped (`too_large` in data_report.json): one of the limits that keep a huge or
    crafted file from taking memory or time.
    """
    max_tracks: int = 512
    """A file with more tracks is skipped (`too_complex`)."""
    max_events: int = 200_000
    """A file with more MIDI events is skipped (`too_complex`)."""
    max_notes: int = 20_000
    """A file with more notes, all pitched tracks together, is skipped (`too_complex`)."""
    max_beats: int = 100_000
    """A longer file is skipped (`absurd_length`); 100,000 beats is about 14 hours at 120 beats a minute."""


def representation_settings() -> dict[str, Any]:
    """``data.representations``: the settings of each registered representation that has some, at their
    defaults (a representation registered with a config dataclass; see :mod:`melodygen.plugins`)."""
    return {e.name: e.config() for e in REPRESENTATIONS.entries() if e.config is not None}


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
        not d.get("bars_left", False) or d.bar_position, "data.bars_left", d.get("bars_left"),
        "counts bars from the bar positions: set data.bar_position=true too",
    )  # fmt: skip
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


def data_settings(data: Any = None, **settings: Any) -> dict[str, Any]:
    """Every ``data.*`` setting as a plain value: ``data`` (``cfg.data``, a :class:`DataConfig` or a dict of
    its keys) with ``settings`` over it, and the rest at the defaults of the schema of the data source they
    name (``source``: a plugin's schema brings its own keys). A key that schema lacks, a value of the wrong
    type, or a required key left out is one line naming it."""
    given: dict[str, Any] = {}
    if isinstance(data, DictConfig):
        given.update(OmegaConf.to_container(data, resolve=True, enum_to_str=True))
    elif dataclasses.is_dataclass(data):
        given.update({f.name: getattr(data, f.name) for f in dataclasses.fields(data)})
    elif data is not None:
        given.update(data)
    given.update(settings)
    schema = DATA_SOURCES.entry(given.get("source", DataConfig.source)).config or DataConfig
    node = OmegaConf.structured(schema)
    keys = set(node.keys())  # `in node` is False for a key still missing its value
    for key, value in given.items():
        if key not in keys:
            names = ", ".join(sorted(keys))
            raise MelodygenError(f"data.{key}: {schema.__name__} has no such key (its keys: {names})")
        try:
            node[key] = value.value if isinstance(value, Enum) else value
        except ValidationError as err:
            raise MelodygenError(f"data.{key}={value!r} is not allowed: {str(err).splitlines()[0]}") from None
    for key in keys:
        if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key):
            raise MelodygenError(
                f"data.{key} is required here: give it (its default comes from a composed config)"
            )
    return OmegaConf.to_container(node, enum_to_str=True)
