"""How well a model predicts melodies, note by note, as music cognition measures it.

:func:`log_probs` gives the log2 probability a model assigns to each note's pitch and duration, every
melody scored from its own start element. Two options follow IDyOM (Pearce 2005):

* ``alphabet``: a note's pitch is predicted among these pitches, given that a note comes (the model's
  probability renormalized over them), as IDyOM predicts among the pitches of the data set;
* :class:`Adaptation`: the model also learns within the melody it predicts (dynamic evaluation, the
  neural form of IDyOM's short-term model): after every few notes are scored, one gradient step on them;
  the weights return to the model's own before the next melody.

:func:`mix` averages the probabilities of several models (an ensemble). Only note-level categorical
models are scored this way (a representation whose first head's classes are MIDI pitches and the rest): the
others do not give one probability per note's pitch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from melodygen.errors import MelodygenError
from melodygen.generation.sampling import primer_as_trained
from melodygen.models import MelodyModel
from melodygen.music.keys import MAX_PITCH
from melodygen.music.melody import REST, Melody
from melodygen.representations.position import melody_positions

LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Adaptation:
    """Dynamic evaluation: after ``chunk`` elements of a melody are scored, one SGD step of ``lr`` on them."""

    lr: float
    chunk: int = 4

    def __post_init__(self) -> None:
        if not (self.lr > 0 and self.chunk >= 1):
            raise MelodygenError(
                f"adaptation needs lr > 0 and chunk >= 1, not lr={self.lr}, chunk={self.chunk}"
            )


@dataclass
class MelodyLogProbs:
    """One melody's scores: log2 p of each element's pitch and duration, and which elements are notes."""

    pitch: np.ndarray  # (N,)
    duration: np.ndarray  # (N,)
    is_note: np.ndarray  # (N,) bool; False for rests
    #: (N,) bool: the likeliest pitch class (within the alphabet) was the one played; None for an ensemble
    pitch_correct: np.ndarray | None = None

    def sums(self) -> dict[str, float]:
        """The ``note_metrics`` sums of this melody (see :func:`melodygen.evaluation.scoring.figures`)."""
        if self.pitch_correct is None:
            raise ValueError("an ensemble's scores have no pitch accuracy, so no note_metrics sums")
        rest = ~self.is_note
        return {
            "notes": float(self.is_note.size),
            "pitch_correct": float(self.pitch_correct.sum()),
            "pitch_bits": float(-self.pitch.sum()),
            "duration_bits": float(-self.duration.sum()),
            "rests": float(rest.sum()),
            "rest_pitch_correct": float(self.pitch_correct[rest].sum()),
            "rest_pitch_bits": float(-self.pitch[rest].sum()),
            "rest_duration_bits": float(-self.duration[rest].sum()),
        }


def check_scorable(model: MelodyModel) -> None:
    if model.conditioning:
        raise MelodygenError(
            f"note-by-note prediction scores unconditioned models; this one is conditioned on "
            f"{', '.join(model.conditioning.names)} (melodygen-evaluate scores it with each melody's own)"
        )
    if not model.representation.pitch_head_is_midi_pitch:
        raise MelodygenError(
            f"note-by-note prediction needs a categorical model; this one uses the "
            f"{model.representation.name} representation (train with data.representation=categorical)"
        )


def _pitch_mask(alphabet: Sequence[int] | None, shift: int, classes: int, device) -> torch.Tensor:
    """0 for the pitch classes a note may take (the alphabet moved by ``shift``), −inf for the others."""
    mask = torch.zeros(classes, device=device)
    if alphabet is not None:
        moved = sorted({p + shift for p in alphabet if 0 <= p + shift <= MAX_PITCH})
        mask.fill_(float("-inf"))
        mask[torch.as_tensor(moved, dtype=torch.long, device=device)] = 0.0
    return mask


def _scores(outputs, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """log2 p of ``target``'s pitch (notes: among the alphabet, given a note) and duration, per element,
    and whether the likeliest pitch class was the target's."""
    pitch_logits, duration_logits = outputs
    note = (target[..., 0] < REST)[..., None]
    pitch_logits = torch.where(note, pitch_logits.float() + mask, pitch_logits.float())
    pitch = F.log_softmax(pitch_logits, -1).gather(-1, target[..., :1])[..., 0] / LOG2
    duration = F.log_softmax(duration_logits.float(), -1).gather(-1, target[..., 1:2])[..., 0] / LOG2
    return pitch, duration, pitch_logits.argmax(-1) == target[..., 0]


def looks_ahead(model: MelodyModel, melody: Melody) -> bool:
    """Whether preparing ``melody`` as the model's training melodies were needs its own notes: a
    ``transpose_to_c`` model moves it to C by a key estimated from all of them, unless the model takes the
    notated key and the melody has one."""
    if not model.hparams.get("transpose_to_c", False):
        return False
    return model.hparams.get("key") != "notated" or melody.meta.get("key_signature") is None


def _encoded(
    model: MelodyModel, melody: Melody, alphabet: Sequence[int] | None, lookahead: bool = True
) -> tuple[torch.Tensor, ...]:
    """The melody's elements after the start element, moved as the model's training melodies were, and
    the pitch mask of the alphabet moved with them; without ``lookahead``, a melody whose key would be
    estimated from its own notes is left where it is."""
    rep = model.representation
    if lookahead or not looks_ahead(model, melody):
        melody, shift = primer_as_trained(model, melody)  # a transpose_to_c model saw melodies in C only
    else:
        shift = 0
    notes = rep.encode(melody)
    elements = np.concatenate([rep.start[None], notes]).astype(rep.dtype)
    if model.bar_position:  # where the next note starts: its place follows from the durations before it
        # the bars left to the end come from the melody's own length: told only with lookahead
        places = melody_positions(rep, melody, notes, lookahead if model.bars_left else None)
        elements = np.concatenate([elements, places.astype(rep.dtype)], axis=1)
    device = next(model.parameters()).device
    mask = _pitch_mask(alphabet, shift, rep.output_sizes[0], device)
    return torch.from_numpy(elements)[None].to(device), mask


def log_probs(
    model: MelodyModel,
    melodies: Sequence[Melody],
    alphabet: Sequence[int] | None = None,
    adaptation: Adaptation | None = None,
    lookahead: bool = True,
) -> list[MelodyLogProbs]:
    """Each melody's :class:`MelodyLogProbs`, scored from its own start; the model is left as it was.

    ``lookahead=False`` never moves a melody by a key estimated from its own notes (:func:`looks_ahead`):
    such a melody is scored as written, and a model with bars left is not told them, so no prediction
    depends on notes still to come."""
    check_scorable(model)
    if alphabet is not None:
        missing = sorted({int(p) for m in melodies for p in m.pitch[m.is_note]} - set(alphabet))
        if missing:
            raise MelodygenError(f"the alphabet lacks pitches these melodies use: {missing}")
    was_training = model.training
    model.eval()  # no dropout, also while adapting
    try:
        if adaptation is None:
            with torch.no_grad():
                return [_static(model, melody, alphabet, lookahead) for melody in melodies]
        return [_adapted(model, melody, alphabet, adaptation, lookahead) for melody in melodies]
    finally:
        model.train(was_training)


def _result(elements: torch.Tensor, pitch: torch.Tensor, duration: torch.Tensor, correct) -> MelodyLogProbs:
    def flat(values: torch.Tensor) -> np.ndarray:
        return values.detach().cpu().numpy().reshape(-1)

    return MelodyLogProbs(flat(pitch), flat(duration), flat(elements[0, 1:, 0] < REST), flat(correct))


def _static(
    model: MelodyModel, melody: Melody, alphabet: Sequence[int] | None, lookahead: bool
) -> MelodyLogProbs:
    seq, mask = _encoded(model, melody, alphabet, lookahead)
    outputs, _ = model(seq[:, :-1])
    return _result(seq, *_scores(outputs, seq[:, 1:], mask))


def _adapted(
    model: MelodyModel,
    melody: Melody,
    alphabet: Sequence[int] | None,
    adaptation: Adaptation,
    lookahead: bool,
) -> MelodyLogProbs:
    seq, mask = _encoded(model, melody, alphabet, lookahead)
    saved = {name: value.detach().clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=adaptation.lr)
    pitch, duration, correct, state = [], [], [], None
    try:
        # cuDNN's recurrent networks have no backward pass in eval mode; the plain kernels do
        with torch.backends.cudnn.flags(enabled=False):
            for first in range(0, seq.shape[1] - 1, adaptation.chunk):
                x = seq[:, first : first + adaptation.chunk]
                y = seq[:, first + 1 : first + 1 + adaptation.chunk]
                x = x[:, : y.shape[1]]
                outputs, state = model(x, state)
                p, d, c = _scores(outputs, y, mask)
                pitch.append(p.detach())
                duration.append(d.detach())
                correct.append(c)
                loss = -(p + d).mean() * LOG2  # nats, as the training loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                state = model.net.detach(state)
    finally:
        with torch.no_grad():
            model.load_state_dict(saved)
    return _result(seq, *(torch.cat(values, dim=1) for values in (pitch, duration, correct)))


def mix(runs: Sequence[Sequence[MelodyLogProbs]]) -> list[MelodyLogProbs]:
    """The ensemble of several models' scores of the same melodies: their probabilities averaged."""
    if not runs:
        raise ValueError("mix() needs the scores of at least one model")
    mixed = []
    for scores in zip(*runs, strict=True):
        pitch = np.logaddexp2.reduce(np.stack([s.pitch for s in scores]), axis=0) - math.log2(len(scores))
        duration = np.logaddexp2.reduce(np.stack([s.duration for s in scores]), axis=0) - math.log2(
            len(scores)
        )
        mixed.append(MelodyLogProbs(pitch, duration, scores[0].is_note))  # its likeliest pitch is not known
    return mixed


def bits_per_note(scores: Sequence[MelodyLogProbs]) -> dict[str, float]:
    """Pitch and duration bits per note (rests left out) and the counts behind them."""
    pitch = sum(float(-s.pitch[s.is_note].sum()) for s in scores)
    duration = sum(float(-s.duration[s.is_note].sum()) for s in scores)
    notes = sum(int(s.is_note.sum()) for s in scores)
    return {
        "pitch_bits": pitch / max(notes, 1),
        "duration_bits": duration / max(notes, 1),
        "notes": notes,
        "melodies": len(scores),
    }
