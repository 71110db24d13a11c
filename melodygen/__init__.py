"""melodygen: train, sweep and compare melody-generation models."""

import contextlib as _contextlib
import io as _io

__version__ = "0.1.0"

# pretty_midi imports pyfluidsynth, which prints where it found its library on stdout whenever CI is
# set. Our commands' stdout is theirs (melodygen-generate prints the paths it wrote), so the package is
# imported here first, once, with that line dropped; a missing package or library is render.py's business.
with _contextlib.redirect_stdout(_io.StringIO()), _contextlib.suppress(ImportError, OSError):
    import fluidsynth  # noqa: F401
globals().pop("fluidsynth", None)
