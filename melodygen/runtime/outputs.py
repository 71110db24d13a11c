"""Where runs leave their checkpoints: ``ckpt_path=last`` finds the newest."""

from __future__ import annotations

import os

from omegaconf import DictConfig

from melodygen.errors import MelodygenError


def latest_checkpoint(log_dir: str, task_name: str = "*", exclude: str | None = None) -> str | None:
    """The newest ``last.ckpt`` of a task's runs and sweep jobs under ``log_dir`` (``*``: any task),
    leaving out those under ``exclude``."""
    import glob

    root = os.path.join(os.path.expanduser(log_dir), task_name)
    found = glob.glob(os.path.join(root, "runs", "*", "checkpoints", "last.ckpt"))
    found += glob.glob(os.path.join(root, "multiruns", "*", "*", "checkpoints", "last.ckpt"))
    if exclude:
        inside = os.path.abspath(exclude) + os.sep
        found = [path for path in found if not os.path.abspath(path).startswith(inside)]
    return max(found, key=os.path.getmtime) if found else None


def resolve_last_checkpoint(cfg: DictConfig, task_name: str = "*", exclude: str | None = None) -> None:
    """``ckpt_path=last`` → the newest ``last.ckpt`` under ``paths.log_dir`` (of ``task_name``'s runs,
    not under ``exclude``)."""
    if cfg.ckpt_path != "last":
        return
    path = latest_checkpoint(cfg.paths.log_dir, task_name, exclude)
    if path is None:
        where = os.path.join(cfg.paths.log_dir, task_name)
        raise MelodygenError(f"ckpt_path=last: no run under {where!r} has a last.ckpt yet; give a path")
    cfg.ckpt_path = path
