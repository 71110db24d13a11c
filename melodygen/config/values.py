"""How a value is written back to the user, and the one-line error every check raises."""

from __future__ import annotations

from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf

from melodygen.errors import MelodygenError


def as_typed(value: Any, quote_strings: bool = True) -> str:
    """A value as a user types it on the command line: ``true``, ``0.5``, ``categorical``, ``'/a/path'``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, str) and quote_strings:
        return repr(value)
    return str(value)


def require(ok: bool, key: str, value: Any, rule: str) -> None:
    """Raise a one-line :class:`MelodygenError` ``key=value is not allowed: rule`` unless ``ok``."""
    if not ok:
        raise MelodygenError(f"{key}={as_typed(value)} is not allowed: {rule}")


def to_plain(cfg: DictConfig) -> dict:
    """A resolved config as plain Python values (choices as their names), fit for JSON and checkpoints."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
