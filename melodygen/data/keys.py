"""Key estimation (Krumhansl–Schmuckler) and transposition to C."""

from __future__ import annotations

import numpy as np

from melodygen.data.melody import REST

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


def shift_to_c(tonic: int) -> int:
    """Semitones that move ``tonic`` to C by the shorter way, in [-6, 5]."""
    return -tonic if tonic <= 6 else 12 - tonic
