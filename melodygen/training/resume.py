"""Resuming or scoring a checkpoint: the run takes the checkpoint's model shape, and says so when it can't.

A checkpoint records its model's hyperparameters and how its data was prepared. Resuming with
``ckpt_path=…`` takes those values from the checkpoint, so a user need not repeat the first run's
overrides; an explicit override that contradicts the checkpoint is one clear error, never a size-mismatch
traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

from omegaconf import DictConfig, OmegaConf, open_dict

from melodygen.config import ARCHITECTURES, TRAINING_KEYS, as_typed, network_keys
from melodygen.errors import MelodygenError

#: How the data was prepared, by config key → the checkpoint's hyperparameter holding it.
DATA_KEYS = {
    "data.representation": "representation",
    "data.transpose_to_c": "transpose_to_c",
    "data.key": "key",
    "data.bar_position": "bar_position",
    "data.bars_left": "bars_left",
}
#: A checkpoint of melodygen 0.1 had no ``architecture``: it is an LSTM.
FIRST_ARCHITECTURE = "lstm"
#: What a checkpoint without the value had: an unconditioned model keeps no ``conditions``, and a model
#: written before bar positions read none.
ABSENT_MEANS = {"conditions": [], "bar_position": False, "bars_left": False, "condition_dropout": 0.0}
#: Taken from the checkpoint unless overridden: nothing stored depends on them.
DEFAULTS_FROM_CHECKPOINT = {"model.dropout": "dropout"}


def shape_keys(architecture: str) -> dict[str, str]:
    """The model's shape: weights from a checkpoint fit only a model of this shape."""
    keys = {
        **DATA_KEYS,
        "model.architecture": "architecture",
        "model.conditions": "conditions",
        "model.condition_dropout": "condition_dropout",  # gives each condition a class more
    }
    keys.update(
        {f"model.{k}": k for k in network_keys(architecture) if f"model.{k}" not in DEFAULTS_FROM_CHECKPOINT}
    )
    return keys


def fixed_keys(architecture: str) -> dict[str, str]:
    """What a resumed run cannot change: the shape, and the optimizer and scheduler whose state it resumes."""
    return {**shape_keys(architecture), **{f"model.{k}": k for k in TRAINING_KEYS}}


def overridden_keys(overrides: Iterable[str]) -> set[str]:
    """The config keys a list of command-line overrides sets (``model.hidden_size=32`` → model.hidden_size)."""
    keys = set()
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~")
        if "=" in text and not key.startswith("hydra"):
            keys.add(key)
    return keys


def _as_text(value) -> str:
    return as_typed(value, quote_strings=False)


def adopt_checkpoint(cfg: DictConfig, hparams: dict, overridden: set[str]) -> list[str]:
    """Set ``cfg``'s model shape from a checkpoint's ``hparams``; returns the ``key=value`` changes made.

    Raises :class:`MelodygenError` when a key in ``overridden`` contradicts the checkpoint.
    """
    remedy = "drop the override to resume, or leave out ckpt_path to start a new run"
    architecture = _adopt_architecture(cfg, hparams, overridden, "ckpt_path", remedy)
    changes = _adopt(
        cfg, hparams, overridden, fixed_keys(architecture), DEFAULTS_FROM_CHECKPOINT, "ckpt_path", remedy
    )
    return changes + _adopt_settings(cfg, hparams, overridden, "ckpt_path", remedy)


def adopt_shape(cfg: DictConfig, hparams: dict, overridden: set[str]) -> list[str]:
    """For ``init_from``: set ``cfg``'s model shape from the checkpoint's ``hparams`` (the optimizer, the
    learning rate and dropout stay the config's); returns the changes made."""
    remedy = "drop the override, or leave out init_from to train from scratch"
    architecture = _adopt_architecture(cfg, hparams, overridden, "init_from", remedy)
    changes = _adopt(cfg, hparams, overridden, shape_keys(architecture), {}, "init_from", remedy)
    return changes + _adopt_settings(cfg, hparams, overridden, "init_from", remedy)


def _adopt_settings(
    cfg: DictConfig, hparams: dict, overridden: set[str], source: str, remedy: str
) -> list[str]:
    """``data.representations.<name>``: the settings the checkpoint's representation was built with."""
    settings = hparams.get("representation_settings") or {}
    name = hparams.get("representation")
    if not settings or name not in (cfg.data.get("representations") or {}):
        return []
    changes, node = [], cfg.data.representations[name]
    for leaf, stored in settings.items():
        key = f"data.representations.{name}.{leaf}"
        if leaf not in node or _as_text(node[leaf]) == _as_text(stored):
            continue
        if key in overridden:
            raise MelodygenError(
                f"{key}={_as_text(node[leaf])} contradicts the checkpoint in {source}, which has "
                f"{leaf}={_as_text(stored)}: {remedy}"
            )
        node[leaf] = stored
        changes.append(f"{key}={_as_text(stored)}")
    return changes


def _adopt_architecture(
    cfg: DictConfig, hparams: dict, overridden: set[str], source: str, remedy: str
) -> str:
    """Make ``cfg.model`` the checkpoint's architecture unless the command line chose another (an error).

    The new architecture's schema takes the values the old ``model`` node held away from its own schema's
    defaults (set by an experiment or an override), where it has those keys.
    """
    stored = hparams.get("architecture", FIRST_ARCHITECTURE)
    current = _as_text(cfg.model.architecture)
    if current == stored:
        return stored
    if overridden & {"model", "model.architecture"}:
        raise MelodygenError(
            f"model={current} contradicts the checkpoint in {source}, which has architecture={stored}: {remedy}"
        )
    old_defaults = OmegaConf.to_container(OmegaConf.structured(ARCHITECTURES[current]))
    node = OmegaConf.structured(ARCHITECTURES[stored])
    node.architecture = stored  # a plugin's schema may leave it to its registered name
    for key, value in OmegaConf.to_container(cfg.model).items():
        if key in node and key != "architecture" and value != old_defaults.get(key):
            node[key] = value
    cfg.model = node
    return stored


def _adopt(
    cfg: DictConfig,
    hparams: dict,
    overridden: set[str],
    fixed: dict,
    defaults: dict,
    source: str,
    remedy: str,
) -> list[str]:
    changes = []
    for table, is_fixed in ((fixed, True), (defaults, False)):
        for key, name in table.items():
            if name not in hparams and name not in ABSENT_MEANS:  # an older checkpoint without this value
                continue
            group, leaf = key.split(".")
            current, stored = cfg[group][leaf], hparams.get(name, ABSENT_MEANS.get(name))
            if _as_text(current) == _as_text(stored):
                continue
            if key in overridden:
                if is_fixed:
                    raise MelodygenError(
                        f"{key}={_as_text(current)} contradicts the checkpoint in {source}, which has "
                        f"{leaf}={_as_text(stored)}: {remedy}"
                    )
                continue
            with open_dict(cfg):
                cfg[group][leaf] = stored
            changes.append(f"{key}={_as_text(stored)}")
    return changes


def _epochs_done(ckpt: dict) -> int:
    """Whole epochs behind a checkpoint: Lightning's fit-loop count (a mid-epoch checkpoint's epoch is not
    done), or, for a checkpoint without loop state, its epoch taken as finished."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError):
        return int(ckpt.get("epoch", -1)) + 1


def check_epochs_left(ckpt: dict, max_epochs: int, max_steps: int) -> None:
    """Refuse to resume a checkpoint that has already reached ``max_epochs`` or ``max_steps``."""
    epochs_done = _epochs_done(ckpt)
    steps_done = int(ckpt.get("global_step", 0))
    if max_steps > 0 and steps_done >= max_steps:
        raise MelodygenError(
            f"the checkpoint in ckpt_path has trained {steps_done} steps, trainer.max_steps={max_steps}: "
            f"raise trainer.max_steps to train on"
        )
    if max_steps <= 0 and max_epochs >= 0 and epochs_done >= max_epochs:
        raise MelodygenError(
            f"the checkpoint in ckpt_path has trained {epochs_done} epochs, trainer.max_epochs={max_epochs}: "
            f"raise trainer.max_epochs to train on (or train=false to score it)"
        )
