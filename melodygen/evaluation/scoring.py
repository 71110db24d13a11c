"""Scoring a model on melodies it never saw, melody by melody, and comparing sets of melodies.

Each melody is scored from its own start: the model sees the start element, then the melody one element
at a time, and predicts every next element; no context crosses from one file to another. Figures are per
note: bits are −log2 likelihood summed over a melody's elements and divided by their count, over notes
and rests together (``all``) and over notes only (``notes``), so every representation is comparable (the
event representation sums its step bits per note).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from melodygen.generation.sampling import conditions_as_trained, primer_as_trained
from melodygen.models import MelodyModel
from melodygen.music.melody import Melody
from melodygen.representations import total_bits
from melodygen.representations.position import melody_positions


def melody_sums(
    model: MelodyModel,
    melodies: Sequence[Melody],
    batch_size: int = 32,
    progress: bool = False,
    lookahead: bool = True,
) -> list[dict[str, float]]:
    """``note_metrics`` sums of each melody, scored from its own start (a batch of melodies at a time,
    padded at the end with the boundary element, which is never scored); ``progress`` shows a bar on a
    terminal, lines in a log file. A model with bars left (``data.bars_left``) is told each melody's from
    its own length, unless ``lookahead`` is False."""
    from melodygen.runtime.pool import progress_display

    rep = model.representation
    device = next(model.parameters()).device
    encoded = []
    for melody in melodies:
        classes = conditions_as_trained(model, melody)  # a conditioned model reads the melody's own
        melody, _ = primer_as_trained(model, melody)  # a transpose_to_c model saw melodies in C only
        notes = rep.encode(melody)
        elements = np.concatenate([rep.start[None], notes, rep.start[None]])
        if classes is not None:
            elements = np.concatenate(
                [elements, np.broadcast_to(classes, (len(elements), len(classes)))], axis=1
            )
        if model.bar_position:  # where each next element starts, as the model read it in training
            # a model with bars left is told them from the melody's own length (the figures look ahead)
            places = melody_positions(rep, melody, notes, lookahead if model.bars_left else None)
            places = np.concatenate([places, np.zeros((1, places.shape[1]), np.int64)])
            elements = np.concatenate([elements, places.astype(elements.dtype)], axis=1)
        encoded.append(elements)
    results: list[dict[str, float] | None] = [None] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
    model.eval()
    with torch.no_grad(), progress_display("scoring", "melodies", progress) as bar:
        task, started = bar.add_task("scoring", total=len(order), rate=0.0), time.perf_counter()
        for first in range(0, len(order), batch_size):
            chosen = order[first : first + batch_size]
            longest = max(len(encoded[i]) for i in chosen)
            batch = np.zeros((len(chosen), longest, encoded[chosen[0]].shape[1]), dtype=rep.dtype)
            for row, i in enumerate(chosen):
                batch[row, : len(encoded[i])] = encoded[i]
                batch[row, len(encoded[i]) :] = encoded[i][-1]  # the closing boundary, with its conditions
            seq = torch.from_numpy(batch.astype(rep.dtype)).to(device)
            outputs, _ = model(seq[:, :-1])
            targets = model.targets(seq[:, 1:])
            for row, i in enumerate(chosen):
                sums = rep.note_metrics([o[row : row + 1] for o in outputs], targets[row : row + 1])
                results[i] = {name: float(value) for name, value in sums.items()}
            done = first + len(chosen)
            bar.update(task, advance=len(chosen), rate=done / max(time.perf_counter() - started, 1e-9))
    return results  # type: ignore[return-value]


def figures(sums: dict[str, float]) -> dict[str, float]:
    """Per-note figures from summed ``note_metrics``: over notes and rests (``all/…``) and notes only.

    A representation that cannot split pitch from duration bits (a learned MidiTok vocabulary) gets
    ``all/bits`` alone; one that cannot tell the rests' bits from the notes' gets no ``notes/…``.
    """
    out = {"notes": sums["notes"] - sums["rests"], "rests": sums["rests"]}
    if sums["notes"]:
        out["all/bits"] = total_bits(sums) / sums["notes"]
    if "pitch_bits" not in sums:
        return out
    scopes = (("all", ""), ("notes", "rest_")) if "rest_pitch_bits" in sums else (("all", ""),)
    for scope, prefix in scopes:
        count = sums["notes"] - (sums["rests"] if prefix else 0.0)
        pitch = sums["pitch_bits"] - (sums["rest_pitch_bits"] if prefix else 0.0)
        duration = sums["duration_bits"] - (sums["rest_duration_bits"] if prefix else 0.0)
        correct = sums["pitch_correct"] - (sums["rest_pitch_correct"] if prefix else 0.0)
        if count:
            out[f"{scope}/pitch_bits"] = pitch / count
            out[f"{scope}/duration_bits"] = duration / count
            out[f"{scope}/bits"] = (pitch + duration) / count
            out[f"{scope}/pitch_acc"] = correct / count
    return out


def total(per_melody: Sequence[dict[str, float]]) -> dict[str, float]:
    """The sums of several melodies added up (every note counts once, whatever its melody's length)."""
    keys = per_melody[0].keys() if per_melody else ()
    return {key: float(sum(m[key] for m in per_melody)) for key in keys}
