"""Sampling melodies from a trained model, as plain functions usable without Hydra.

Sampling is batched and stateful: the start element and the primer go through the network once, as a
prefix, and then every new element is fed alone together with the state the network carries (whatever
it is: see :mod:`melodygen.models.network`), so a melody of ``n`` elements costs ``n`` single steps
instead of the ``n²/2`` of re-feeding the prefix. Beam search (``strategy="beam"``) is in
:mod:`melodygen.beam`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from melodygen.config import SamplingConfig, check_sampling
from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
from melodygen.errors import MelodygenError
from melodygen.keys import MAX_PITCH, key_of, transpose, transposition_to_c
from melodygen.melody import DEFAULT_QPM, MAX_DURATION, REST, Melody, normalize
from melodygen.representations import Representation

_S = SamplingConfig  # the sampling defaults are the schema's
log = logging.getLogger(__name__)

if TYPE_CHECKING:  # Lightning takes seconds to import; a CLI that fails early should not wait for it
    from melodygen.models import MelodyModel


# --- primers -----------------------------------------------------------------------------------------

_NOTE_NAME = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_SEMITONE = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_PRIMER_HELP = "use PITCH:16THS tokens such as 60:4, C4:4, F#4:2, Bb3:2 or r:2 (C4 = 60)"


def _parse_pitch(text: str) -> int | None:
    """MIDI pitch of ``60``, ``C4``, ``F#4``, ``Bb3``; :data:`REST` for ``r``; None when malformed."""
    if text.lower() in ("r", "rest"):
        return REST
    if re.fullmatch(r"\d+", text):
        pitch = int(text)
    elif match := _NOTE_NAME.match(text):
        letter, accidental, octave = match.groups()
        pitch = 12 * (int(octave) + 1) + _SEMITONE[letter.lower()] + {"#": 1, "b": -1, "": 0}[accidental]
    else:
        return None
    return pitch if 0 <= pitch <= 127 else None


def _primer_from_notes(text: str) -> Melody:
    pitches: list[int] = []
    durations: list[int] = []
    for token in text.replace(",", " ").split():
        parts = token.split(":")
        pitch = _parse_pitch(parts[0]) if len(parts) == 2 else None
        steps = int(parts[1]) if pitch is not None and re.fullmatch(r"\d+", parts[1]) else 0
        if pitch is None or steps < 1:
            raise MelodygenError(f"primer token {token!r} is malformed: {_PRIMER_HELP}")
        pitches.append(pitch)
        durations.append(steps)
    # normalize() splits long elements and merges rests but drops a trailing rest; a sentinel note at
    # the end keeps the primer's closing rest, so the continuation starts after it.
    pitch, duration = normalize(pitches + [0], durations + [1])
    pitch, duration = pitch[:-1], duration[:-1]
    if not (pitch != REST).any():
        raise MelodygenError(f"primer {text!r} has no notes: {_PRIMER_HELP}")
    return Melody(pitch, duration, qpm=DEFAULT_QPM, source="primer")


def parse_primer(spec: str) -> Melody:
    """A primer from a MIDI file path or a note list such as ``"60:4 62:2 r:2 64:8"``.

    A spec naming an existing file, or ending in ``.mid``/``.midi``, is read with
    :func:`~melodygen.data.midi.load_melody` (its melody track and tempo). Otherwise it is a list of
    ``PITCH:16THS`` tokens (separated by spaces or commas): the pitch is a MIDI number, a note name
    (``C4`` = 60, ``F#4``, ``Bb3``) or ``r`` for a rest. Notes longer than a whole note follow
    :func:`~melodygen.melody.normalize`; leading rests are dropped, a closing rest is kept.
    Anything unusable raises :class:`MelodygenError` naming the file or the token.
    """
    text = str(spec).strip()
    if not text:
        raise MelodygenError(f"primer is empty: give a MIDI file or notes; {_PRIMER_HELP}")
    path = Path(text).expanduser()
    if text.lower().endswith((".mid", ".midi")) or path.is_file():
        try:
            return load_melody(path, ExtractionParams(min_notes=1))
        except SkipFile as exc:
            raise MelodygenError(f"cannot use primer {path}: {exc}") from None
    return _primer_from_notes(text)


# --- sampling ----------------------------------------------------------------------------------------


def _prefix(representation: Representation, primer: Melody | None) -> np.ndarray:
    """The start element followed by the encoded primer, ``(P, F)``."""
    start = representation.start[None].astype(representation.dtype)
    if primer is None or len(primer) == 0:
        return start
    if primer.duration.min() < 1 or primer.duration.max() > MAX_DURATION:
        raise MelodygenError(
            f"primer durations must be 1–{MAX_DURATION} sixteenths (got {primer.duration.min()}–"
            f"{primer.duration.max()}); pass it through melodygen.melody.normalize"
        )
    return np.concatenate([start, representation.encode(primer).astype(representation.dtype)])


def _cut_after_onsets(tokens: np.ndarray, is_onset: np.ndarray, length: int) -> np.ndarray:
    """Keep ``tokens`` up to (not including) the onset after the ``length``-th one."""
    onsets = np.flatnonzero(is_onset)
    return tokens[: onsets[length]] if onsets.size > length else tokens


def _in_context(model: MelodyModel, prefix: np.ndarray) -> np.ndarray:
    """The prefix as the network can see it: a network with a context sees only its last part."""
    context = model.net.context
    if context is None or len(prefix) <= context:
        return prefix
    log.warning(
        "the primer is %d elements long (with the start element), more than the model's context of %d: "
        "the model continues its last %d",
        len(prefix),
        context,
        context,
    )
    return prefix[-context:]


def sample_elements(
    model: MelodyModel,
    num_samples: int,
    length: int,
    temperature: float = _S.temperature,
    top_k: int = _S.top_k,
    top_p: float = _S.top_p,
    primer: Melody | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    strategy: str = _S.strategy.value,
    beam_size: int = _S.beam_size,
) -> list[np.ndarray]:
    """The raw encoded continuations, one ``(N, F)`` array per sample, primer and start excluded.

    Note-level representations (categorical, continuous): exactly ``length`` elements each.
    Event (one token per 16th): steps are generated until every sample holds ``length + 1`` onsets
    (non-hold tokens) or ``length * MAX_DURATION`` steps have passed; each sample is then cut just
    before its ``(length + 1)``-th onset, so it ends with the full span of its ``length``-th onset.
    A sample that reached the step limit first keeps every step, with fewer onsets.
    ``strategy="beam"`` returns the ``num_samples`` likeliest continuations of a beam search that keeps
    ``beam_size`` (see :mod:`melodygen.beam`; for event, it stops when the likeliest has ``length + 1``
    onsets). Arguments are as for :func:`sample_melodies`.
    """
    strategy = getattr(strategy, "value", strategy)
    check_sampling(
        num_samples, length, temperature, top_k, top_p, prefix="", strategy=strategy, beam_size=beam_size
    )
    representation = model.representation
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    per_step = not representation.element_is_note  # then ``length`` counts onsets, not elements
    max_steps = length * representation.max_elements_per_note
    prefix = torch.as_tensor(_in_context(model, _prefix(representation, primer)), device=device)[None]

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if strategy == "beam":
                stacked = _beam(model, prefix, num_samples, length, beam_size, max_steps)
            else:
                stacked = _draw(
                    model, prefix, num_samples, length, temperature, top_k, top_p, seed, max_steps
                )
            onset = representation.is_onset(stacked).cpu().numpy()
            elements = stacked.cpu().numpy()
    finally:
        model.train(was_training)
    if per_step:
        return [_cut_after_onsets(s, o, length) for s, o in zip(elements, onset, strict=True)]
    return list(elements)


def _draw(model, prefix, num_samples, length, temperature, top_k, top_p, seed, max_steps) -> torch.Tensor:
    """``num_samples`` sampled continuations ``(num_samples, N, F)``, drawn element by element."""
    representation, net = model.representation, model.net
    generator = torch.Generator(device=prefix.device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    # The prefix is the same for every sample: run it once with batch 1 and copy its state.
    outputs, state = model(prefix)
    rows = torch.zeros(num_samples, dtype=torch.long, device=prefix.device)
    state = net.select(state, rows)
    last = [o[:, -1].index_select(0, rows) for o in outputs]
    onsets = torch.zeros(num_samples, dtype=torch.long, device=prefix.device)
    generated = []
    element = prefix[:, -1].index_select(0, rows) if prefix.shape[1] > 1 else None
    for step in range(max_steps):
        element = representation.sample(last, temperature, top_k, top_p, generator, previous=element)
        generated.append(element)
        if not representation.element_is_note:
            onsets += representation.is_onset(element)
            if bool((onsets > length).all()):
                break
        if step + 1 < max_steps:
            last, state = net.step(element, state)
    return torch.stack(generated, dim=1)


def _beam(model, prefix, num_samples, length, beam_size, max_steps) -> torch.Tensor:
    """The ``num_samples`` likeliest continuations of a beam search, likeliest first."""
    from melodygen.beam import beam_search

    representation = model.representation

    def done(kept: torch.Tensor) -> bool:  # event: the likeliest continuation has all its onsets
        return bool(representation.is_onset(kept[0]).sum() > length)

    kept, scores = beam_search(
        model, prefix, beam_size, max_steps, None if representation.element_is_note else done
    )
    found = int(torch.isfinite(scores).sum())  # fewer than beam_size when fewer continuations exist
    rows = torch.arange(num_samples, device=kept.device).clamp_max(found - 1)
    return kept.index_select(0, rows)


def sample_melodies(
    model: MelodyModel,
    num_samples: int,
    length: int,
    temperature: float = _S.temperature,
    top_k: int = _S.top_k,
    top_p: float = _S.top_p,
    primer: Melody | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    include_primer: bool = True,
    strategy: str = _S.strategy.value,
    beam_size: int = _S.beam_size,
) -> list[Melody]:
    """Generate ``num_samples`` melodies in one batch, each continuing ``primer`` (if given).

    ``length`` is how many notes and rests the model generates after the primer: exactly that many
    elements for the categorical and continuous representations; for event (one token per 16th) the
    continuation runs to the end of its ``length``-th onset (see :func:`sample_elements`). Each
    melody is decoded with ``representation.decode``, which normalizes it: adjacent rests merge and
    rests at either end are dropped, so ``len(melody)`` can be below the generated count, while every
    generated note is kept (for event, a note held past a whole note is also cut to one).

    The melodies hold the primer followed by the continuation, or the continuation alone with
    ``include_primer=False``; their tempo is the primer's (120 qpm without one). A model trained on
    melodies moved to C continues the primer moved to C (:func:`primer_as_trained`); the result is
    moved back, so it is in the primer's own key.
    ``temperature`` 0 picks the most likely class; ``top_k`` 0 and ``top_p`` 1 switch those filters
    off. The same ``seed`` gives the same melodies; ``None`` draws a fresh one. ``strategy="beam"``
    returns the ``num_samples`` (at most ``beam_size``) likeliest continuations instead, likeliest first,
    whatever the seed and the three sampling filters. A primer longer than the model's context (a
    Transformer's) is seen by its last ``context`` elements, and a line says so. The continuous
    representation samples deterministically (its rounded prediction, as in the blog post), so all its
    samples are equal and the sampling arguments do nothing. ``device`` defaults to the model's; the
    model is moved there, put in eval mode while sampling, and then back in its previous mode.
    """
    seen, shift = primer_as_trained(model, primer)
    elements = sample_elements(
        model, num_samples, length, temperature, top_k, top_p, seen, seed, device, strategy, beam_size
    )
    representation = model.representation
    primer_elements = _prefix(representation, seen)[1:]
    qpm = float(primer.qpm) if primer is not None else DEFAULT_QPM
    # tokens were drawn until they held `length` notes: keep `length` notes and rests after the primer
    trim = not (representation.element_is_note or representation.element_is_step)
    keep = length + (len(representation.decode(primer_elements)) if include_primer and seen else 0)
    melodies = []
    for continuation in elements:
        stream = np.concatenate([primer_elements, continuation]) if include_primer else continuation
        melody = representation.decode(stream)
        if trim and len(melody) > keep:
            melody = Melody(*normalize(melody.pitch[:keep], melody.duration[:keep]))
        errors = representation.token_errors(continuation)
        if errors is not None:  # sample_statistics reports their mean
            melody.meta["token_errors"] = errors
        if shift:  # back to the primer's own key, every note kept in 0–127
            rest = melody.pitch == REST
            moved = np.clip(melody.pitch.astype(np.int64) - shift, 0, MAX_PITCH)
            melody.pitch = np.where(rest, REST, moved).astype(np.int16)
        melody.qpm = qpm
        melodies.append(melody)
    return melodies


def primer_as_trained(model: MelodyModel, primer: Melody | None) -> tuple[Melody | None, int]:
    """The primer prepared as the model's training melodies were, and the semitones it was moved by.

    A model trained with ``data.transpose_to_c=true`` only ever saw melodies in C (major or minor), so its
    primer is moved to C the same way (its key as ``data.key`` said: estimated, or the file's key signature;
    the shorter way, within 0–127).
    """
    if primer is None or not model.hparams.get("transpose_to_c", False):
        return primer, 0
    tonic, _ = key_of(primer, model.hparams.get("key", "estimated"))
    shift = transposition_to_c(primer.pitch, tonic)
    moved = Melody(transpose(primer.pitch, shift), primer.duration, qpm=primer.qpm, source=primer.source)
    return moved, shift
