"""Interchangeable melody representations, chosen by ``data.representation``."""

from enum import Enum

from melodygen.errors import MelodygenError
from melodygen.representations.base import Representation, sample_logits
from melodygen.representations.categorical import Categorical
from melodygen.representations.continuous import Continuous, decode_norm, encode_norm
from melodygen.representations.event import Event

REPRESENTATIONS: dict[str, type[Representation]] = {cls.name: cls for cls in (Continuous, Categorical, Event)}


def get_representation(name: str | Enum) -> Representation:
    """A representation by name (``data.representation``), e.g. ``get_representation("categorical")``."""
    name = name.value if isinstance(name, Enum) else name
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
