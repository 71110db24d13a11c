"""Interchangeable melody representations, chosen by ``data.representation``."""

from melodygen.data.representations.base import Representation, sample_logits
from melodygen.data.representations.categorical import Categorical
from melodygen.data.representations.continuous import Continuous, decode_norm, encode_norm
from melodygen.data.representations.event import Event

REPRESENTATIONS: dict[str, type[Representation]] = {cls.name: cls for cls in (Continuous, Categorical, Event)}


def get_representation(name: str) -> Representation:
    from melodygen.errors import MelodygenError

    if name not in REPRESENTATIONS:
        raise MelodygenError(f"unknown data.representation={name!r}; choose one of {sorted(REPRESENTATIONS)}")
    return REPRESENTATIONS[name]()


__all__ = [
    "REPRESENTATIONS",
    "Categorical",
    "Continuous",
    "Event",
    "Representation",
    "decode_norm",
    "encode_norm",
    "get_representation",
    "sample_logits",
]
