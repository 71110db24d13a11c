"""Sampling melodies from a trained model, as plain functions usable without Hydra.

Sampling is batched and stateful: the start element and the primer go through the network once, as a
prefix, and then every new element is fed alone together with the state the network carries (whatever
it is: see :mod:`melodygen.models.network`), so a melody of ``n`` elements costs ``n`` single steps
instead of the ``n²/2`` of re-feeding the prefix. Beam search (``strategy="beam"``) is in
:mod:`melodygen.generation.beam`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from melodygen.config import SamplingConfig, check_sampling
from melodygen.data.midi import ExtractionParams, SkipFile, load_melody
from melodygen.errors import MelodygenError
from melodygen.music.conditions import TONICS, key_label, key_parts, melody_conditions
from melodygen.music.keys import MAX_PITCH, key_of, semitones_to_c, transpose, transposition_to_c
from melodygen.music.melody import DEFAULT_QPM, MAX_DURATION, REST, Melody, normalize
from melodygen.music.meter import bar_steps, whole_bars
from melodygen.registry import SAMPLERS
from melodygen.representations import Representation
from melodygen.representations.position import Clock, signature_of

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # Lightning takes seconds to import; a CLI that fails early should not wait for it
    from melodygen.models import MelodyModel
    from melodygen.models.network import State


# --- primers -----------------------------------------------------------------------------------------

_NOTE_NAME = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_SEMITONE = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_PRIMER_HELP = "use PITCH:16THS tokens such as 60:4, C4:4, F#4:2, Bb3:2 or r:2 (C4 = 60)"


def parse_pitch(text: str) -> int | None:
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
        pitch = parse_pitch(parts[0]) if len(parts) == 2 else None
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
    :func:`~melodygen.music.melody.normalize`; leading rests are dropped, a closing rest is kept.
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
            f"{primer.duration.max()}); pass it through melodygen.music.melody.normalize"
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


@dataclass
class SamplingRequest:
    """What a sampler (``samples.strategy``; :func:`melodygen.plugins.register_sampler`) is asked for.

    ``prefix`` ``(1, P, F)`` is the start element and the primer, as the model reads them. A sampler
    returns ``(num_samples, N, F)`` elements after it, at most ``max_steps`` of them; for a representation
    whose element is not a note it may stop once :meth:`enough` says every sample holds ``length`` notes.
    ``options`` are the sampler's own settings (the keys its config dataclass adds to ``samples``).
    """

    model: MelodyModel
    prefix: torch.Tensor
    num_samples: int
    length: int
    max_steps: int
    temperature: float = SamplingConfig.temperature
    top_k: int = SamplingConfig.top_k
    top_p: float = SamplingConfig.top_p
    beam_size: int = SamplingConfig.beam_size
    seed: int | None = None
    conditions: torch.Tensor | None = None  # (num_samples, K) condition classes, or (1, K) for one search
    options: Mapping = field(default_factory=dict)
    #: where each row stands in its bar, for a model that reads bar positions (None otherwise): as many rows
    #: as ``conditions``, else one
    clock: Clock | None = None
    #: classifier-free guidance (``samples.guidance``; 1 = as told), for a model with untold conditions
    guidance: float = SamplingConfig.guidance

    def read_prefix(self, rows: torch.Tensor | None = None) -> tuple[list[torch.Tensor], State, Clock | None]:
        """The network's outputs and state after the prefix, and the clock after it: one row, or ``rows``
        of it (each its own conditions' and clock's row where ``rows`` is given)."""
        model, prefix, clock = self.model, self.prefix, self.clock
        conditions = self.conditions
        if rows is not None:
            prefix = prefix.index_select(0, torch.zeros_like(rows))
            conditions = None if conditions is None else conditions.index_select(0, rows)
            clock = None if clock is None else clock.select(rows)
        x = model.with_conditions(prefix, conditions)
        if clock is not None:
            x = clock.read(x)
        outputs, state = model(x)
        return outputs, state, clock

    def inputs(
        self, element: torch.Tensor, conditions: torch.Tensor | None, clock: Clock | None
    ) -> torch.Tensor:
        """What the network reads beside a new element ``(B, F)``: its rows' ``conditions`` and, counting it on
        ``clock``, where the next element starts in its bar."""
        x = self.model.with_conditions(element, conditions)
        return x if clock is None else clock.beside(x)

    def generator(self) -> torch.Generator:
        """A generator seeded with ``seed`` (a fresh seed when None), on the prefix's device."""
        generator = torch.Generator(device=self.prefix.device)
        if self.seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(self.seed))
        return generator

    def enough(self, elements: torch.Tensor) -> bool:
        """True when every row of ``elements`` ``(B, N, F)`` holds more than ``length`` onsets (always for a
        note-level representation, which generates ``length`` elements)."""
        representation = self.model.representation
        if representation.element_is_note:
            return elements.shape[1] >= self.length
        return bool((representation.is_onset(elements).sum(dim=1) > self.length).all())


def sample_elements(
    model: MelodyModel,
    num_samples: int,
    length: int,
    temperature: float = SamplingConfig.temperature,
    top_k: int = SamplingConfig.top_k,
    top_p: float = SamplingConfig.top_p,
    primer: Melody | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    strategy: str = SamplingConfig.strategy,
    beam_size: int = SamplingConfig.beam_size,
    conditions: torch.Tensor | None = None,
    options: Mapping | None = None,
    ends: Sequence[int] | None = None,
    guidance: float = SamplingConfig.guidance,
) -> list[np.ndarray]:
    """The raw encoded continuations, one ``(N, F)`` array per sample, primer and start excluded.

    Note-level representations (categorical, continuous): exactly ``length`` elements each.
    Event (one token per 16th): steps are generated until every sample holds ``length + 1`` onsets
    (non-hold tokens) or ``length * MAX_DURATION`` steps have passed; each sample is then cut just
    before its ``(length + 1)``-th onset, so it ends with the full span of its ``length``-th onset.
    A sample that reached the step limit first keeps every step, with fewer onsets.
    ``strategy`` names a registered sampler: ``sample`` draws element by element; ``beam`` returns the
    ``num_samples`` likeliest continuations of a beam search that keeps ``beam_size`` (see
    :mod:`melodygen.generation.beam`; for event, it stops when the likeliest has ``length + 1`` onsets); a plugin's
    gets ``options``, its own settings. ``conditions`` ``(num_samples, K)`` are each sample's condition
    classes for a conditioned model (one row for a sampler that runs one search, as beam search does).
    ``ends`` tells a model with bars left where each sample ends, in 16ths after the primer's start (one for
    every sample, or one for all); without them it is not told. Other arguments are as for
    :func:`sample_melodies`.
    """
    strategy = getattr(strategy, "value", strategy)
    check_sampling(
        num_samples, length, temperature, top_k, top_p, "", strategy, beam_size, guidance
    )  # fmt: skip
    if guidance != 1:
        check_guidance(model, guidance)
    sampler = SAMPLERS.get_class(strategy)
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
            if conditions is not None:
                conditions = torch.as_tensor(conditions, device=device)
            clock = _clock(model, primer, conditions, device, ends)
            request = SamplingRequest(
                model, prefix, num_samples, length, max_steps, temperature, top_k, top_p, beam_size, seed,
                conditions, dict(options or {}), clock, float(guidance),
            )  # fmt: skip
            stacked = sampler(request)
            onset = representation.is_onset(stacked).cpu().numpy()
            elements = stacked.cpu().numpy()
    finally:
        model.train(was_training)
    if per_step:
        return [_cut_after_onsets(s, o, length) for s, o in zip(elements, onset, strict=True)]
    return list(elements)


def check_guidance(model: MelodyModel, guidance: float) -> None:
    """``samples.guidance`` other than 1 needs a model that has learnt melodies without its conditions, and
    classes to weigh."""
    if model.untold_conditions() is None:
        why = (
            "an unconditioned model"
            if not model.conditioning
            else "a model trained without condition dropout"
        )
        raise MelodygenError(
            f"samples.guidance={guidance}: this is {why}; guidance needs one trained with "
            "model.conditions and model.condition_dropout (e.g. 0.1), or samples.guidance=1"
        )
    if model.representation.input_kind != "embedding":
        raise MelodygenError(
            f"samples.guidance={guidance}: the {model.representation.label} representation predicts values, "
            "not classes, so there are no logits to weigh; use samples.guidance=1"
        )


def _clock(
    model: MelodyModel,
    primer: Melody | None,
    conditions: torch.Tensor | None,
    device: torch.device,
    ends: Sequence[int] | None = None,
) -> Clock | None:
    """The bar count of a model that reads bar positions: a row per row of ``conditions`` (one without), in
    its meter condition's time signature (4/4 for a model not conditioned on meter); for a model with bars
    left, counting down to ``ends``."""
    if not model.bar_position:
        return None
    conditioning = model.conditioning
    rows = 1 if conditions is None else conditions.shape[0]
    if "meter" in conditioning.names:
        column = conditioning.names.index("meter")
        labels = conditioning.labels["meter"]
        meters = [labels[int(c)] for c in conditions[:, column].tolist()]
    else:
        meters = [None] * rows
    if ends is not None and len(ends) != rows:  # one row for all samples: they share a meter, so an end
        ends = [ends[0]] * rows
    signatures = [signature_of(m) for m in meters]
    return Clock.starting(model.representation, signatures, primer, device, model.bars_left, ends)


def draw(request: SamplingRequest) -> torch.Tensor:
    """``samples.strategy=sample``: ``num_samples`` continuations ``(num_samples, N, F)``, drawn element by
    element with the request's temperature, top_k and top_p, and its guidance: other than 1, each element
    is drawn from ``untold + guidance · (told − untold)`` logits (classifier-free guidance)."""
    model, prefix, num_samples = request.model, request.prefix, request.num_samples
    representation, net = model.representation, model.net
    guided = request.guidance != 1 and request.conditions is not None
    if guided:  # each sample read twice: told its conditions, and told nothing of them
        request = _told_and_untold(request)
    conditions = request.conditions
    generator = request.generator()
    rows = torch.zeros(num_samples, dtype=torch.long, device=prefix.device)
    if conditions is None:
        # The prefix is the same for every sample: run it once with batch 1 and copy its state.
        outputs, state, clock = request.read_prefix()
        state = net.select(state, rows)
        clock = None if clock is None else clock.select(rows)
        last = [o[:, -1].index_select(0, rows) for o in outputs]
    else:  # each sample reads the prefix with its own conditions
        outputs, state, clock = request.read_prefix(torch.arange(conditions.shape[0], device=prefix.device))
        last = [o[:, -1] for o in outputs]
    onsets = torch.zeros(num_samples, dtype=torch.long, device=prefix.device)
    generated = []
    element = prefix[:, -1].index_select(0, rows) if prefix.shape[1] > 1 else None
    t, k, p, weight = request.temperature, request.top_k, request.top_p, request.guidance
    for step in range(request.max_steps):
        if guided:  # untold + guidance · (told − untold)
            last = [o[num_samples:] + weight * (o[:num_samples] - o[num_samples:]) for o in last]
        element = representation.sample(last, t, k, p, generator, previous=element)
        generated.append(element)
        if not representation.element_is_note:
            onsets += representation.is_onset(element)
            if bool((onsets > request.length).all()):
                break
        if step + 1 < request.max_steps:
            read = torch.cat([element, element]) if guided else element
            last, state = net.step(request.inputs(read, conditions, clock), state)
    return torch.stack(generated, dim=1)


def _told_and_untold(request: SamplingRequest) -> SamplingRequest:
    """Classifier-free guidance's request: each row twice, first with its conditions, then (rows ``n`` to
    ``2n``) with the untold classes, each copy with its row's clock."""
    n = request.num_samples
    told = request.conditions.expand(n, -1)
    untold = request.model.untold_conditions().to(device=told.device, dtype=told.dtype).expand_as(told)
    rows = torch.arange(n, device=told.device).repeat(2)
    clock = None if request.clock is None else request.clock.select(rows)
    return replace(request, conditions=torch.cat([told, untold]), clock=clock)


def beam(request: SamplingRequest) -> torch.Tensor:
    """``samples.strategy=beam``: the ``num_samples`` likeliest continuations of a beam search that keeps
    ``beam_size``, likeliest first (one search: ``conditions`` is one row)."""
    from melodygen.generation.beam import beam_search

    representation = request.model.representation

    def done(kept: torch.Tensor) -> bool:  # event: the likeliest continuation has all its onsets
        return bool(representation.is_onset(kept[0]).sum() > request.length)

    kept, scores = beam_search(
        request.model,
        request.prefix,
        request.beam_size,
        request.max_steps,
        None if representation.element_is_note else done,
        request.conditions,
        request.clock,
    )
    found = int(torch.isfinite(scores).sum())  # fewer than beam_size when fewer continuations exist
    rows = torch.arange(request.num_samples, device=kept.device).clamp_max(found - 1)
    return kept.index_select(0, rows)


def sample_melodies(
    model: MelodyModel,
    num_samples: int,
    length: int,
    temperature: float = SamplingConfig.temperature,
    top_k: int = SamplingConfig.top_k,
    top_p: float = SamplingConfig.top_p,
    primer: Melody | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    include_primer: bool = True,
    strategy: str = SamplingConfig.strategy,
    beam_size: int = SamplingConfig.beam_size,
    conditions: Mapping[str, str] | None = None,
    options: Mapping | None = None,
    bars: int | None = None,
    guidance: float = SamplingConfig.guidance,
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
    whatever the seed and the three sampling filters; a plugin's sampler gets ``options``. A primer longer than the model's context (a
    Transformer's) is seen by its last ``context`` elements, and a line says so. The continuous
    representation samples deterministically (its rounded prediction, as in the blog post), so all its
    samples are equal and the sampling arguments do nothing. ``device`` defaults to the model's; the
    model is moved there, put in eval mode while sampling, and then back in its previous mode.

    ``conditions`` asks a conditioned model for a meter, key and style (see
    :func:`melodygen.music.conditions.asked_conditions`); each condition left out is drawn per sample from the
    training melodies' combinations (one draw for all of a beam search's). Every melody's
    ``meta["conditions"]`` holds the labels it was generated with and ``meta["drawn"]`` which of them were
    drawn; its ``meta["time_signature"]`` and ``meta["key_signature"]`` go into its MIDI file.

    ``bars`` replaces ``length``: each melody, its primer included, lasts exactly that many whole bars of
    its meter (the one asked or drawn; 4/4 for a model not conditioned on meter, and its MIDI file says so),
    starting on a bar line. Elements are generated for as many 16ths as the longest needs (every element
    lasts at least one), and the melody is cut at its last bar line with its last note held to it
    (:func:`melodygen.music.meter.whole_bars`).

    ``guidance`` other than 1 (classifier-free guidance; a model trained with ``model.condition_dropout``)
    draws each element from the logits told nothing of the conditions plus ``guidance`` times the difference
    the conditions make: above 1, the melodies keep to what is asked more closely.
    """
    seen, shift = primer_as_trained(model, primer)
    one_search = SAMPLERS.entry(getattr(strategy, "value", strategy)).extra.get("one_search", False)
    draws = 1 if one_search else num_samples
    labels, classes, key_shifts = sample_conditions(model, conditions or {}, draws, seed)
    if draws < num_samples:
        labels, key_shifts = labels * num_samples, key_shifts * num_samples
    if bars is not None:
        signatures = [signature_of(row.get("meter")) for row in labels]
        ends = [bars * bar_steps(*signature) for signature in signatures]
        before = primer.total_steps if include_primer and primer is not None else 0
        if before >= max(ends):
            raise MelodygenError(
                f"samples.bars={bars}: the primer lasts {before} sixteenths, as long as the {bars} bars or longer"
            )
        length = max(ends) - before + MAX_DURATION  # a margin for rests at the start, which decode drops
    # a model with bars left counts down to each melody's end (from the primer's start)
    told = None
    if bars is not None:
        offset = primer.total_steps if primer is not None and not include_primer else 0
        told = [offset + end for end in ends]
    elements = sample_elements(
        model,
        num_samples,
        length,
        temperature,
        top_k,
        top_p,
        seen,
        seed,
        device,
        strategy,
        beam_size,
        classes,
        options,
        told,
        guidance,
    )
    representation = model.representation
    primer_elements = _prefix(representation, seen)[1:]
    qpm = float(primer.qpm) if primer is not None else DEFAULT_QPM
    # tokens were drawn until they held `length` notes: keep `length` notes and rests after the primer
    trim = not (representation.element_is_note or representation.element_is_step)
    keep = length + (len(representation.decode(primer_elements)) if include_primer and seen else 0)
    melodies = []
    for i, continuation in enumerate(elements):
        stream = np.concatenate([primer_elements, continuation]) if include_primer else continuation
        melody = representation.decode(stream)
        if bars is not None:
            melody = whole_bars(melody, ends[i])
            melody.meta["time_signature"] = signatures[i]
        elif trim and len(melody) > keep:
            melody = Melody(*normalize(melody.pitch[:keep], melody.duration[:keep]))
        errors = representation.token_errors(continuation)
        if errors is not None:  # sample_statistics reports their mean
            melody.meta["token_errors"] = errors
        back = -shift if key_shifts[i] is None else key_shifts[i]
        if back:  # back to the primer's own key (or on to the asked one), every note kept in 0–127
            rest = melody.pitch == REST
            moved = np.clip(melody.pitch.astype(np.int64) + back, 0, MAX_PITCH)
            melody.pitch = np.where(rest, REST, moved).astype(np.int16)
        if labels[i]:
            melody.meta.update(_condition_meta(labels[i], conditions or {}))
        melody.qpm = qpm
        melodies.append(melody)
    return melodies


def sample_conditions(
    model: MelodyModel, asked: Mapping[str, str], n: int, seed: int | None
) -> tuple[list[dict[str, str]], torch.Tensor | None, list[int | None]]:
    """For ``n`` samples: the labels each is generated with (``asked``, the rest drawn), their classes
    ``(n, K)`` for the network (None for an unconditioned model) and the semitones to move each sample by
    (None: as the primer says).

    A model trained with ``data.transpose_to_c`` knows keys in C only: it is asked for the mode, and what it
    writes is moved to the asked tonic.
    """
    conditioning = model.conditioning
    conditioning.check(asked)
    if not conditioning:
        return [{} for _ in range(n)], None, [None] * n
    view, tonic = dict(asked), None
    in_c = bool(model.hparams.get("transpose_to_c")) and "key" in asked
    if in_c:
        tonic, mode = asked["key"].split(" ")
        view["key"] = f"C {mode}"
    drawn = conditioning.draw(view, n, seed)
    classes = torch.as_tensor(np.stack([conditioning.index(row) for row in drawn]))
    labels, shifts = [], []
    for row in drawn:
        row = dict(row)
        if in_c and tonic != "?":
            row["key"] = f"{tonic} {row['key'].split(' ')[1]}"
            shifts.append(-semitones_to_c(TONICS.index(tonic)))
        else:
            shifts.append(None)
        labels.append(row)
    return labels, classes, shifts


def _condition_meta(labels: Mapping[str, str], asked: Mapping[str, str]) -> dict:
    """What a sample's ``meta`` records of its conditions, and the signatures its MIDI file will carry."""
    meta = {"conditions": dict(labels), "drawn": [name for name in labels if name not in asked]}
    if "meter" in labels:
        numerator, denominator = labels["meter"].split("/")
        meta["time_signature"] = (int(numerator), int(denominator))
    if "key" in labels:
        meta["key_signature"] = key_parts(labels["key"])
    return meta


def conditions_as_trained(model: MelodyModel, melody: Melody) -> np.ndarray | None:
    """The condition classes a conditioned model reads beside ``melody``: its own meter, key (as the model's
    ``data.key`` says, moved to C where the model was trained in C) and style (``meta["style"]``); None for
    an unconditioned model."""
    conditioning = model.conditioning
    if not conditioning:
        return None
    labels = melody_conditions(melody, model.hparams.get("key", "estimated"))
    if model.hparams.get("transpose_to_c", False):
        tonic, mode = key_parts(labels["key"])
        labels["key"] = key_label(tonic + transposition_to_c(melody.pitch, tonic), mode)
    return conditioning.index(labels)


def primer_as_trained(model: MelodyModel, primer: Melody | None) -> tuple[Melody | None, int]:
    """The primer prepared as the model's training melodies were, and the semitones it was moved by.

    A model trained with ``data.transpose_to_c=true`` only ever saw melodies in C (major or minor), so its
    primer is moved to C the same way (its key as ``data.key`` said: estimated, or the file's key signature;
    the shorter way, within 0–127). What its file said of its bars stays with it.
    """
    if primer is None or not model.hparams.get("transpose_to_c", False):
        return primer, 0
    tonic, _ = key_of(primer, model.hparams.get("key", "estimated"))
    shift = transposition_to_c(primer.pitch, tonic)
    meta = dict(primer.meta)  # its bar lines and time signature stand; its key signature moves with it
    if "key_signature" in meta:
        meta["key_signature"] = ((meta["key_signature"][0] + shift) % 12, meta["key_signature"][1])
    moved = Melody(transpose(primer.pitch, shift), primer.duration, primer.qpm, primer.source, meta)
    return moved, shift
