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


def fold_split(files: list[str], folds: int, fold: int, val_fraction: float, seed: int = 0) -> np.ndarray:
    """Split ids for fold ``fold`` of a ``folds``-fold cross-validation by file.

    Files are ordered by a seeded hash of their names and dealt out in turn, so the folds differ in
    size by at most one file and together hold every file exactly once. The test split is fold ``fold``;
    ``val_fraction`` of the other files (by a second hash) validate, the rest train.
    """
    order = np.argsort([_unit_hash(seed, f) for f in files], kind="stable")
    fold_of = np.empty(len(files), dtype=np.int64)
    fold_of[order] = np.arange(len(files)) % folds
    rest = np.flatnonzero(fold_of != fold)
    split = np.full(len(files), TEST, dtype=np.int8)
    split[rest] = split_files([files[i] for i in rest], val_fraction, 0.0, seed + 1)
    return split
