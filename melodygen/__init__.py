"""melodygen: train, sweep and compare melody-generation models.

The package by stage, each importing only those before it: :mod:`~melodygen.music` (``Melody``, keys,
conditions, rendering) → :mod:`~melodygen.representations` → :mod:`~melodygen.data` and
:mod:`~melodygen.models` → :mod:`~melodygen.generation` and :mod:`~melodygen.evaluation` →
:mod:`~melodygen.sweeps`, :mod:`~melodygen.training` → :mod:`~melodygen.analysis` → :mod:`~melodygen.cli`;
:mod:`~melodygen.config` (the torch-free schema) and :mod:`~melodygen.runtime` serve them all, and
:mod:`~melodygen.plugins` is how a package of yours adds its own parts.
"""

import contextlib as _contextlib
import io as _io

from melodygen import _moved

__version__ = "0.2.0"

# pretty_midi imports pyfluidsynth, which prints where it found its library on stdout whenever CI is
# set. Our commands' stdout is theirs (melodygen-generate prints the paths it wrote), so the package is
# imported here first, once, with that line dropped; a missing package or library is render.py's business.
with _contextlib.redirect_stdout(_io.StringIO()), _contextlib.suppress(ImportError, OSError):
    import fluidsynth  # noqa: F401
globals().pop("fluidsynth", None)

_moved.install()

#: the names most scripts need, imported when first asked for (torch only then)
_PUBLIC = {
    "Melody": "melodygen.music.melody",
    "MelodyDataModule": "melodygen.data.datamodule",
    "MelodyModel": "melodygen.models.module",
    "load_model": "melodygen.models.checkpoint",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'melodygen' has no attribute {name!r}")


__all__ = ["Melody", "MelodyDataModule", "MelodyModel", "load_model", "__version__"]
