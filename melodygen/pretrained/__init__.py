"""Models trained on the built-in folk corpus that ship inside the package, usable with no data and no training.

Each is ``<name>.ckpt`` (a melodygen checkpoint without its optimizer state: weights, hyperparameters and
the data settings it was trained with) beside ``<name>.md``, its card. ``make pretrained`` makes them again
from the recipes ``conf/experiment/folk_*.yaml`` (``scripts/make_pretrained.py``).

Wherever a checkpoint path goes, ``pretrained:<name>`` names one (``ckpt_path=pretrained:folk-lstm``,
``init_from=pretrained:folk-transformer``); ``melodygen-generate``, ``-evaluate`` and ``-export`` also take
``pretrained=<name>``.
"""

from __future__ import annotations

from pathlib import Path

from melodygen.errors import MelodygenError

HERE = Path(__file__).resolve().parent
PREFIX = "pretrained:"

#: each pretrained model: its recipe (``conf/experiment/<recipe>.yaml``) and what it is, in a few words
MODELS = {
    "folk-lstm": ("folk_lstm", "the default LSTM of `make train`"),
    "folk-transformer": ("folk_transformer", "the default Transformer"),
    "folk-transformer-conditioned": (
        "folk_transformer_conditioned",
        "a Transformer conditioned on meter, key and style",
    ),
}


def available() -> dict[str, Path]:
    """The pretrained models this installation holds, by name, and their checkpoint files."""
    return {name: HERE / f"{name}.ckpt" for name in MODELS if (HERE / f"{name}.ckpt").is_file()}


def card(name: str) -> Path:
    """The card (Markdown) of the pretrained model ``name``."""
    return HERE / f"{name}.md"


def is_pretrained(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def checkpoint_of(name: str, key: str = "pretrained", value: str | None = None) -> str:
    """The checkpoint file of the pretrained model ``name``; one line naming ``key`` and the ``value`` given
    (``name`` itself by default) when there is none."""
    found = available()
    if name in found:
        return str(found[name])
    given = f"{key}={(name if value is None else value)!r}"
    if name in MODELS:
        raise MelodygenError(f"{given}: its checkpoint is missing from {HERE}; reinstall melodygen")
    known = ", ".join(found) or "none in this installation"
    raise MelodygenError(f"{given} is not a pretrained model (there are: {known})")


def resolve(value, key: str = "ckpt_path"):
    """``pretrained:<name>`` → that model's checkpoint file; any other value as it is."""
    if is_pretrained(value):
        return checkpoint_of(value[len(PREFIX) :], key, value)
    return value
