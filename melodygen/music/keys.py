"""Key estimation (Krumhansl–Schmuckler) and transposition to C."""

from __future__ import annotations

import numpy as np

from melodygen.music.melody import REST

MAX_PITCH = 127

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR, MINOR = 0, 1


def _rotations(profile: np.ndarray) -> np.ndarray:
    """Row ``t`` is the profile for tonic pitch class ``t``."""
    return np.stack([np.roll(profile, t) for t in range(12)])


_PROFILES = np.concatenate([_rotations(_MAJOR), _rotations(_MINOR)])  # (24, 12)
_PROFILES_Z = (_PROFILES - _PROFILES.mean(1, keepdims=True)) / _PROFILES.std(1, keepdims=True)


def estimate_key(pitch: np.ndarray, duration: np.ndarray) -> tuple[int, int]:
    """``(tonic pitch class, MAJOR or MINOR)`` that best correlates with the duration-weighted pitch classes."""
    notes = pitch != REST
    hist = np.bincount(pitch[notes] % 12, weights=duration[notes], minlength=12)
    if hist.std() == 0:
        return 0, MAJOR
    z = (hist - hist.mean()) / hist.std()
    best = int(np.argmax(_PROFILES_Z @ z))
    return best % 12, best // 12


def semitones_to_c(tonic: int) -> int:
    """Semitones that move ``tonic`` to C by the shorter way, in [-6, 5]."""
    return -tonic if tonic <= 6 else 12 - tonic


def transposition_to_c(pitch: np.ndarray, tonic: int) -> int:
    """Semitones that move a melody with tonic ``tonic`` to C, keeping every pitch in 0–127.

    The shorter way first; an octave the other way when that would leave the MIDI range; 0 when neither
    fits. Rests (:data:`REST`) do not move and do not count.
    """
    notes = np.asarray(pitch)[np.asarray(pitch) != REST].astype(np.int64)
    shift = semitones_to_c(int(tonic))
    if notes.size == 0:
        return 0
    low, high = int(notes.min()), int(notes.max())
    for candidate in (shift, shift - 12 if shift > 0 else shift + 12):
        if 0 <= low + candidate and high + candidate <= MAX_PITCH:
            return candidate
    return 0


def transpose(pitch: np.ndarray, semitones: int) -> np.ndarray:
    """``pitch`` moved by ``semitones``; rests stay rests."""
    pitch = np.asarray(pitch)
    return np.where(pitch == REST, REST, pitch + semitones).astype(pitch.dtype)


def key_of(melody, source: str = "estimated") -> tuple[int, int]:
    """``(tonic pitch class, MAJOR or MINOR)`` of a :class:`~melodygen.music.melody.Melody`: its file's key
    signature when ``source`` is ``"notated"`` and it had one, else estimated from its notes."""
    signature = melody.meta.get("key_signature") if source == "notated" else None
    if signature is not None:
        return int(signature[0]), int(signature[1])
    return estimate_key(melody.pitch, melody.duration)
