"""Checking command-line overrides before Hydra runs: one line naming the mistake and what is allowed.

The config is composed once with the user's overrides (each sweep replaced by its first value). What
Hydra would report as a page (a misspelled key, an option that does not exist, a value of the wrong
type) becomes one :class:`~melodygen.errors.MelodygenError` with the nearest valid names.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator, Sequence

from omegaconf import DictConfig
from omegaconf.errors import InterpolationResolutionError

from melodygen.errors import MelodygenError

#: Groups whose keys are not all known in advance: ``+group.NAME=…`` may add to them.
_OPEN_GROUPS = ("trainer", "logger", "callbacks", "hydra")
#: At most this many compositions check a sweep's values.
_MAX_VARIANTS = 64


def check_overrides(
    config_dir: str,
    config_name: str,
    overrides: Sequence[str],
    check: Callable[[DictConfig], None] | None = None,
) -> None:
    """Compose ``config_name`` with ``overrides``; raise :class:`MelodygenError` for the first mistake.

    A sweep is composed with its first values, then with each other value of each swept key, and
    ``check`` looks at the values of every composition.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    parsed = _parse(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            for number, variant in enumerate(_variants(parsed)):
                try:
                    cfg = compose(config_name, overrides=variant)
                except Exception as exc:  # Hydra's composition errors and OmegaConf's validation errors
                    raise MelodygenError(_explain(exc, config_name, overrides)) from None
                if number == 0:
                    _check_added_keys(parsed, config_dir, config_name)
                if check is not None:
                    _check_values(check, cfg)
    finally:
        GlobalHydra.instance().clear()


def _check_added_keys(parsed: list, config_dir: str, config_name: str) -> None:
    """``+key=…`` may add a key only where the schema is open (a typo must not be silently ignored)."""
    lines = [override.input_line for override in parsed]
    for override in parsed:
        key = override.key_or_group
        is_group = os.path.isdir(os.path.join(config_dir, key))  # +experiment=…: a config group option
        if (override.is_add() or override.is_force_add()) and not is_group:
            if key.split(".")[0] not in _OPEN_GROUPS:
                raise MelodygenError(
                    _unknown_key(key.lstrip("+"), _base_config(config_name, lines, key), config_name)
                )


def _check_values(check: Callable[[DictConfig], None], cfg: DictConfig) -> None:
    try:
        check(cfg)
    except InterpolationResolutionError as exc:
        if "HydraConfig was not set" in str(exc):  # ${hydra:…} has a value only inside the run
            return
        where = getattr(exc, "full_key", "") or "config"
        raise MelodygenError(f"{where}: {str(exc).splitlines()[0]}") from None


def _variants(parsed: list) -> list[list[str]]:
    """Override lists to compose: every sweep at its first value, then each other value of each sweep."""
    values = [_sweep_values(o) for o in parsed]
    first = [v[0] for v in values if v]
    variants = [first]
    position = 0
    for v in values:
        if not v:
            continue
        for other in v[1:]:
            if len(variants) < _MAX_VARIANTS:
                variants.append(first[:position] + [other] + first[position + 1 :])
        position += 1
    return variants


def _parse(overrides: Sequence[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as exc:
            reason = str(exc).splitlines()[0]
            raise MelodygenError(
                f"cannot read the override {text!r} ({reason}); quote a value with spaces or special "
                f"characters, e.g. 'key=\"a value\"'"
            ) from None
    return parsed


def _sweep_values(override) -> list[str]:
    """``key=value`` for each value an override takes (one unless it sweeps); [] when they cannot be listed.

    A glob over options is left to Hydra.
    """
    if not override.is_sweep_override():
        return [override.input_line]
    if override.is_interval_sweep():  # for an optimizing sweeper: its start checks the key and type
        start = override.value().start
        return [f"{override.get_key_element()}={int(start) if float(start).is_integer() else start}"]
    try:
        return [f"{override.get_key_element()}={value}" for value in override.sweep_string_iterator()]
    except Exception:  # glob(…) lists options only once Hydra has loaded the config
        return []


def _all_keys(cfg: DictConfig, prefix: str = "") -> Iterator[str]:
    for key in cfg.keys():
        full = f"{prefix}{key}"
        yield full
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_missing() and not node._is_none():
            yield from _all_keys(node, full + ".")


def _other_architecture(key: str, cfg: DictConfig) -> str | None:
    """``model.num_heads is a setting of model=transformer, not of model=lstm`` for a key that exists, but
    in another architecture's schema than the one chosen."""
    from melodygen.config import ARCHITECTURES, as_typed, network_keys

    group, _, leaf = key.partition(".")
    if group != "model" or "model" not in cfg or "architecture" not in cfg.model:
        return None
    chosen = as_typed(cfg.model.architecture, quote_strings=False)
    owners = [name for name in ARCHITECTURES if name != chosen and leaf in network_keys(name)]
    if not owners:
        return None
    return (
        f"{key} is a setting of {' and '.join(f'model={o}' for o in owners)}, not of model={chosen}: choose "
        f"model={owners[0]} to set it"
    )


def _unknown_key(key: str, cfg: DictConfig, config_name: str) -> str:
    elsewhere = _other_architecture(key, cfg)
    if elsewhere:
        return elsewhere
    keys = list(_all_keys(cfg))
    near = difflib.get_close_matches(key, keys, n=3, cutoff=0.8)
    if not near:  # the right name in the wrong place, e.g. num_samples for samples.num_samples
        leaf = key.rsplit(".", 1)[-1]
        by_leaf: dict[str, list[str]] = {}
        for full in keys:
            by_leaf.setdefault(full.rsplit(".", 1)[-1], []).append(full)
        near = [
            full
            for name in difflib.get_close_matches(leaf, by_leaf, n=2, cutoff=0.8)
            for full in by_leaf[name]
        ]
    if not near and "." in key:  # a looser match among the names of the same group
        group, leaf = key.rsplit(".", 1)
        siblings = {full.rsplit(".", 1)[-1]: full for full in keys if full.rsplit(".", 1)[0] == group}
        names = [name for name in siblings if name.startswith(leaf)] or difflib.get_close_matches(
            leaf, siblings, n=2, cutoff=0.6
        )
        near = [siblings[name] for name in names[:2]]
    if near:
        hint = f"did you mean {' or '.join(near)}?"
    elif key.startswith("hydra.sweeper.") and "n_trials" not in {k.rsplit(".", 1)[-1] for k in keys}:
        hint = "the Optuna sweeper's settings (n_trials, metric, pruner …) come with sweep=optuna"
    else:
        hint = f"`melodygen-{config_name} --cfg job` lists every setting"
    return f"{key} is not a setting: {hint}"


def explain_composition(exc: BaseException, overrides: Sequence[str], config_name: str = "train") -> str:
    """One line for a failure to compose ``overrides`` (inside a running Hydra app, e.g. a sweeper's)."""
    return _explain(exc, config_name, overrides)


def _explain(exc: BaseException, config_name: str, overrides: Sequence[str]) -> str:
    """One line for what Hydra or OmegaConf reported."""
    from hydra.errors import MissingConfigException

    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    text = str(exc)
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.rpartition("/")
        if exc.options:
            return f"{group}={option} is not an option: choose one of {', '.join(sorted(exc.options))}"
        return f"{group}={option}: there is no config group {group!r}"
    for err in chain:
        full_key = getattr(err, "full_key", None)
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if type(err).__name__ == "ConfigKeyError" or "not in" in message and full_key:
            key = full_key or _overridden_key(text)
            return _unknown_key(key, _base_config(config_name, overrides, key), config_name)
        if type(err).__name__ == "ValidationError" and full_key:
            full_key = re.sub(r"\[\d+\]$", "", full_key)  # an item of a list: name the list
            value = _value_of(full_key, overrides)
            allowed = re.search(r"expected one of \[(.*)\]", message)
            if allowed:
                return f"{full_key}={value} is not allowed: choose one of {allowed.group(1)}"
            return f"{full_key}={value} is not allowed: {message}"
    key = _overridden_key(text)
    if key and "Could not override" in text:
        return _unknown_key(key, _base_config(config_name, overrides, key), config_name)
    return " ".join(text.split("\n\n")[0].split())


def _overridden_key(text: str) -> str | None:
    match = re.search(r"Could not (?:override|append to config|delete from config)\W+'?([\w.+~/@-]+)", text)
    return match.group(1).lstrip("+~") if match else None


def _value_of(key: str, overrides: Sequence[str]) -> str:
    for text in overrides:
        name, _, value = text.partition("=")
        if name.lstrip("+~") == key:
            return value
    return "?"


def _base_config(config_name: str, overrides: Sequence[str], key: str) -> DictConfig:
    """The config with the command line's choices of config groups (``sweep=optuna``), and Hydra's own
    settings for a ``hydra.`` key, to list the keys that do exist."""
    from hydra import compose

    groups = [o for o in overrides if re.fullmatch(r"[\w/@]+=[\w/.-]+", o)]
    hydra = key.startswith("hydra.")
    try:
        return compose(config_name, overrides=groups, return_hydra_config=hydra)
    except Exception:  # a choice that does not compose is reported on its own
        return compose(config_name, return_hydra_config=hydra)
