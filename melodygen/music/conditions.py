"""What a melody can be asked to be: its meter, its key and its style, and the vocabulary a model learns them in.

Every melody carries three conditions:

- ``meter``: its file's first time signature as ``"6/8"``; ``"4/4"`` where the file has none (MIDI's own
  default), and ``meta["time_signature"]`` tells whether it was notated;
- ``key``: tonic and mode, ``"D major"``, from the file's key signature or estimated from the notes, as
  ``data.key`` says (the same key ``data.transpose_to_c`` moves by);
- ``style``: a label for where the melody comes from: the sub-folder of ``data.midi_dir`` it lies in (the
  folk corpus's collection), or the list of files ``data.style_lists`` names it in.

A conditioned model (``model.conditions=[meter,key,style]``, any subset) reads each condition as a class
index beside every element. :class:`Conditioning` is what it was conditioned on: the names, each one's
labels (a key is one of the 24; a meter or a style one of those its training melodies had, index 0 standing
for any other), and how often each combination of labels occurred in training, from which a condition that
is not asked for at generation is drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodygen.config.conditions import (
    CONDITIONS,
    DEFAULT_METER,
    KEYS,
    MODES,
    TONICS,
    asked_conditions,
    check_names,
    key_label,
    key_parts,
    meter_label,
    parse_meter,
    parse_tonic,
)
from melodygen.errors import MelodygenError

#: the labels' vocabulary and the checks of what a config asks for live in melodygen.config.conditions
__all__ = [
    "CONDITIONS", "DEFAULT_METER", "KEYS", "MODES", "NO_STYLE", "TONICS", "UNSEEN", "Conditioning",
    "asked_conditions", "check_names", "counts", "key_label", "key_parts", "melody_conditions", "melody_meter",
    "meter_label", "parse_meter", "parse_tonic", "style_labels",
]  # fmt: skip

#: index 0 of the meter and style labels: a label no training melody had
UNSEEN = "<unseen>"
#: the style of a file directly in ``data.midi_dir`` (no sub-folder), or in none of ``data.style_lists``
NO_STYLE = "none"


def melody_meter(melody) -> str:
    """A :class:`~melodygen.music.melody.Melody`'s meter: its file's time signature, else 4/4."""
    signature = melody.meta.get("time_signature")
    return meter_label(*signature) if signature else DEFAULT_METER


def melody_conditions(melody, key_source: str = "estimated") -> dict[str, str]:
    """All three conditions of a melody (its style as ``meta["style"]`` holds it, else :data:`NO_STYLE`)."""
    from melodygen.music.keys import key_of

    return {
        "meter": melody_meter(melody),
        "key": key_label(*key_of(melody, key_source)),
        "style": str(melody.meta.get("style", NO_STYLE)),
    }


def style_labels(
    files: Sequence[str], midi_dir: str | Path, style_lists: Mapping[str, str] | None
) -> list[str]:
    """The style of each of ``files`` (paths relative to ``midi_dir``).

    Without ``style_lists`` a file's style is its top sub-folder (``oneills/0001.mid`` → ``oneills``). With
    it, each label names a text file of paths (one per line, relative to ``midi_dir``; ``#`` starts a
    comment): a file listed there has that label, a file in no list :data:`NO_STYLE`.
    """
    if not style_lists:
        return [Path(f).parts[0] if len(Path(f).parts) > 1 else NO_STYLE for f in files]
    by_file: dict[str, str] = {}
    for label, list_file in style_lists.items():
        path = Path(list_file).expanduser()
        if not path.is_absolute() and not path.exists():
            path = Path(midi_dir) / path
        if not path.is_file():
            raise MelodygenError(f"data.style_lists.{label}={str(list_file)!r}: no such file")
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                by_file.setdefault(Path(entry).as_posix(), str(label))
    return [by_file.get(Path(f).as_posix(), NO_STYLE) for f in files]


def counts(conditions: Sequence[Mapping[str, str]]) -> dict[str, dict[str, int]]:
    """How many melodies have each label of each condition, the commonest first (for the data report)."""
    return {
        name: dict(Counter(c[name] for c in conditions).most_common())
        for name in CONDITIONS
        if conditions and name in conditions[0]
    }


@dataclass
class Conditioning:
    """What a model is conditioned on: ``names`` (in :data:`CONDITIONS` order), each one's ``labels`` (index
    = class) and ``combos``, the training melodies' label combinations with their counts."""

    names: tuple[str, ...] = ()
    labels: dict[str, list[str]] = field(default_factory=dict)
    combos: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.names)

    @classmethod
    def fit(cls, names: Sequence[str], conditions: Sequence[Mapping[str, str]]) -> Conditioning:
        """The vocabulary of the training melodies' ``conditions`` (one dict per melody)."""
        names = check_names(names)
        labels = {}
        for name in names:
            seen = sorted({c[name] for c in conditions})
            labels[name] = list(KEYS) if name == "key" else [UNSEEN, *seen]
        combos = Counter(tuple(c[n] for n in names) for c in conditions)
        return cls(names, labels, sorted(combos.items(), key=lambda item: (-item[1], item[0])))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Classes of each condition's column."""
        return tuple(len(self.labels[n]) for n in self.names)

    @property
    def key_column(self) -> int | None:
        """Which of the condition columns holds the key (its index moves with a transposition)."""
        return self.names.index("key") if "key" in self.names else None

    def index(self, conditions: Mapping[str, str]) -> np.ndarray:
        """The class of each condition of one melody, ``(len(names),)``; a label not seen in training is 0."""
        out = []
        for name in self.names:
            labels = self.labels[name]
            value = conditions[name]
            out.append(labels.index(value) if value in labels else 0)
        return np.array(out, dtype=np.int64)

    def hparams(self) -> dict:
        """Plain values a checkpoint keeps (none for an unconditioned model, so its hyperparameters stay)."""
        if not self.names:
            return {}
        return {
            "conditions": list(self.names),
            "condition_labels": {n: list(v) for n, v in self.labels.items()},
            "condition_counts": [[*labels, count] for labels, count in self.combos],
        }

    @classmethod
    def from_hparams(cls, hparams: Mapping) -> Conditioning:
        names = tuple(hparams.get("conditions") or ())
        if not names:
            return cls()
        labels = {n: list(v) for n, v in dict(hparams["condition_labels"]).items()}
        combos = [(tuple(row[:-1]), int(row[-1])) for row in hparams.get("condition_counts") or []]
        return cls(names, labels, combos)

    def known(self, name: str) -> list[str]:
        """The labels of ``name`` a user can ask for."""
        return [label for label in self.labels[name] if label != UNSEEN]

    def check(self, asked: Mapping[str, str], prefix: str = "samples.") -> None:
        """One line for a condition the model was not trained with, or a value it does not know."""
        for name, value in asked.items():
            if name not in self.names:
                given = f"{prefix}{name}={value}"
                if name == "key":  # as it was asked: samples.key=D samples.mode=major
                    parts = zip(("key", "mode"), value.split(" "), strict=True)
                    given = " ".join(f"{prefix}{part}={text}" for part, text in parts if text != "?")
                if not self.names:
                    raise MelodygenError(
                        f"{given}: this model is not conditioned (trained without model.conditions)"
                    )
                raise MelodygenError(
                    f"{given}: this model is conditioned on {', '.join(self.names)} only (model.conditions)"
                )
            if name != "key" and value not in self.known(name):
                raise MelodygenError(
                    f"{prefix}{name}={value!r} is not a {name} this model knows; known: {', '.join(self.known(name))}"
                )

    def draw(self, asked: Mapping[str, str], n: int, seed: int | None = None) -> list[dict[str, str]]:
        """``n`` full sets of conditions: the asked ones, and the others drawn from the training melodies'
        combinations that agree with the asked ones (each condition on its own where none agrees).

        ``asked["key"]`` may be a tonic or a mode alone (``"D ?"``, ``"? major"``); the part left out is drawn
        the same way.
        """
        rng = np.random.default_rng(seed)

        def agrees(labels: tuple[str, ...]) -> bool:
            return all(
                _agrees(name, asked[name], label) for name, label in zip(self.names, labels) if name in asked
            )

        matching = [(labels, count) for labels, count in self.combos if agrees(labels)]
        if matching:
            weights = np.array([c for _, c in matching], dtype=np.float64)
            picks = rng.choice(len(matching), size=n, p=weights / weights.sum())
            drawn = [dict(zip(self.names, matching[i][0])) for i in picks]
        else:  # no training melody had this combination: each missing condition by its own counts
            drawn = [{} for _ in range(n)]
            for j, name in enumerate(self.names):
                totals = Counter()
                for labels, count in self.combos:
                    if name not in asked or _agrees(name, asked[name], labels[j]):
                        totals[labels[j]] += count
                if not totals:  # an asked key no tune had: the asked parts, the rest from every tune
                    totals = Counter({labels[j]: count for labels, count in self.combos})
                options = sorted(totals)
                weights = np.array([totals[o] for o in options], dtype=np.float64)
                for row in drawn:
                    row[name] = options[rng.choice(len(options), p=weights / weights.sum())]
        for row in drawn:
            for name, value in asked.items():
                row[name] = _fill_key(value, row[name]) if name == "key" else value
        return drawn


def _agrees(name: str, asked: str, label: str) -> bool:
    if name != "key":
        return asked == label
    tonic, mode = asked.split(" ")
    have_tonic, have_mode = label.split(" ")
    return tonic in ("?", have_tonic) and mode in ("?", have_mode)


def _fill_key(asked: str, drawn: str) -> str:
    """An asked key with the part left out (``?``) taken from a drawn one."""
    parts = [a if a != "?" else d for a, d in zip(asked.split(" "), drawn.split(" "), strict=True)]
    return " ".join(parts)
