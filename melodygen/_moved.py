"""Module paths of earlier releases, which still import (with a DeprecationWarning) the module that holds
their code now: ``import melodygen.melody`` gives :mod:`melodygen.music.melody`."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old module → where its code lives now
MOVED = {
    "melodygen.melody": "melodygen.music.melody",
    "melodygen.keys": "melodygen.music.keys",
    "melodygen.conditions": "melodygen.music.conditions",
    "melodygen.render": "melodygen.music.render",
    "melodygen.atomic": "melodygen.runtime.atomic",
    "melodygen.threads": "melodygen.runtime.threads",
    "melodygen.gpus": "melodygen.runtime.gpus",
    "melodygen.ddp": "melodygen.runtime.ddp",
    "melodygen.progress": "melodygen.runtime.progress",
    "melodygen.loggers": "melodygen.runtime.loggers",
    "melodygen.parallel": "melodygen.runtime.pool",
    "melodygen.generate": "melodygen.generation.sampling",
    "melodygen.beam": "melodygen.generation.beam",
    "melodygen.metrics": "melodygen.evaluation.metrics",
    "melodygen.measure": "melodygen.evaluation.adherence",
    "melodygen.evaluate": "melodygen.evaluation.scoring",
    "melodygen.prediction": "melodygen.evaluation.prediction",
    "melodygen.compare": "melodygen.analysis.compare",
    "melodygen.report": "melodygen.analysis.report",
    "melodygen.stats": "melodygen.analysis.uncertainty",
    "melodygen.train": "melodygen.training.train",
    "melodygen.callbacks": "melodygen.training.callbacks",
    "melodygen.interrupts": "melodygen.training.interrupts",
    "melodygen.resume": "melodygen.training.resume",
    "melodygen.requeue": "melodygen.training.requeue",
    "melodygen.search": "melodygen.sweeps.optuna_search",
    "melodygen.cli.overrides": "melodygen.config.overrides",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and hands over the module that holds its code now (the same object, so
    its classes are the same classes)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} is now {MOVED[spec.name]}", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(MOVED[spec.name])
        self._spec = module.__spec__  # the import system writes the old name's spec over it; put it back
        return module

    def exec_module(self, module):
        module.__spec__ = self._spec


def install() -> None:
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
