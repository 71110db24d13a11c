"""Interchangeable melody representations, chosen by ``data.representation`` (a registered name)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from melodygen.registry import REPRESENTATIONS
from melodygen.representations.base import Representation, sample_logits, total_bits
from melodygen.representations.categorical import Categorical
from melodygen.representations.continuous import Continuous, decode_norm, encode_norm
from melodygen.representations.event import Event


def representation_class(name: str | Enum, hint: str = "") -> type[Representation]:
    """The class registered as ``name`` (one line naming the registered ones otherwise)."""
    return REPRESENTATIONS.get_class(getattr(name, "value", name), hint)


def get_representation(name: str | Enum, tokenizer: str | None = None, **settings) -> Representation:
    """A representation by name (``data.representation``), e.g. ``get_representation("categorical")``;
    ``settings`` are its own (``data.representations.NAME``).

    ``miditok`` needs ``tokenizer``: a MidiTok tokenization's name, a tokenizer.json file, or its text.
    """
    hparams = {"tokenizer": tokenizer} if tokenizer is not None else {}
    if settings:
        hparams["representation_settings"] = settings
    return representation_class(name).from_hparams(hparams)


def representation_from_config(data: Mapping) -> Representation:
    """The representation a ``data`` config (or a datamodule's hyperparameters) asks for, with its settings."""
    return representation_class(data["representation"]).from_config(data)


def representation_from_hparams(hparams: Mapping, what: str = "the checkpoint") -> Representation:
    """The representation a model's hyperparameters (a checkpoint's) rebuild, with no access to the data."""
    return representation_class(hparams["representation"]).from_hparams(hparams)


__all__ = [
    "REPRESENTATIONS",
    "Categorical",
    "Continuous",
    "Event",
    "Representation",
    "decode_norm",
    "encode_norm",
    "get_representation",
    "representation_class",
    "representation_from_config",
    "representation_from_hparams",
    "sample_logits",
    "total_bits",
]
