"""Registries of melodygen's open parts: networks, representations, data sources, samplers and statistics.

Each maps a name (what a config and a checkpoint say: ``model=lstm``, ``data.representation=event``) to
what it builds, and, for the parts a config chooses, to the config dataclass of its settings. The
built-ins are registered here like anyone else's (:mod:`melodygen.builtins`, by ``"module:attribute"``
so that nothing heavy is imported to compose a config). A user's package registers its own parts when
it is loaded: through the entry-point group ``melodygen.plugins`` of an installed distribution, or by
``plugins=[module]`` on the command line (a module of the working directory or of ``PYTHONPATH``).

A name is looked up, never imported: a checkpoint that names ``"os:system"`` as its network finds no
such name and loads nothing. This module imports neither torch nor Hydra.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from melodygen.errors import MelodygenError

#: the entry-point group a plugin distribution declares its module in
ENTRY_POINT_GROUP = "melodygen.plugins"
#: who registered the built-ins
BUILT_IN = "melodygen"
#: modules named by plugins=[…], which a command sets in the environment so that every process of a run (DDP
#: ranks, joblib and submitit jobs) loads the same plugins
PLUGINS_ENV = "MELODYGEN_PLUGINS"


@dataclass
class Entry:
    """One registered part: ``target`` is the class or function (or ``"module:attribute"`` naming it, loaded
    when first used), ``config`` the dataclass of its settings, ``provider`` who registered it."""

    kind: str
    name: str
    target: Any
    config: type | None = None
    provider: str = BUILT_IN
    extra: dict = field(default_factory=dict)

    def load(self) -> Any:
        """The class or function itself."""
        if isinstance(self.target, str):
            module, _, attribute = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attribute)
            if self.kind == "representation" and isinstance(self.target, type):
                self.target.name = self.name  # what checkpoints and tables call it
        return self.target

    @property
    def built_in(self) -> bool:
        return self.provider == BUILT_IN


class Registry(Mapping):
    """Names of one kind of part, read-only for everyone but :meth:`register`.

    ``key`` is the setting that names one (``model.architecture``) for error messages; ``group`` the config
    group whose options are its config dataclasses (``model``), where there is one.
    """

    def __init__(self, kind: str, key: str, group: str | None = None):
        self.kind, self.key, self.group = kind, key, group
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target: Any, config: type | None = None, **extra) -> Entry:
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise MelodygenError(
                f"cannot register the {self.kind} {name!r}: a name is letters, digits, _ and -"
            )
        provider = _current_provider()
        old = self._entries.get(name)
        if old is not None and old.provider != provider:
            raise MelodygenError(
                f"{self.key}={name} is registered twice: by {old.provider} and by {provider}; rename one"
            )
        entry = Entry(self.kind, name, target, config, provider, extra)
        self._entries[name] = entry
        return entry

    def entry(self, name: str, hint: str = "") -> Entry:
        """The entry registered as ``name``; one line naming the known ones (and ``hint``) otherwise."""
        load_plugins()
        name = getattr(name, "value", name)
        if name not in self._entries:
            raise MelodygenError(self.unknown(name, hint))
        return self._entries[name]

    def unknown(self, name: Any, hint: str = "") -> str:
        """``model.architecture=lstn is not allowed: choose one of lstm, gru, transformer (did you mean lstm?)``:
        the registered names, built-ins first, as every other choice is refused."""
        known = list(self._entries)
        near = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        guess = f" (did you mean {near[0]}?)" if near else ""
        return f"{self.key}={name} is not allowed: choose one of {', '.join(known)}{guess}{hint}"

    def get_class(self, name: str, hint: str = "") -> Any:
        return self.entry(name, hint).load()

    def check(self, name: Any) -> str:
        """``name`` as a string, when it is registered; one line otherwise."""
        return self.entry(str(getattr(name, "value", name))).name

    # Mapping: name → the loaded class or function
    def __getitem__(self, name: str) -> Any:
        return self.entry(name).load()

    def __iter__(self) -> Iterator[str]:
        load_plugins()
        return iter(list(self._entries))

    def __len__(self) -> int:
        load_plugins()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._entries

    def entries(self) -> list[Entry]:
        load_plugins()
        return list(self._entries.values())


NETWORKS = Registry("network", "model.architecture", group="model")
REPRESENTATIONS = Registry("representation", "data.representation")
DATA_SOURCES = Registry("data source", "data.source", group="data")
SAMPLERS = Registry("sampler", "samples.strategy", group="samples")
#: statistics of one melody (a number), shown for samples, and features the set comparison reads
STATISTICS = Registry("statistic", "statistic")
SET_FEATURES = Registry("set feature", "set feature")

REGISTRIES = (NETWORKS, REPRESENTATIONS, DATA_SOURCES, SAMPLERS, STATISTICS, SET_FEATURES)

# ----------------------------------------------------------------------------------------- loading

_provider_stack: list[str] = []
_loaded: set[str] = set()  # "builtins", "entry points", and each module name
_loading = False


def _current_provider() -> str:
    return _provider_stack[-1] if _provider_stack else "the current program"


@contextmanager
def provided_by(provider: str):
    """Registrations inside are credited to ``provider`` (a distribution or a module)."""
    _provider_stack.append(provider)
    try:
        yield
    finally:
        _provider_stack.pop()


def load_plugins(modules: Sequence[str] = ()) -> None:
    """Register the built-ins, every installed plugin (entry points of ``melodygen.plugins``), the modules
    of ``$MELODYGEN_PLUGINS`` and ``modules``; each once. A plugin that fails to import is one line naming it."""
    global _loading
    if _loading:  # a plugin's own import asks a registry something: what is there so far
        return
    _loading = True
    try:
        if "builtins" not in _loaded:
            _loaded.add("builtins")
            with provided_by(BUILT_IN):
                importlib.import_module("melodygen.builtins")
        if "entry points" not in _loaded:
            _loaded.add("entry points")
            _load_entry_points()
        named = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m]
        for module in [*named, *modules]:
            if module not in _loaded:
                _import_plugin_module(module)
    finally:
        _loading = False


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(point, "dist", None)
        provider = f"package {dist.name}" if dist is not None else f"module {point.value.split(':')[0]}"
        with provided_by(provider):
            try:
                loaded = point.load()
            except Exception as exc:
                raise MelodygenError(
                    f"the melodygen plugin {point.name!r} of the {provider} failed to load "
                    f"({type(exc).__name__}: {exc}); reinstall it, or uninstall it"
                ) from None
            if callable(loaded) and not isinstance(loaded, type):  # "module:register"
                loaded()


def _import_plugin_module(module: str) -> None:
    """Import ``module`` (plugins=[module]) with the working directory on the path, as ``python -m`` would."""
    _loaded.add(module)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    with provided_by(f"module {module}"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                _loaded.discard(module)
                raise MelodygenError(
                    f"plugins: no module named {module!r} in the working directory ({os.getcwd()}) or on "
                    f"PYTHONPATH"
                ) from None
            raise MelodygenError(f"plugins: {module!r} failed to import: {exc}") from None


def export_plugins(modules: Sequence[str]) -> None:
    """Name ``modules`` in ``$MELODYGEN_PLUGINS``, so every process this one starts for the run (DDP ranks,
    a launcher's jobs) loads them too."""
    named = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m]
    added = [m for m in modules if m not in named]
    if added:
        os.environ[PLUGINS_ENV] = ",".join([*named, *added])


def plugin_modules(args: Sequence[str]) -> list[str]:
    """The modules a command line's ``plugins=[a,b]`` (or ``plugins=a``) names."""
    modules: list[str] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") == "plugins":
            value = value.strip().strip("[]")
            modules += [m.strip().strip("'\"") for m in value.split(",") if m.strip()]
    return modules


def providers_of(names: Mapping[str, tuple[Registry, str]]) -> dict[str, str]:
    """``{name: provider}`` of the parts that are not built in, for a checkpoint to say where they came from."""
    found = {}
    for registry, name in names.values():
        entry = registry._entries.get(name)
        if entry is not None and not entry.built_in:
            found[name] = entry.provider
    return found


def missing_part(registry: Registry, name: str, plugins: Mapping[str, str] | None, what: str) -> str | None:
    """None when ``name`` is registered; else the line that says what is missing and where it came from."""
    load_plugins()
    if name in registry._entries:
        return None
    provider = str((plugins or {}).get(name, ""))
    kind, _, source = provider.partition(" ")
    if kind == "package":
        where = f"it came from the plugin package {source}: install it (pip install {source})"
    elif kind == "module":
        where = f"it came from the plugin module {source}: load it with plugins=[{source}]"
    else:
        where = f"no plugin here registers it (registered: {', '.join(sorted(registry._entries))})"
    return f"{what}: its {registry.kind} {name!r} is not registered here; {where}"
