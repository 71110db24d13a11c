"""How the exported page writes a melody, in Python: the same procedure, draw for draw.

The page (``index.html`` of an export) cannot use torch's random numbers, so it draws from a small
generator both sides can run, :class:`Draws` (mulberry32: a 32-bit state, one uniform number per call).
Each class is then picked as :func:`~melodygen.representations.base.sample_logits` picks it: logits over
the temperature, the ``top_k`` largest kept, the smallest set of classes whose probability reaches
``top_p`` kept (the likeliest always), then the first class whose running probability passes the uniform
number. :func:`generate` here and ``melodygen.generate`` in ``melodygen.js`` take the numbers in the same
order (the conditions left to draw, then each element's pitch and duration, or its token), so with the
same seed they write the same notes: the page's test holds them to it.

Beside ``melodygen-generate`` the page differs in three ways: its random numbers, a primer that starts on a
bar line (``melodygen-generate`` finds a typed primer's place in its bar from its notes), and keys in C (a
model trained with ``data.transpose_to_c``) moved to an asked key only, a primer then read in that key.
Like ``melodygen-generate``, ``bars=N`` draws on until a note starts past the last bar line, so rests at
either end never leave the melody short of its bars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melodygen.config.conditions import TONICS
from melodygen.errors import MelodygenError
from melodygen.generation.sampling import parse_pitch
from melodygen.music.conditions import UNSEEN
from melodygen.music.melody import MAX_DURATION, REST, Melody, normalize
from melodygen.music.meter import whole_bars as cut_to_bars
from melodygen.representations.position import BAR_CLASSES, POSITION_CLASSES, UNTOLD

MASK = 0xFFFFFFFF
#: what the page decodes: a note-level and a step-level representation
PAGE_REPRESENTATIONS = ("categorical", "event")


class Draws:
    """Uniform numbers in [0, 1) from ``seed`` (mulberry32), as ``melodygen.js`` draws them."""

    def __init__(self, seed: int):
        self.state = int(seed) & MASK

    def __call__(self) -> float:
        self.state = (self.state + 0x6D2B79F5) & MASK
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK)) & MASK
        return ((t ^ (t >> 14)) & MASK) / 4294967296.0


def pick(logits: Sequence[float], temperature: float, top_k: int, top_p: float, u: float) -> int:
    """One class of ``logits`` for the uniform number ``u`` (module docstring); temperature 0: the likeliest."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        return int(np.argmax(z))
    z = z / temperature
    keep = np.ones(z.size, dtype=bool)
    if 0 < top_k < z.size:
        keep &= z >= np.sort(z)[::-1][top_k - 1]
    if top_p < 1.0:
        order = [int(i) for i in np.argsort(-z, kind="stable") if keep[i]]
        weights = np.exp(z[order] - z[order[0]])
        probs = weights / weights.sum()
        before = 0.0
        for rank, i in enumerate(order):
            if rank > 0 and before >= top_p:
                keep[i] = False
            before += probs[rank]
    weights = np.where(keep, np.exp(z - z[keep].max()), 0.0)
    total = weights.sum()
    running = 0.0
    last = int(np.flatnonzero(keep)[-1])
    for i in np.flatnonzero(keep):
        running += weights[i] / total
        if u < running:
            return int(i)
    return last


@dataclass
class PageRequest:
    """What the page's form asks for."""

    seed: int = 0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    length: int = 64
    bars: int | None = None
    conditions: Mapping[str, str] = field(default_factory=dict)
    primer: str = ""


def bar_steps(meter: str | None) -> int:
    """16ths in a bar of a meter label (4/4 without one), rounded as Python rounds."""
    if not meter or "/" not in meter:
        return 16
    numerator, denominator = (int(v) for v in meter.split("/"))
    return max(1, round(numerator * 16 / denominator))


def draw_conditions(description: Mapping[str, Any], asked: Mapping[str, str], draws: Draws) -> dict[str, str]:
    """The asked conditions, and the others drawn (one number) from the training tunes' combinations that
    agree with them; where none agrees, each from its own counts (one number each)."""
    names = list(description["conditions"])
    for name, value in asked.items():
        if name not in names:
            raise MelodygenError(f"condition {name!r}: this model is conditioned on {names or 'nothing'}")
        if value not in description["conditions"][name] or value == UNSEEN:
            raise MelodygenError(f"condition {name}={value!r} is not one this model knows")
    combos = [(list(row[:-1]), int(row[-1])) for row in description.get("combos", [])]
    if len(asked) == len(names):
        return dict(asked)
    matching = [
        (labels, n) for labels, n in combos if all(labels[names.index(k)] == v for k, v in asked.items())
    ]
    if matching:
        u, total, running = draws(), sum(n for _, n in matching), 0.0
        chosen = matching[-1][0]
        for labels, n in matching:
            running += n / total
            if u < running:
                chosen = labels
                break
        return {**dict(zip(names, chosen, strict=True)), **asked}
    out = dict(asked)
    for j, name in enumerate(names):
        if name in asked:
            continue
        counts: dict[str, int] = {}
        for labels, n in combos:
            counts[labels[j]] = counts.get(labels[j], 0) + n
        options = sorted(counts)
        u, total, running = draws(), sum(counts.values()), 0.0
        out[name] = options[-1]
        for option in options:
            running += counts[option] / total
            if u < running:
                out[name] = option
                break
    return out


def parse_primer(text: str) -> tuple[list[int], list[int]]:
    """``PITCH:16THS`` tokens (a MIDI number, a name such as ``C4`` or ``F#4``, ``r`` for a rest; 1–16
    sixteenths) as the page reads them, tidied as ``melodygen-generate`` tidies a primer: leading rests
    dropped, neighbouring rests merged (and split into whole notes), a closing rest kept."""
    pitches: list[int] = []
    durations: list[int] = []
    for token in text.replace(",", " ").split():
        parts = token.split(":")
        pitch = parse_pitch(parts[0]) if len(parts) == 2 and token.isascii() else None
        steps = int(parts[1]) if pitch is not None and re.fullmatch(r"[0-9]+", parts[1]) else 0
        if pitch is None or not 1 <= steps <= MAX_DURATION:
            raise MelodygenError(
                f"primer token {token!r}: use PITCH:16THS such as 60:4, C4:4, F#4:2 or r:2 (1–16)"
            )
        if pitch == REST and not pitches:
            continue
        if pitch == REST and pitches[-1] == REST:
            durations[-1] += steps
            continue
        pitches.append(pitch)
        durations.append(steps)
    out_p: list[int] = []
    out_d: list[int] = []
    for pitch, steps in zip(pitches, durations, strict=True):
        while steps > MAX_DURATION:  # only merged rests are longer
            out_p.append(pitch)
            out_d.append(MAX_DURATION)
            steps -= MAX_DURATION
        out_p.append(pitch)
        out_d.append(steps)
    return out_p, out_d


def encode(representation: str, pitches: Sequence[int], durations: Sequence[int]) -> list[list[int]]:
    """Notes and rests as the representation's elements (categorical: pitch and duration class; event: one
    token per 16th)."""
    if representation == "categorical":
        return [[p, d - 1] for p, d in zip(pitches, durations, strict=True)]
    tokens: list[list[int]] = []
    for p, d in zip(pitches, durations, strict=True):
        tokens.append([1 if p == REST else 2 + p])
        tokens += [[0]] * (d - 1)
    return tokens


def element_steps(representation: str, element: Sequence[int]) -> int:
    """16ths an element moves the melody on (the start element: 0)."""
    if representation == "categorical":
        return 0 if element[0] == REST + 1 else element[1] + 1
    return 0 if element[0] == REST + 2 else 1


def decode(representation: str, elements: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """Elements back to notes and rests, tidied as :func:`melodygen.music.melody.normalize` tidies them."""
    if representation == "categorical":
        pitches, durations = [e[0] for e in elements], [e[1] + 1 for e in elements]
    else:
        pitches, durations = [], []
        for (token,) in elements:
            if token == 0 and pitches:
                durations[-1] += 1
            elif token != 0:
                pitches.append(REST if token == 1 else token - 2)
                durations.append(1)
    pitch, duration = normalize(pitches, durations)
    return pitch.tolist(), duration.tolist()


def whole_bars(pitches: list[int], durations: list[int], steps: int) -> tuple[list[int], list[int]]:
    """Cut to ``steps`` 16ths, the last note held to the end (:func:`melodygen.music.meter.whole_bars`)."""
    melody = cut_to_bars(Melody(np.array(pitches, np.int16), np.array(durations, np.int16)), steps)
    return melody.pitch.tolist(), melody.duration.tolist()


def columns(clock: dict[str, int | None], bars_left: bool) -> list[int]:
    """Where the next element starts: its position in the bar, the bar's number, the bars left (or untold)."""
    since, bar = clock["since"], clock["bar"]
    out = [
        min(since % bar, POSITION_CLASSES - 1),
        min(max(clock["first"] + since // bar, 0), BAR_CLASSES - 1),
    ]
    if bars_left:
        until = clock["until"]
        out.append(UNTOLD if until is None else min(max((until - 1) // bar - since // bar, 0), UNTOLD - 1))
    return out


def generate(exported, request: PageRequest) -> dict[str, Any]:
    """A melody from an exported folder (:class:`~melodygen.export.folder.Exported`), as the page writes it:
    ``pitch`` and ``duration`` lists (rests are 128), the ``conditions`` it was written with, its ``meter``."""
    description = exported.description
    representation = description["representation"]
    if representation not in PAGE_REPRESENTATIONS:
        raise MelodygenError(f"the page writes categorical and event melodies, not {representation}")
    draws = Draws(request.seed)
    asked = dict(request.conditions)
    in_c = bool(description.get("transpose_to_c")) and "key" in asked
    if in_c:  # a model that knew its keys in C only: asked for the mode in C, moved to the key after
        tonic, mode = asked["key"].split(" ")
        if tonic not in TONICS:
            raise MelodygenError(f"condition key={asked['key']!r} is not one this model knows")
        conditions = {
            **draw_conditions(description, {**asked, "key": f"C {mode}"}, draws),
            "key": asked["key"],
        }
        seen = {**conditions, "key": f"C {mode}"}
        to_c = -TONICS.index(tonic) if TONICS.index(tonic) <= 6 else 12 - TONICS.index(tonic)
    else:
        conditions = draw_conditions(description, asked, draws)
        seen, to_c = dict(conditions), 0
    names = list(description["conditions"])
    classes = [description["conditions"][n].index(seen[n]) for n in names]
    meter = conditions.get("meter")
    primer = parse_primer(request.primer)
    if to_c:  # a primer is in the asked key: moved to C with the model's view of it
        primer = ([p if p == REST else min(max(p + to_c, 0), 127) for p in primer[0]], primer[1])
    start = list(description["start"])
    prefix = [start, *encode(representation, *primer)]
    before = sum(primer[1])
    end = None if request.bars is None else request.bars * bar_steps(meter)
    if end is not None and before >= end:
        raise MelodygenError(f"bars={request.bars}: the primer is as long as the melody or longer")
    clock = {"since": 0, "bar": bar_steps(meter), "first": 1, "until": end}
    position, bars_left = description["bar_position"], description["bars_left"]
    state = exported.zeros(1)

    def step(element: Sequence[int]):
        nonlocal state
        x = [*element, *classes]
        if position:
            clock["since"] += element_steps(representation, element)
            x += columns(clock, bars_left)
        logits, state = exported.step.step(np.array([x], dtype=np.int64), state)
        return [row[0] for row in logits]

    for element in prefix:
        logits = step(element)
    drawn: list[list[int]] = []
    # where the next element starts, in 16ths from the first note (rests before it are dropped)
    steps, onsets, started = before, 0, before > 0
    if end is None:
        limit = request.length * (1 if representation == "categorical" else MAX_DURATION)
    else:  # as for melodygen-generate: room for rests, then a note that starts past the end
        limit = (end - before + MAX_DURATION) * (1 if representation == "categorical" else MAX_DURATION)
    t, k, p = request.temperature, request.top_k, request.top_p
    while True:
        if representation == "categorical":
            element = [
                pick(logits[0][: REST + 1], t, k, p, draws()),
                pick(logits[1][:MAX_DURATION], t, k, p, draws()),
            ]
            note = element[0] != REST
        else:
            element = [pick(logits[0][: REST + 2], t, k, p, draws())]
            note = element[0] >= 2
        onsets += element[0] != 0 if representation == "event" else 1
        if representation == "event" and end is None and onsets > request.length:
            break  # the onset after the last note: the melody ends before it
        if end is not None and note and started and steps >= end:
            break  # a note after the last bar line: the bars are whole
        started = started or note
        drawn.append(element)
        steps += element_steps(representation, element) if started else 0
        if len(drawn) >= limit:
            break
        logits = step(element)
    pitches, durations = decode(representation, [*prefix[1:], *drawn])
    if end is not None:
        pitches, durations = whole_bars(pitches, durations, end)
    if to_c:
        pitches = [p if p == REST else min(max(p - to_c, 0), 127) for p in pitches]
    return {"pitch": pitches, "duration": durations, "conditions": conditions, "meter": meter or "4/4"}
