"""``MelodyDataModule``: a folder of MIDI files → windows of ``seq_len`` elements and next-step targets."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from melodygen.config import DataConfig
from melodygen.config.data import data_settings
from melodygen.data.midi_rules import ExtractionParams
from melodygen.data.parsed import ParsedFolder, parse_midi_folder
from melodygen.data.splits import TEST, TRAIN, VAL, fold_split, split_files
from melodygen.errors import MelodygenError
from melodygen.music.conditions import (
    DEFAULT_METER,
    Conditioning,
    check_names,
    counts,
    key_label,
    meter_label,
    style_labels,
)
from melodygen.music.keys import MAX_PITCH, transpose, transposition_to_c
from melodygen.music.melody import Melody
from melodygen.representations import Representation, representation_from_config
from melodygen.representations.position import (
    UNTOLD,
    UNTOLD_SHARE,
    melody_positions,
    reads_bar_position,
    reads_bars_left,
    sizes,
)

log = logging.getLogger(__name__)

SPLIT_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}
_SPLIT_WORDS = {TRAIN: "training", VAL: "validation", TEST: "test"}


class WindowDataset(Dataset):
    """Windows are slices of one contiguous ``(N, F)`` stream; item ``i`` is ``stream[s : s + seq_len + 1]``.

    ``transpose`` > 0 shifts each window's pitches by a random number of semitones within
    ±``transpose``, limited so every pitch stays in 0–127. Asked for ``(i, salt)`` (by
    :class:`EpochOrder`), the shift is drawn from ``(salt, i)`` alone, so a resumed run draws the same
    shifts; asked for ``i``, from torch's generator.

    ``untold`` (training windows of a model with bars left) gives :data:`~melodygen.representations.position.UNTOLD_SHARE`
    of the windows the class that tells nothing in their last column all along, drawn the same way.
    """

    def __init__(
        self,
        stream: torch.Tensor,
        starts: torch.Tensor,
        seq_len: int,
        representation: Representation,
        transpose: int = 0,
        key_column: int | None = None,
        untold: bool = False,
    ):
        self.stream, self.starts, self.seq_len = stream, starts, seq_len
        self.representation, self.transpose, self.untold = representation, transpose, untold
        # the stream's column of the key condition, which a transposition moves with the notes
        self.key_column = key_column

    def __len__(self) -> int:
        return int(self.starts.numel())

    def __getitem__(self, key: int | tuple[int, int]):
        i, salt = key if isinstance(key, tuple) else (key, None)
        s = int(self.starts[i])
        window = self.stream[s : s + self.seq_len + 1]
        if self.transpose:
            window = self._transpose(window, None if salt is None else (salt, int(i)))
        if self.untold:
            if salt is None:
                hide = float(torch.rand(())) < UNTOLD_SHARE
            else:
                hide = np.random.default_rng((salt, int(i), 1)).random() < UNTOLD_SHARE
            if hide:
                window = window.clone()
                window[:, -1] = UNTOLD
        return window[:-1], window[1:]

    def _transpose(self, window: torch.Tensor, key: tuple[int, int] | None) -> torch.Tensor:
        features = self.representation.num_features
        conditions = window[:, features:]
        window = window[:, :features]
        moved, shift = self._move(window, key)
        if conditions.shape[1] == 0:
            return moved
        if self.key_column is not None and shift:
            conditions = conditions.clone()
            column = conditions[:, self.key_column - features]
            mode, tonic = column // 12, column % 12
            conditions[:, self.key_column - features] = 12 * mode + (tonic + shift) % 12
        return torch.cat([moved, conditions], dim=1)

    def _move(self, window: torch.Tensor, key: tuple[int, int] | None) -> tuple[torch.Tensor, int]:
        """The window moved by a random shift within the range, and the shift."""
        pitch = self.representation.pitch_of(window)
        pitched = pitch[pitch >= 0]
        if pitched.numel() == 0:
            return window, 0
        low = max(-self.transpose, -int(pitched.min()))
        high = min(self.transpose, MAX_PITCH - int(pitched.max()))
        if key is None:
            shift = int(torch.randint(low, high + 1, ()))
        else:
            shift = int(np.random.default_rng(key).integers(low, high + 1))
        return (self.representation.with_pitch(window, pitch + shift) if shift else window), shift


class EpochOrder(Sampler):
    """The training windows' order in each epoch: a permutation drawn from ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` before every epoch. A run resumed in the middle of an epoch draws
    that epoch's permutation again and, with ``skip`` set (by :class:`~melodygen.training.callbacks.DataOrder`),
    goes on after the windows it had already trained on: the same batches, in the same order, as a run
    that never stopped. Each index comes with a salt for its window's random transposition.
    """

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch, self.skip = size, seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        skip, self.skip = self.skip, 0
        salt = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(salt))
        for i in order[skip:].tolist():
            yield i, salt


def transpositions_to_c(parsed: ParsedFolder, key: str = DataConfig.key.value) -> np.ndarray:
    """Semitones that move each melody to C (:func:`~melodygen.music.keys.transposition_to_c`), its key
    estimated or, with ``key="notated"``, its file's key signature where it has one."""
    tonic = parsed.tonic.astype(np.int64)
    if key == "notated":
        tonic = np.where(parsed.signature >= 0, parsed.signature % 12, tonic)
    bounds = zip(parsed.offsets[:-1].tolist(), parsed.offsets[1:].tolist(), strict=True)
    return np.array(
        [transposition_to_c(parsed.pitch[a:b], int(t)) for (a, b), t in zip(bounds, tonic.tolist())],
        dtype=np.int64,
    )


def conditions_of(
    parsed: ParsedFolder,
    key: str = DataConfig.key.value,
    transpose_to_c: bool = False,
    style_lists: dict | None = None,
) -> list[dict[str, str]]:
    """The meter, key and style of every melody of ``parsed`` (see :mod:`melodygen.music.conditions`): the key
    as ``data.key`` says, and in C where ``transpose_to_c`` moves the melody there."""
    tonic, mode = parsed.tonic.astype(np.int64), parsed.mode.astype(np.int64)
    if key == "notated":
        notated = parsed.signature >= 0
        tonic = np.where(notated, parsed.signature % 12, tonic)
        mode = np.where(notated, parsed.signature // 12, mode)
    if transpose_to_c:
        tonic = (tonic + transpositions_to_c(parsed, key)) % 12
    styles = style_labels(parsed.files, parsed.midi_dir, style_lists)
    meters = [meter_label(n, d) if n > 0 else DEFAULT_METER for n, d in parsed.meter.tolist()]
    return [
        {"meter": m, "key": key_label(t, o), "style": s}
        for m, t, o, s in zip(meters, tonic.tolist(), mode.tolist(), styles, strict=True)
    ]


def _moved(parsed: ParsedFolder, i: int, pitch_shift: np.ndarray | None) -> Melody:
    """Melody ``i``, moved by ``pitch_shift[i]`` semitones where that is given."""
    melody = parsed.melody(i)
    if pitch_shift is not None and pitch_shift[i]:
        melody.pitch = transpose(melody.pitch, int(pitch_shift[i]))
    return melody


def build_stream(
    parsed: ParsedFolder,
    indices: np.ndarray,
    representation: Representation,
    seq_len: int,
    stride: int,
    pitch_shift: np.ndarray | None = None,
    conditions: np.ndarray | None = None,
    bar_position: bool = False,
    bars_left: bool = False,
):
    """One stream ``[start] m1 [start] m2 … [start]`` for the melodies ``indices``, and window starts.

    Windows begin every ``stride`` elements and may run across a boundary into the next melody, so a
    melody shorter than ``seq_len`` still trains the model (on its whole length, and on its end).
    ``conditions`` ``(len(parsed), K)`` gives each element the classes of its melody's conditions in K more
    columns; a start element has those of the melody it opens (the closing one, the last melody's).
    ``bar_position`` adds two more: where the next element starts in its bar, and the bar's number
    (:func:`~melodygen.representations.position.melody_positions`; the closing start element has zeros),
    and ``bars_left`` one more: the bars left to the melody's end.
    """
    pieces = []
    width = 0 if conditions is None else conditions.shape[1]

    def tagged(elements: np.ndarray, i: int) -> np.ndarray:
        if not width:
            return elements
        return np.concatenate([elements, np.broadcast_to(conditions[i], (len(elements), width))], axis=1)

    for i in indices.tolist():
        melody = _moved(parsed, i, pitch_shift)
        encoded = representation.encode(melody)
        piece = tagged(np.concatenate([representation.start[None], encoded]).astype(representation.dtype), i)
        if bar_position:
            places = melody_positions(representation, melody, encoded, bars_left if bars_left else None)
            piece = np.concatenate([piece, places], axis=1)
        pieces.append(piece)
    closing = tagged(representation.start[None], int(indices[-1])) if pieces else None
    extra = len(sizes(bars_left)) if bar_position else 0
    if closing is not None:
        pieces.append(np.concatenate([closing, np.zeros((1, extra))], axis=1) if extra else closing)
    else:
        pieces.append(np.zeros((0, representation.num_features + width + extra)))
    stream = torch.from_numpy(np.concatenate(pieces).astype(representation.dtype))
    last_start = stream.shape[0] - seq_len - 1
    starts = torch.arange(0, last_start + 1, stride) if last_start >= 0 else torch.zeros(0, dtype=torch.long)
    return stream, starts


class MelodyDataModule(pl.LightningDataModule):
    """Parses ``midi_dir`` once (``prepare_data``, rank 0), then every rank loads the cache in ``setup``."""

    def __init__(
        self,
        data: Any = None,
        *,
        conditions: Sequence[str] = (),
        progress: bool = True,
        seed: int = 0,
        **settings: Any,
    ):
        """``data``: the ``data.*`` settings (``cfg.data``, a :class:`~melodygen.config.DataConfig`, or a dict
        of its keys); keywords set single keys over them (``midi_dir=…, seq_len=32``), and the rest are the
        schema's defaults (see :func:`~melodygen.config.data.data_settings`; a plugin's schema adds its keys,
        which its subclass reads in ``self.hparams``). ``conditions`` are the model's (``model.conditions``);
        ``seed`` orders each epoch's windows."""
        super().__init__()
        # plain values in the checkpoint's hyperparameters keep it loadable with weights_only=True
        plain = data_settings(data, **settings)
        plain["style_lists"] = {str(k): str(v) for k, v in plain["style_lists"].items()}
        conditions = list(check_names(conditions))
        self.save_hyperparameters({**plain, "conditions": conditions, "progress": progress, "seed": seed})
        self.representation = representation_from_config(self.hparams)
        self._check_transpose()
        self.params = ExtractionParams.from_config(self.hparams)
        self.parsed: ParsedFolder | None = None
        self.datasets: dict[int, WindowDataset] = {}
        self.split: np.ndarray | None = None  # TRAIN, VAL or TEST per kept file, set in setup
        self.conditioning: Conditioning | None = None  # fitted (or a checkpoint's) before setup
        self.melody_conditions: list[dict[str, str]] | None = None  # of each kept file, set in _split

    def _check_transpose(self) -> None:
        transpose = self.hparams.transpose
        if transpose and not self.representation.transposes_elements:
            raise MelodygenError(
                f"data.transpose={transpose}: the {self.representation.label} representation's tokens mix "
                f"pitches with durations, so a window cannot be transposed; use data.transpose=0 "
                f"(data.transpose_to_c still works) or a tokenizer without data.tokenizer_vocab_size"
            )

    def prepare_data(self) -> None:
        self.parse(self.hparams.progress)

    def parse(self, progress: bool) -> ParsedFolder:
        """Every melody of the data, each with its name (a file, relative to ``midi_dir``): the MIDI files
        of ``midi_dir``, through the parse cache. A data source of another kind overrides this alone
        (:func:`melodygen.data.parsed.melodies_folder` makes one of melodies)."""
        hp = self.hparams
        return parse_midi_folder(hp.midi_dir, hp.cache_dir, self.params, hp.parse_workers, progress)

    def _split(self) -> tuple[ParsedFolder, np.ndarray]:
        """The parsed folder (from the cache prepare_data wrote) and each melody's split."""
        if self.parsed is not None:
            return self.parsed, self.split
        hp = self.hparams
        # Unchanged files → the cache written by prepare_data; nothing is parsed twice.
        self.parsed = parsed = self.parse(False)
        if hp.folds:
            split = fold_split(parsed.files, hp.folds, hp.fold, hp.val_fraction, hp.split_seed)
            log.info("fold %d of %d (split_seed=%d) is the test split", hp.fold, hp.folds, hp.split_seed)
        else:
            split = split_files(parsed.files, hp.val_fraction, hp.test_fraction, hp.split_seed)
        if hp.exclude_dir is not None:
            split = self._exclude(parsed, split)
        self.split = split
        self.melody_conditions = conditions_of(parsed, hp.key, hp.transpose_to_c, hp.style_lists)
        return parsed, split

    def fit_conditioning(self) -> Conditioning:
        """What the model is conditioned on (``conditions``): the labels of the training split's melodies
        (a checkpoint's own, after :meth:`use_conditioning`)."""
        if self.conditioning is None and not self.hparams.conditions:
            self.conditioning = Conditioning()
        if self.conditioning is None:
            self.prepare_data()
            _, split = self._split()
            train = [c for c, s in zip(self.melody_conditions, split.tolist(), strict=True) if s == TRAIN]
            self.conditioning = Conditioning.fit(self.hparams.conditions, train)
            if self.conditioning:
                log.info(
                    "conditioned on %s: %s",
                    ", ".join(self.conditioning.names),
                    "; ".join(
                        f"{n} {len(self.conditioning.known(n))} labels" for n in self.conditioning.names
                    ),
                )
        return self.conditioning

    def use_conditioning(self, conditioning: Conditioning) -> None:
        """Read the data with ``conditioning`` (a resumed run's, from its checkpoint)."""
        if self.datasets:
            raise RuntimeError("use_conditioning must come before setup")
        self.conditioning = conditioning

    def fit_representation(self) -> Representation:
        """The representation, fitted first where it learns from data (:meth:`Representation.fit`, e.g. a
        vocabulary of ``tokenizer_vocab_size``): on the training split's melodies alone, as the model will
        read them."""
        hp = self.hparams
        if not self.representation.needs_fit:
            return self.representation
        self.prepare_data()
        parsed, split = self._split()
        shift = transpositions_to_c(parsed, hp.key) if hp.transpose_to_c else None
        melodies = [_moved(parsed, i, shift) for i in np.flatnonzero(split == TRAIN).tolist()]
        started = time.perf_counter()
        self.representation.fit(melodies)
        log.info(
            "fitted the %s representation (%s) on the %d training melodies in %.1f s",
            hp.representation,
            self.representation.label,
            len(melodies),
            time.perf_counter() - started,
        )
        self._check_transpose()
        return self.representation

    def use_representation(self, representation: Representation) -> None:
        """Read the data with ``representation`` (a resumed run's, from its checkpoint)."""
        if self.datasets:
            raise RuntimeError("use_representation must come before setup")
        self.representation = representation
        self._check_transpose()

    @property
    def bar_position(self) -> bool:
        """Whether the model reads bar positions (``data.bar_position``, where the representation allows)."""
        return reads_bar_position(self.hparams, self.representation)

    @property
    def bars_left(self) -> bool:
        """Whether the model also reads the bars left to each tune's end (``data.bars_left``)."""
        return reads_bars_left(self.hparams, self.representation)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        hp = self.hparams
        parsed, split = self._split()
        shift = transpositions_to_c(parsed, hp.key) if hp.transpose_to_c else None
        conditioning = self.fit_conditioning()
        classes = None
        key_column = None
        if conditioning:
            classes = np.stack([conditioning.index(c) for c in self.melody_conditions])
            if conditioning.key_column is not None:
                key_column = self.representation.num_features + conditioning.key_column
        if self.hparams.get("bar_position") and not self.bar_position:
            log.info(
                "data.bar_position: the %s representation does not count its elements' 16ths (its tokens "
                "carry what they carry of the bar), so the model reads no bar positions",
                self.representation.label,
            )
        for which in (TRAIN, VAL, TEST):
            # validation and test windows do not overlap, so every element is scored exactly once
            stride = hp.window_stride if which == TRAIN else hp.seq_len
            stream, starts = build_stream(
                parsed,
                np.flatnonzero(split == which),
                self.representation,
                hp.seq_len,
                stride,
                shift,
                classes,
                self.bar_position,
                self.bars_left,
            )
            self.datasets[which] = WindowDataset(
                stream,
                starts,
                hp.seq_len,
                self.representation,
                hp.transpose if which == TRAIN else 0,
                key_column,
                untold=self.bars_left and which == TRAIN,
            )
            log.info(
                "split %s: %d melodies, %d elements, %d windows of %d",
                SPLIT_NAMES[which],
                int((split == which).sum()),
                stream.shape[0],
                starts.numel(),
                hp.seq_len,
            )
        for which, fraction in ((TRAIN, 1.0), (VAL, hp.val_fraction), (TEST, hp.test_fraction)):
            if len(self.datasets[which]) == 0 and fraction > 0:
                raise self._too_short_error(which)

    def _exclude(self, parsed: ParsedFolder, split: np.ndarray) -> np.ndarray:
        """``split`` with every melody that also occurs in ``exclude_dir`` taken out (split -1)."""
        hp = self.hparams
        other = parse_midi_folder(hp.exclude_dir, hp.cache_dir, self.params, hp.parse_workers, False)
        excluded = {other.melody(i).content_hash() for i in range(len(other))}
        drop = np.array([parsed.melody(i).content_hash() in excluded for i in range(len(parsed))], dtype=bool)
        copies = int(drop.sum())
        if hp.exclude_shared_run:
            runs = set().union(
                *(other.melody(i).interval_runs(hp.exclude_shared_run) for i in range(len(other)))
            )
            drop |= np.array([bool(parsed.melody(i).interval_runs(hp.exclude_shared_run) & runs)
                              for i in range(len(parsed))])  # fmt: skip
        log.info(
            "left out %d of %d melodies that also occur in data.exclude_dir=%s (%d more that share %d intervals)",
            int(drop.sum()),
            len(parsed),
            hp.exclude_dir,
            int(drop.sum()) - copies,
            hp.exclude_shared_run,
        )
        split = split.copy()
        split[drop] = -1
        return split

    def _too_short_error(self, which: int) -> MelodygenError:
        hp, name = self.hparams, _SPLIT_WORDS[which]
        elements = int(self.datasets[which].stream.shape[0])
        remedy = {
            TRAIN: "or add MIDI files",
            VAL: "or raise data.val_fraction",
            TEST: "or raise data.test_fraction (0 leaves the test split out)",
        }[which]
        fits = f"lower it to at most {elements - 1}" if elements > 1 else "lower it"
        return MelodygenError(
            f"data.seq_len={hp.seq_len} is longer than the {name} split: its melodies in {hp.midi_dir!r} hold "
            f"{elements} elements, and a window needs seq_len + 1; {fits}, {remedy}"
        )

    def report(self) -> dict:
        """The parsed folder's report, with each kept file's split, the size of each split and the files
        left out (exclude_dir)."""
        report = self.parsed.report()
        for entry, which in zip(report["kept_files"], self.split.tolist(), strict=True):
            entry["split"] = SPLIT_NAMES.get(which, "left_out")
        sizes = {name: int((self.split == which).sum()) for which, name in SPLIT_NAMES.items()}
        left_out = [f for f, s in zip(self.parsed.files, self.split, strict=True) if s < 0]
        for entry, conditions in zip(report["kept_files"], self.melody_conditions, strict=True):
            entry.update(conditions)
        melodies = {
            **counts(self.melody_conditions),
            "meter_notated": int((self.parsed.meter[:, 0] > 0).sum()),
            "key_notated": int((self.parsed.signature >= 0).sum()),
        }
        return {**report, "split_melodies": sizes, "left_out": left_out, "conditions": melodies}

    def split_of(self, which: int) -> list[str]:
        """Files of one split (TRAIN, VAL, TEST), for reports and tests."""
        return [f for f, s in zip(self.parsed.files, self.split) if s == which]

    def _loader(self, which: int, shuffle: bool) -> DataLoader:
        workers, dataset = self.hparams.num_workers, self.datasets[which]
        # One process: the order is EpochOrder's, which a resumed run repeats exactly. Under DDP,
        # Lightning gives each rank its share through a DistributedSampler, which shuffles by epoch itself.
        distributed = self.trainer is not None and self.trainer.world_size > 1
        order = EpochOrder(len(dataset), self.hparams.seed) if shuffle and not distributed else None
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle and order is None,
            sampler=order,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=shuffle and len(dataset) > self.hparams.batch_size,
            # the loader's own generator: starting an epoch leaves torch's global one (dropout's) alone
            generator=torch.Generator().manual_seed(self.hparams.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(TRAIN, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(VAL, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(TEST, shuffle=False)
