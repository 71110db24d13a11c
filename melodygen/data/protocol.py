"""What training asks of a data source (``data=NAME``), beyond being a LightningDataModule.

:class:`melodygen.data.datamodule.MelodyDataModule` is the built-in one (``data.source=midi``); a plugin's
usually subclasses it and overrides ``parse`` alone. One written from scratch provides all of this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from melodygen.music.conditions import Conditioning
    from melodygen.representations import Representation


@runtime_checkable
class MelodyData(Protocol):
    """A data source as :func:`melodygen.training.train.train` uses it, in this order: ``use_representation`` and
    ``use_conditioning`` (a resumed or fine-tuned run's, from its checkpoint), ``fit_representation`` and
    ``fit_conditioning`` (before the model is built), then Lightning's hooks, then ``report``."""

    #: the representation its batches are encoded with
    representation: Representation

    def use_representation(self, representation: Representation) -> None:
        """Encode with ``representation`` (a checkpoint's own) instead of the one the config names."""

    def fit_representation(self) -> Representation:
        """The representation, fitted on the training split's melodies where it learns from them
        (``representation.needs_fit``: call its ``fit``)."""

    def use_conditioning(self, conditioning: Conditioning) -> None:
        """Read the conditions with ``conditioning`` (a checkpoint's labels)."""

    def fit_conditioning(self) -> Conditioning:
        """What the model is conditioned on: the labels of the training split's melodies (an empty
        :class:`~melodygen.music.conditions.Conditioning` when ``model.conditions`` is empty)."""

    def report(self) -> dict:
        """What was read, kept and left out, and the split of each melody: written as the run's
        ``data_report.json``."""

    def split_of(self, which: int) -> list[str]:
        """The names of one split's melodies (``TRAIN``, ``VAL`` or ``TEST`` of
        :mod:`melodygen.data.datamodule`)."""


#: the methods of :class:`MelodyData`, which a data source's class must have
MELODY_DATA = (
    "use_representation", "fit_representation", "use_conditioning", "fit_conditioning", "report", "split_of",
)  # fmt: skip
