"""Train/validation/test split by file, seeded and stable across runs and machines."""

from __future__ import annotations

import hashlib

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2


def _unit_hash(seed: int, name: str) -> float:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_files(files: list[str], val_fraction: float, test_fraction: float, seed: int = 0) -> np.ndarray:
    """Split id (TRAIN, VAL or TEST) for each file, from a hash of the seed and the file's relative path.

    A file's split depends only on its own name, so adding or removing other files never moves it.
    When a non-zero fraction would leave its split empty, the train file closest to that split's
    range is moved over (small folders still get a validation set).
    """
    u = np.array([_unit_hash(seed, f) for f in files])
    split = np.full(len(files), TRAIN, dtype=np.int8)
    split[u < test_fraction + val_fraction] = VAL
    split[u < test_fraction] = TEST
    for which, fraction in ((TEST, test_fraction), (VAL, val_fraction)):
        train = np.flatnonzero(split == TRAIN)
        if fraction > 0 and not (split == which).any() and train.size > 1:
            split[train[np.argmin(u[train])]] = which
    return split
