"""Interchangeable melody representations, chosen by ``data.representation``."""

from enum import Enum

from melodygen.errors import MelodygenError
from melodygen.representations.base import Representation, sample_logits, total_bits
from melodygen.representations.categorical import Categorical
from melodygen.representations.continuous import Continuous, decode_norm, encode_norm
from melodygen.representations.event import Event

REPRESENTATIONS: dict[str, type[Representation]] = {cls.name: cls for cls in (Continuous, Categorical, Event)}
#: built from a tokenizer, and only when MidiTok is installed (melodygen[miditok])
TOKENIZED = "miditok"


def get_representation(name: str | Enum, tokenizer: str | None = None) -> Representation:
    """A representation by name (``data.representation``), e.g. ``get_representation("categorical")``.

    ``miditok`` needs ``tokenizer``: a MidiTok tokenization's name, a tokenizer.json file, or its text.
    """
    name = name.value if isinstance(name, Enum) else name
    if name == TOKENIZED:
        from melodygen.representations.tokenized import MidiTok

        if tokenizer is None:
            raise MelodygenError("data.representation=miditok needs a tokenizer (data.tokenizer)")
        return MidiTok.from_spec(tokenizer)
    if name not in REPRESENTATIONS:
        known = sorted([*REPRESENTATIONS, TOKENIZED])
        raise MelodygenError(f"unknown data.representation={name!r}; choose one of {known}")
    return REPRESENTATIONS[name]()


__all__ = [
    "REPRESENTATIONS",
    "TOKENIZED",
    "Categorical",
    "Continuous",
    "Event",
    "Representation",
    "decode_norm",
    "encode_norm",
    "get_representation",
    "sample_logits",
    "total_bits",
]
