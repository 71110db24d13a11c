"""The labels a melody's conditions take, and the checks of what a config asks for: ``model.conditions``
(:func:`check_names`) and ``samples.meter/key/mode/style`` (:func:`asked_conditions`). What the labels
mean for a melody, and what a model learns of them, is :mod:`melodygen.music.conditions`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from melodygen.errors import MelodygenError

#: the conditions a model can be given, in the order their columns follow the representation's
CONDITIONS = ("meter", "key", "style")

DEFAULT_METER = "4/4"

TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

MODES = ("major", "minor")

#: every key, index ``12 * mode + tonic``: the same 24 for every model, so a transposed key is an index shift
KEYS = tuple(f"{tonic} {mode}" for mode in MODES for tonic in TONICS)

_LETTER = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}

_METER = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


def key_label(tonic: int, mode: int) -> str:
    """``"D major"`` for tonic pitch class 2 and mode 0 (:data:`melodygen.music.keys.MAJOR`)."""
    return KEYS[12 * int(mode) + int(tonic) % 12]


def key_parts(label: str) -> tuple[int, int]:
    """``(tonic, mode)`` of a :data:`KEYS` label."""
    index = KEYS.index(label)
    return index % 12, index // 12


def parse_tonic(text: str) -> int | None:
    """The pitch class of a tonic written ``D``, ``f#``, ``Bb``, ``Eb`` or ``C♯``; None when it is none."""
    text = str(text).strip().replace("♯", "#").replace("♭", "b")
    match = re.fullmatch(r"([A-Ga-g])([#b]*)", text)
    if not match:
        return None
    letter, accidentals = match.groups()
    return (_LETTER[letter.lower()] + accidentals.count("#") - accidentals.count("b")) % 12


def meter_label(numerator: int, denominator: int) -> str:
    return f"{int(numerator)}/{int(denominator)}"


def parse_meter(text: str) -> str | None:
    """``"6/8"`` from ``6/8`` or ``6 / 8``; None when it is not a time signature."""
    match = _METER.match(str(text))
    return meter_label(*match.groups()) if match and int(match.group(1)) and int(match.group(2)) else None


def check_names(names: Sequence[str], key: str = "model.conditions") -> tuple[str, ...]:
    """The conditions ``names`` asks for, in :data:`CONDITIONS` order; one line for an unknown one."""
    names = [str(n) for n in names]
    for name in names:
        if name not in CONDITIONS:
            raise MelodygenError(f"{key}: {name!r} is not a condition; choose from {', '.join(CONDITIONS)}")
    return tuple(n for n in CONDITIONS if n in names)


def asked_conditions(meter=None, key=None, mode=None, style=None, prefix: str = "samples.") -> dict[str, str]:
    """The conditions ``samples.meter``, ``samples.key`` (a tonic), ``samples.mode`` and ``samples.style``
    ask for, checked (one line for a malformed value); the key as a :data:`KEYS` label, ``?`` for a part
    left out."""
    asked: dict[str, str] = {}
    if meter is not None:
        label = parse_meter(meter)
        if label is None:
            raise MelodygenError(
                f"{prefix}meter={meter!r} is not a time signature; write it as 6/8, 3/4, 4/4 …"
            )
        asked["meter"] = label
    if key is not None or mode is not None:
        tonic = "?"
        if key is not None:
            pitch_class = parse_tonic(key)
            if pitch_class is None:
                raise MelodygenError(
                    f"{prefix}key={key!r} is not a tonic; write C, D, F#, Bb … (and the mode as {prefix}mode)"
                )
            tonic = TONICS[pitch_class]
        if mode is not None and str(mode).lower() not in MODES:
            raise MelodygenError(f"{prefix}mode={mode!r}: choose major or minor")
        asked["key"] = f"{tonic} {str(mode).lower() if mode is not None else '?'}"
    if style is not None:
        asked["style"] = str(style)
    return asked
