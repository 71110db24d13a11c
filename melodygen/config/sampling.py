"""``samples.*``: how melodies are sampled, and its checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from melodygen.config.values import as_typed, require, to_plain
from melodygen.errors import MelodygenError
from melodygen.registry import SAMPLERS

# Hydra's structured configs need typing.Optional rather than "X | None" in field annotations.
# ruff: noqa: UP045


@dataclass
class SamplingConfig:
    """How melodies are sampled, by ``melodygen-generate`` and at the end of ``melodygen-train``."""

    num_samples: int = 4
    """Melodies to sample (per primer)."""
    length: int = 64
    """Notes and rests generated after the primer (`event`: onsets)."""
    bars: Optional[int] = None
    """Whole bars each melody lasts, its primer included (null = `samples.length` elements): sampled until
    the bars are full, the last note held to the final bar line; bars of the meter asked or drawn, 4/4 for a
    model not conditioned on meter.
    """
    temperature: float = 1.0
    """Divides the logits before drawing; 0 = always the most likely class."""
    top_k: int = 0
    """Draw from the k likeliest classes only; 0 = off."""
    top_p: float = 1.0
    """Nucleus sampling: draw from the smallest set of classes holding this much probability; 1.0 = off."""
    strategy: str = "sample"
    """A registered sampler: `sample` (draw each element: temperature, top_k, top_p), `beam` (the likeliest
    continuations, `samples.beam_size` kept at every step), or a plugin's; chosen with `samples=NAME`.
    """
    beam_size: int = 4
    """Continuations kept at every step (`samples=beam`); `samples.num_samples` of them are returned."""
    meter: Optional[str] = None
    """What a model conditioned on meter is asked for: a time signature it was trained on, e.g. 6/8 (null =
    drawn from its training melodies, per sample).
    """
    key: Optional[str] = None
    """What a model conditioned on key is asked for: a tonic, C, D, F#, Bb … (null = drawn, per sample)."""
    mode: Optional[str] = None
    """With `samples.key`: major or minor."""
    style: Optional[str] = None
    """What a model conditioned on style is asked for: a style label it was trained on, e.g. oneills (null =
    drawn, per sample).
    """
    guidance: float = 1.0
    """Classifier-free guidance, for a model trained with `model.condition_dropout`: each draw's logits are
    those without the conditions plus this many times the difference the conditions make (1 = as told, 0 = as
    if told nothing, above 1 = the conditions weigh more); `samples.strategy=sample` only.
    """


def check_sampling(
    num_samples: int,
    length: int,
    temperature: float,
    top_k: int,
    top_p: float,
    prefix: str = "samples.",
    strategy: str = "sample",
    beam_size: int = 1,
    guidance: float = 1.0,
) -> None:
    """Raise :class:`MelodygenError` naming the first impossible sampling value."""
    strategy = SAMPLERS.check(as_typed(strategy, quote_strings=False))
    require(num_samples >= 1, f"{prefix}num_samples", num_samples, "must be at least 1")
    if strategy == "beam":
        require(beam_size >= 1, f"{prefix}beam_size", beam_size, "must be at least 1")
        require(
            num_samples <= beam_size,
            f"{prefix}num_samples",
            num_samples,
            f"beam search returns at most beam_size={beam_size} continuations",
        )
    require(length >= 1, f"{prefix}length", length, "must be at least 1")
    require(temperature >= 0, f"{prefix}temperature", temperature, "must not be negative (0 means argmax)")
    require(top_k >= 0, f"{prefix}top_k", top_k, "must not be negative (0 keeps every class)")
    require(0 < top_p <= 1, f"{prefix}top_p", top_p, "must be in (0, 1]")
    require(guidance >= 0, f"{prefix}guidance", guidance, "must not be negative (1 means as told)")
    require(
        guidance == 1 or strategy == "sample",
        f"{prefix}guidance",
        guidance,
        "works with samples.strategy=sample only",
    )


def check_samples(s: DictConfig, none_allowed: bool = False) -> None:
    """``samples.*``: the shared sampling values (``num_samples=0`` only where ``none_allowed``: no samples),
    then the chosen sampler's own settings by its schema's ``check`` (a plugin's)."""
    check_sampling(
        max(1, s.num_samples) if none_allowed else s.num_samples,
        s.length,
        s.temperature,
        s.top_k,
        s.top_p,
        strategy=s.strategy,
        beam_size=s.beam_size,
        guidance=s.get("guidance", 1.0),
    )
    bars = s.get("bars")
    require(
        bars is None or (isinstance(bars, int) and bars >= 1),
        "samples.bars",
        bars,
        "must be at least 1, or null",
    )
    sampler = SAMPLERS.entry(s.strategy)
    node_type = OmegaConf.get_type(s)
    if sampler.config is not None and node_type is not dict and not issubclass(node_type, sampler.config):
        raise MelodygenError(
            f"samples.strategy={sampler.name} is not allowed: its settings come with samples={sampler.name}"
        )
    own_check = getattr(sampler.config, "check", None)
    if own_check is not None:
        own_check(s)
    samples_conditions(s)


def sampler_options(samples: DictConfig) -> dict[str, Any]:
    """The settings a plugin's sampler adds to ``samples`` (the keys beyond :class:`SamplingConfig`'s)."""
    shared = {f.name for f in dataclasses.fields(SamplingConfig)}
    return {k: v for k, v in to_plain(samples).items() if k not in shared}


def samples_conditions(samples: DictConfig) -> dict[str, str]:
    """The conditions ``samples.meter/key/mode/style`` ask for (see :func:`melodygen.music.conditions.asked_conditions`)."""
    from melodygen.config.conditions import asked_conditions

    return asked_conditions(samples.meter, samples.key, samples.mode, samples.style)
