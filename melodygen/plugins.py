"""Your own network, representation, data source, sampler and statistics, registered by name.

A plugin is a module that registers its parts when it is imported::

    from dataclasses import dataclass
    from melodygen.plugins import ModelConfig, register_network

    @dataclass
    class MLPConfig(ModelConfig):  # model=mlp, and model.hidden_size=… checked like a built-in's keys
        hidden_size: int = 256

    register_network("mlp", MLPConfig, "my_package.network:MLPNetwork")

melodygen loads it before it composes a config: an installed distribution declares the module in the
entry-point group ``melodygen.plugins``; a module of the working directory (or of ``PYTHONPATH``) is named
on the command line with ``plugins=[my_module]``. Its parts are then options of the config groups
(``model=mlp``, ``data=NAME``, ``samples=NAME``) and names (``data.representation=NAME``) like the
built-ins, which are registered the same way (:mod:`melodygen.builtins`).

A checkpoint records the registered names and plain settings, never an import path, and where a part came
from: loading one whose network is not registered is one line naming the plugin to install.

What each part is:

* a network: a :class:`melodygen.models.MelodyNetwork` subclass built as ``Network(representation,
  **settings, condition_sizes=…)``, with ``settings`` the fields its config adds to :class:`ModelConfig`;
* a representation: a :class:`melodygen.representations.Representation` subclass built with the fields of
  its settings dataclass (``data.representations.NAME.KEY``); one that learns from the training melodies
  overrides ``needs_fit`` and ``fit``;
* a data source: a LightningDataModule that provides what :class:`melodygen.data.protocol.MelodyData`
  lists, usually a :class:`melodygen.data.MelodyDataModule` subclass that overrides ``parse``; its config
  subclasses :class:`DataConfig`;
* a sampler: a function of a :class:`melodygen.generation.sampling.SamplingRequest` that returns
  ``(num_samples, N, F)`` elements; its config (if it has settings) subclasses :class:`SamplingConfig`;
* a statistic: a function of one :class:`melodygen.music.melody.Melody` that returns a number.

A config dataclass may define ``check(cfg)``, a static method that rejects impossible values with
:func:`require` (one line naming the key).

Each target is the class or function itself, or ``"module:attribute"`` naming it: then composing a config
does not import it (nor torch), as for the built-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from melodygen.config import DataConfig, ModelConfig, SamplingConfig, require
from melodygen.errors import MelodygenError
from melodygen.registry import (
    DATA_SOURCES,
    NETWORKS,
    REPRESENTATIONS,
    SAMPLERS,
    SET_FEATURES,
    STATISTICS,
    load_plugins,
)

__all__ = [
    "DataConfig",
    "ModelConfig",
    "SamplingConfig",
    "load_plugins",
    "register_data",
    "register_network",
    "register_representation",
    "register_sampler",
    "register_statistic",
    "require",
]


def _subclass(config: Any, base: type, what: str) -> None:
    if not (isinstance(config, type) and issubclass(config, base)):
        raise MelodygenError(f"{what}: its config must be a dataclass subclass of {base.__name__}")


def _decorator_or(target: Any, add: Callable[[Any], Any]):
    """``add(target)`` now, or a decorator that does it when ``target`` is None."""
    return add if target is None else add(target)


def register_network(name: str, config: type[ModelConfig], network: Any = None):
    """``model=name``: ``network`` (a ``MelodyNetwork`` subclass, or ``"module:Class"``) with the settings
    of ``config``, a :class:`ModelConfig` subclass. Without ``network``, a class decorator."""
    _subclass(config, ModelConfig, f"register_network({name!r})")

    def add(target):
        NETWORKS.register(name, target, config)
        return target

    return _decorator_or(network, add)


def register_representation(name: str, representation: Any = None, settings: type | None = None):
    """``data.representation=name``: ``representation`` (a ``Representation`` subclass, or
    ``"module:Class"``), built with the fields of the dataclass ``settings`` (``data.representations.name``).
    Without ``representation``, a class decorator."""

    def add(target):
        if isinstance(target, type):
            target.name = name  # what checkpoints and tables call it
        REPRESENTATIONS.register(name, target, settings)
        return target

    return _decorator_or(representation, add)


def register_data(name: str, config: type[DataConfig], datamodule: Any = None):
    """``data=name``: ``datamodule`` (a LightningDataModule class, or ``"module:Class"``, given every key of
    ``config``, a :class:`DataConfig` subclass). Without ``datamodule``, a class decorator."""
    _subclass(config, DataConfig, f"register_data({name!r})")

    def add(target):
        DATA_SOURCES.register(name, target, config)
        return target

    return _decorator_or(datamodule, add)


def register_sampler(
    name: str, sampler: Any = None, config: type[SamplingConfig] = SamplingConfig, one_search: bool = False
):
    """``samples.strategy=name`` (and ``samples=name``): ``sampler`` (a function of a ``SamplingRequest``, or
    ``"module:function"``) whose own settings are the fields ``config`` adds to :class:`SamplingConfig`.
    ``one_search``: its samples are the best of one search (as beam search's), so they share one set of
    conditions. Without ``sampler``, a function decorator."""
    _subclass(config, SamplingConfig, f"register_sampler({name!r})")

    def add(target):
        SAMPLERS.register(name, target, config, one_search=one_search)
        return target

    return _decorator_or(sampler, add)


def register_statistic(name: str, function: Any = None, set_feature: bool = True):
    """A statistic of one melody (``function(melody) -> float``): shown for every set of samples
    (``sample/name`` each epoch, the samples' statistics files, the listening report) and, with
    ``set_feature``, one of the features that compare generated melodies with real ones. Without
    ``function``, a decorator."""

    def add(target):
        STATISTICS.register(name, target)
        if set_feature:
            SET_FEATURES.register(name, target)
        return target

    return _decorator_or(function, add)
