"""Reading melodygen checkpoints: weights only, checked, and one clear line for anything else.

A checkpoint is a Lightning checkpoint of :class:`~melodygen.models.MelodyModel`. Its
``hyper_parameters`` are plain values (sizes, representation, how the data was prepared), so the model is
rebuilt from the file alone, and the datamodule's settings travel beside them.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import re
import zipfile
from pathlib import Path

import torch

from melodygen.config import check_checkpoint_path
from melodygen.errors import MelodygenError
from melodygen.models.module import MelodyModel
from melodygen.registry import NETWORKS, REPRESENTATIONS, missing_part

#: pathlib classes a checkpoint may hold (Lightning stores a datamodule's hyperparameters as given, so a
#: ``Path`` passed to it is pickled as ``PosixPath``); rebuilding a path runs no code, so they are safe.
_SAFE_GLOBALS = [pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath]
_WHAT_IT_IS = "a melodygen-train checkpoint such as outputs/train/runs/<run>/checkpoints/last.ckpt"


def safe_loading():
    """A context in which ``torch.load(..., weights_only=True)`` (Lightning's too) accepts a melodygen
    checkpoint and nothing that runs code: tensors, plain values and the pathlib classes above."""
    return torch.serialization.safe_globals(_SAFE_GLOBALS)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # torch's weights-only refusal opens with advice; the line that names the culprit comes later.
    culprit = [line for line in lines if line.startswith("WeightsUnpickler error")]
    text = culprit[0] if culprit else " ".join(lines) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class UnsafeCheckpointError(MelodygenError):
    """The file holds more than weights and plain values: unpickling it would run code, so it is refused."""


def read_checkpoint(path: str | os.PathLike, key: str = "ckpt_path") -> dict:
    """The checkpoint's contents, read with ``weights_only=True`` (no arbitrary unpickling).

    Raises :class:`MelodygenError` naming ``key`` and the file when it is missing, unreadable, or not a
    melodygen checkpoint.
    """
    check_checkpoint_path(path, key)
    path = Path(path).expanduser()
    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since torch 1.6
        raise MelodygenError(f"{key}={str(path)!r} is not a melodygen checkpoint; give {_WHAT_IT_IS}")
    try:
        with safe_loading():
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # the weights-only unpickler met a global it does not allow
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = f"it holds {found.group(1)}, which loading it would call" if found else _one_line(exc)
        raise UnsafeCheckpointError(
            f"{key}={str(path)!r} is refused: {what} (a melodygen checkpoint holds only weights and plain "
            f"values, and is never loaded any other way); give {_WHAT_IT_IS}"
        ) from None
    except Exception as exc:  # torch raises many types for a bad file; all mean "cannot use it"
        raise MelodygenError(
            f"{key}={str(path)!r} is not a melodygen checkpoint ({_one_line(exc)}); give {_WHAT_IT_IS}"
        ) from None
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if (
        not isinstance(hparams, dict)
        or "representation" not in hparams
        or not isinstance(ckpt.get("state_dict"), dict)
        or "pytorch-lightning_version" not in ckpt
    ):
        raise MelodygenError(f"{key}={str(path)!r} is not a melodygen checkpoint; give {_WHAT_IT_IS}")
    return ckpt


def check_parts(hparams: dict, what: str = "the checkpoint") -> None:
    """One line when the network or the representation ``hparams`` name is not registered here, naming the
    plugin it came from where the checkpoint knows it. Names are looked up, never imported."""
    plugins = hparams.get("plugins") if isinstance(hparams.get("plugins"), dict) else None
    for registry, name in (
        (NETWORKS, hparams.get("architecture", "lstm")),  # melodygen 0.1 had the LSTM alone
        (REPRESENTATIONS, hparams.get("representation")),
    ):
        if not isinstance(name, str):
            raise MelodygenError(f"{what} names no {registry.kind} ({registry.key}={name!r})")
        missing = missing_part(registry, name, plugins, what)
        if missing:
            raise MelodygenError(missing)


def model_from_checkpoint(
    ckpt: dict, device: str | torch.device | None = None, what: str = "the checkpoint"
) -> MelodyModel:
    """Rebuild the :class:`MelodyModel` a checkpoint holds, on ``device`` (default CPU), in eval mode."""
    check_parts(ckpt["hyper_parameters"], what)
    try:
        model = MelodyModel(**ckpt["hyper_parameters"])
    except (MelodygenError, TypeError, ValueError) as exc:
        raise MelodygenError(f"the checkpoint's hyperparameters build no model: {_one_line(exc)}") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise MelodygenError(
            f"the checkpoint's weights do not fit its own hyperparameters: {_one_line(exc)}"
        ) from None
    device = torch.device(device) if device is not None else torch.device("cpu")
    return model.to(device).eval()


def load_model(ckpt_path: str | os.PathLike, device: str | torch.device | None = None) -> MelodyModel:
    """Read a checkpoint file and rebuild its model (see :func:`read_checkpoint`)."""
    what = f"ckpt_path={str(Path(ckpt_path).expanduser())!r}"
    return model_from_checkpoint(read_checkpoint(ckpt_path), device, what)
