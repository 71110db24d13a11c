"""Registering the schemas with Hydra's ConfigStore: one option per registered part, and the resolvers."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from melodygen.config.runs import SCHEMAS
from melodygen.config.sweep import OptunaSweeperConfig
from melodygen.registry import DATA_SOURCES, NETWORKS, SAMPLERS, load_plugins


def claim_folder(path: str) -> str:
    """``path``, made now; if it exists already, ``path-2``, ``path-3`` … (the first that did not).

    A sweep's folder is named after the second it started in, as Hydra's are; two sweeps started in the
    same second would share it (and their W&B group). ``mkdir`` either makes a folder or fails, so of two
    processes asking at once each gets its own. Resolved once per sweep: the resolver is cached, and
    Hydra copies the cache into each job's config (keyed by the unresolved text, so a job whose own config
    names another task still finds the sweep's folder).
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = base if number == 1 else base.with_name(f"{base.name}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return str(folder)
    raise AssertionError("unreachable")


#: the key of each config group that names the registered part its option is
DISCRIMINATORS = {"model": "architecture", "data": "source", "samples": "strategy"}


def register_configs(plugins: Sequence[str] = ()) -> None:
    """Load the plugins (installed ones, and the modules ``plugins`` names), then register the schemas, a
    config-group option for each registered part (``model=mlp`` for a plugin's network), the ``${cwd:}``
    resolver (Hydra's own is not set yet when a sweep dir is made), ``${suffix:x}`` (``_x``, or nothing for
    null: a sweep's name after its time) and ``${claim:path}`` (:func:`claim_folder`)."""
    load_plugins(plugins)
    if not OmegaConf.has_resolver("cwd"):
        OmegaConf.register_new_resolver("cwd", os.getcwd)
    if not OmegaConf.has_resolver("suffix"):
        OmegaConf.register_new_resolver("suffix", lambda value: f"_{value}" if value else "")
    if not OmegaConf.has_resolver("claim"):  # cached: a sweep's jobs (Hydra copies the cache) see the same
        OmegaConf.register_new_resolver("claim", claim_folder, use_cache=True)
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(name=name, node=node)
    # conf/model/<architecture>.yaml extends its schema (kept out of the model group's own options); a
    # plugin's part is an option of its group as it is
    for registry in (NETWORKS, DATA_SOURCES, SAMPLERS):
        for entry in registry.entries():
            if entry.config is None:
                continue
            node = OmegaConf.structured(entry.config)
            node[DISCRIMINATORS[registry.group]] = entry.name
            store.store(group=f"schema/{registry.group}", name=entry.name, node=node)
            if not entry.built_in:
                store.store(group=registry.group, name=entry.name, node=node, provider=entry.provider)
    store.store(
        group="hydra/sweeper", name="melodygen_optuna", node=OptunaSweeperConfig, provider="melodygen"
    )
