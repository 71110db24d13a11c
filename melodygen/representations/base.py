"""What every representation provides: encode/decode, and what the model needs to learn it."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from melodygen.music.melody import Melody
from melodygen.registry import REPRESENTATIONS

LOG2 = math.log(2.0)


class Representation(ABC):
    """Encodes a :class:`Melody` as an ``(N, F)`` array of elements and decodes it back.

    A training stream is ``[start] + encode(m1) + [start] + encode(m2) + … + [start]``; the model reads
    element ``t`` and predicts element ``t + 1``. The start element is a boundary: as an input it
    opens a melody, as a target it ends one, so the model also learns where tunes stop. Boundary
    targets count in the loss but not in the per-note metrics, and sampling never draws one. The model asks the representation for its input layer
    (:attr:`input_kind`, :attr:`input_sizes`), its output heads (:attr:`output_sizes`), its loss, its
    metrics and how to sample, so nothing else branches on the representation's name.
    """

    name: str
    #: "embedding": each column is a class index with ``input_sizes[i]`` classes (start included);
    #: "linear": the columns are real values and ``input_sizes == (F,)``.
    input_kind: str
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    #: numpy dtype of encoded arrays
    dtype: np.dtype
    #: True when one element is one 16th step (so a note spans several elements)
    element_is_step: bool = False
    #: True when one element is one note or rest; otherwise sampling counts onsets (:meth:`is_onset`)
    element_is_note: bool = True
    #: at most this many elements per note or rest, as sampling generates them
    max_elements_per_note: int = 1
    #: False when :meth:`with_pitch` cannot move every pitch of a window (tokens that merge several)
    transposes_elements: bool = True
    #: True when each element is (pitch-or-rest, duration) and the first head's classes are MIDI pitches
    #: 0–127 and the rest (128), so note-by-note prediction (:mod:`melodygen.evaluation.prediction`) can score it
    pitch_head_is_midi_pitch: bool = False
    #: True when :meth:`element_steps` says how long each element lasts, so a model can read where its bar
    #: lines fall (``data.bar_position``); a tokenization with bar and position tokens of its own leaves it off
    times_elements: bool = False

    #: the settings it was built with (``data.representations.NAME``), for :meth:`hparams`
    settings: dict | None = None

    @property
    def label(self) -> str:
        """What tables call it: its name, and its tokenizer where it has one."""
        return self.name

    # --- building: from a config, from a checkpoint, and learning from the training melodies -------------
    @classmethod
    def from_settings(cls, settings: Mapping | None = None) -> Representation:
        """Built with its own settings (the fields of the config dataclass it was registered with; those not
        given take that dataclass's defaults)."""
        entry = REPRESENTATIONS.entry(cls.name)
        defaults = dataclasses.asdict(entry.config()) if entry.config is not None else {}
        settings = {**defaults, **(settings or {})}
        representation = cls(**settings)
        representation.settings = settings or None
        return representation

    @classmethod
    def from_config(cls, data: Mapping) -> Representation:
        """As a ``data`` config asks: its settings are ``data.representations.<name>``."""
        return cls.from_settings((data.get("representations") or {}).get(cls.name))

    @classmethod
    def from_hparams(cls, hparams: Mapping) -> Representation:
        """As a checkpoint's hyperparameters (what :meth:`hparams` gave) rebuild it."""
        return cls.from_settings(hparams.get("representation_settings"))

    def hparams(self) -> dict:
        """Plain values beyond its name that rebuild this representation (its settings, a tokenizer's
        vocabulary); a checkpoint keeps them, so it needs nothing else."""
        return {"representation_settings": dict(self.settings)} if self.settings else {}

    @property
    def needs_fit(self) -> bool:
        """True when it learns something from the training melodies (:meth:`fit`) before it can encode."""
        return False

    def fit(self, melodies: Sequence[Melody]) -> None:  # noqa: B027 (optional hook)
        """Learn from the training split's melodies (a vocabulary, say); called once, before any encoding,
        when :attr:`needs_fit` is true."""

    def write_files(self, folder: Path) -> list[Path]:
        """Files a run keeps beside its checkpoints (a tokenizer's JSON, say); none by default."""
        return []

    @property
    def num_features(self) -> int:
        return int(self.start.shape[0])

    @property
    @abstractmethod
    def start(self) -> np.ndarray:
        """The element that opens every melody's stream (never a target)."""

    @abstractmethod
    def encode(self, melody: Melody) -> np.ndarray:
        """``(N, F)`` array for ``melody`` (without the start element)."""

    @abstractmethod
    def decode(self, elements: np.ndarray) -> Melody:
        """Inverse of :meth:`encode`; ignores start elements."""

    # --- pitch access, for transposition -------------------------------------------------------
    @abstractmethod
    def pitch_of(self, x: torch.Tensor) -> torch.Tensor:
        """MIDI pitch of each element of ``x`` (``(..., F)``), or -1 where it carries none."""

    @abstractmethod
    def with_pitch(self, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """``x`` with the pitched elements' pitch replaced by ``pitch`` (same shape as pitch_of)."""

    # --- learning --------------------------------------------------------------------------------
    @abstractmethod
    def loss(self, outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Scalar training loss for head ``outputs`` (each ``(B, T, size)``) and ``target`` ``(B, T, F)``."""

    @abstractmethod
    def note_metrics(self, outputs: list[torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sums over the batch: ``notes`` (count), ``pitch_correct``, ``pitch_bits``, ``duration_bits``,
        over notes and rests, and the same four over the rests alone (``rests``, ``rest_pitch_correct`` …).

        Dividing by ``notes`` gives per-note figures: bits are −log2 likelihood per note (or rest),
        not per time step; the totals minus the rests' give the figures over notes only. A
        representation that cannot tell some of them apart leaves those out and gives ``bits``, the
        total (see :func:`total_bits`).
        """

    @abstractmethod
    def sample(
        self,
        outputs: list[torch.Tensor],
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
        previous: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next element ``(B, F)`` from the last step's head outputs (each ``(B, size)``); ``previous``
        ``(B, F)`` is the element before it (None after the start), for a representation whose next
        element must fit the last one."""

    @abstractmethod
    def candidates(
        self, outputs: list[torch.Tensor], k: int, previous: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The (at most) ``k`` likeliest next elements ``(B, k, F)`` and their natural log-probabilities
        ``(B, k)``, likeliest first, under the distribution :meth:`sample` draws from at temperature 1
        (the boundary left out); for beam search. ``previous`` is as for :meth:`sample`."""

    @abstractmethod
    def is_boundary(self, x: torch.Tensor) -> torch.Tensor:
        """True where an element of ``x`` (``(..., F)``) is the start/end boundary."""

    def is_onset(self, x: torch.Tensor) -> torch.Tensor:
        """True where an element of ``x`` (``(..., F)``) starts a note or a rest.

        Every element does in a note-level representation; a step-level one overrides this.
        """
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)

    def element_steps(self, x: torch.Tensor) -> torch.Tensor:
        """16ths each element of ``x`` (``(..., F)``) moves the melody on: a note's or a rest's duration, one
        for a step of a step-level representation, 0 for the boundary. Only where :attr:`times_elements`."""
        raise NotImplementedError(f"the {self.label} representation does not say how long its elements last")

    def token_errors(self, elements: np.ndarray) -> float | None:
        """The share of ``elements`` that break the representation's grammar, which the decoder skips;
        None where every sequence of elements is well formed."""
        return None

    def start_tensor(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.as_tensor(self.start, device=device).expand(batch, -1).clone()


def total_bits(sums: dict) -> float | torch.Tensor:
    """All the bits of summed :meth:`Representation.note_metrics`: ``bits`` where the representation
    gives it, else its pitch and duration bits together."""
    return sums["bits"] if "bits" in sums else sums["pitch_bits"] + sums["duration_bits"]


def sample_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one class per row of ``logits`` ``(B, C)``; temperature 0 means argmax."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a class once the mass before it already reaches top_p (the first class always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop_sorted[..., 0] = False  # top_p=0 would otherwise drop every class
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def bits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """−log2 p(target) for each position; ``logits`` ``(..., C)``, ``target`` ``(...)``."""
    return (
        torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), reduction="none"
        ).reshape(target.shape)
        / LOG2
    )


def rest_sums(
    totals: dict[str, torch.Tensor],
    rest: torch.Tensor,
    correct: torch.Tensor,
    pitch_bits: torch.Tensor,
    duration_bits: torch.Tensor,
    duration_mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """``totals`` with the rests' own sums beside them: ``rest`` marks the elements that are rests,
    and ``duration_bits`` is summed where ``duration_mask`` (by default ``rest``) holds."""
    zero = torch.zeros((), device=pitch_bits.device)
    mask = rest if duration_mask is None else duration_mask
    return {
        **totals,
        "rests": rest.sum().float(),
        "rest_pitch_correct": (correct & rest).sum().float(),
        "rest_pitch_bits": torch.where(rest, pitch_bits, zero).sum(),
        "rest_duration_bits": torch.where(mask, duration_bits, zero).sum(),
    }
