"""Logger glue: Lightning's loggers as melodygen configures them, and W&B run naming.

W&B runs of one sweep share a group (``sweep.name``, else ``<task>-<sweep time>``; a single run gets its
own), each run is named after its own overrides (``hidden_size=256,num_layers=2``), and ``mode=auto``
streams when the user is logged in and otherwise writes offline files that ``wandb sync`` can upload later.
"""

from __future__ import annotations

import json
import netrc
import os
import re
from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import CSVLogger as _LightningCSVLogger
from pytorch_lightning.loggers import TensorBoardLogger as _LightningTensorBoardLogger
from pytorch_lightning.loggers import WandbLogger as _LightningWandbLogger
from pytorch_lightning.utilities import rank_zero_only

#: Overrides that say where things are, not what was tried: left out of run names.
_NOT_IN_NAMES = (
    "paths.",
    "data.midi_dir",
    "data.cache_dir",
    "logger",
    "hydra",
    "ckpt_path",
    "trainer.enable_",
)


def wandb_mode(mode: str) -> str:
    """``auto`` → ``online`` when logged in (``WANDB_API_KEY`` or ``wandb login``'s netrc entry), else ``offline``."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


def run_name(overrides: Iterable[str], swept: set[str] | None = None) -> str | None:
    """``hidden_size=256,num_layers=2`` from a job's own overrides (keys shortened to their last part).

    In a sweep, ``swept`` holds the keys the sweep varies, and only those name the run.
    """
    parts = []
    for text in overrides:
        key, sep, value = text.lstrip("+~").partition("=")
        if sep and not key.startswith(_NOT_IN_NAMES) and (swept is None or key in swept):
            parts.append(f"{key.rsplit('.', 1)[-1]}={value}")
    return ",".join(parts) or None


def swept_keys(sweep_dir: str | Path) -> set[str] | None:
    """The keys a sweep varies, from the overrides Hydra saved in ``<sweep dir>/multirun.yaml``."""
    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return None
    hydra = (yaml.safe_load(path.read_text()) or {}).get("hydra", {})
    sweeper = hydra.get("sweeper") or {}
    params = sweeper.get("params") or {}  # a sweep by name (sweep=grid, sweep=optuna)
    given = [*(f"{k}={v}" for k, v in params.items()), *hydra.get("overrides", {}).get("task", [])]
    # an Optuna study's conditional ranges (one architecture's own keys) are swept too
    conditional = [
        key
        for by_value in (sweeper.get("conditional") or {}).values()
        for branch in (by_value or {}).values()
        for key in (branch or {})
    ]
    swept: set[str] = set(conditional)
    for override in OverridesParser.create().parse_overrides(given):  # the command line comes last
        key = override.key_or_group.lstrip("+~")
        swept.add(key) if override.is_sweep_override() else swept.discard(key)
    return swept


def run_group(task_name: str, folder: str, name: str | None = None) -> str:
    """One group per sweep, named after its folder (or per single run, after the run's): ``sweep.name``
    when given, with the folder's ``-2`` when another sweep of that name started in the same second."""
    folder = Path(folder).name
    if name:
        again = re.fullmatch(rf".*_{re.escape(name)}(-\d+)", folder)
        return name + (again.group(1) if again else "")
    return f"{task_name}-{folder}"


class WandbLogger(_LightningWandbLogger):
    """Lightning's W&B logger with ``mode=auto``, and without its ``anonymous=None`` argument, which W&B
    ≥ 0.19 warns about on every run although it has no effect.

    ``log_model=auto`` logs the best and the last checkpoint as a ``model`` artifact (aliases ``best`` and
    ``latest``) at the end of training when the run streams online; offline runs would keep a second copy
    of every checkpoint on disk until ``wandb sync``, so they do so only with ``log_model=true``.
    """

    def __init__(self, mode: str = "auto", log_model: bool | str = "auto", **kwargs):
        mode = wandb_mode(mode)
        if log_model == "auto":
            log_model = mode == "online"
        super().__init__(mode=mode, log_model=log_model, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSV logger, except that a run resumed in its own directory keeps the rows it logged
    before it stopped (Lightning's deletes ``metrics.csv`` when it finds one)."""

    @property
    def experiment(self):
        if self._experiment is not None:
            return self._experiment
        if rank_zero_only.rank != 0:  # the other DDP ranks write nothing (Lightning's stand-in experiment)
            return super().experiment
        path = Path(self.log_dir) / "metrics.csv"
        kept = path.read_text() if path.is_file() else None
        experiment = super().experiment
        if kept is not None and experiment is not None:
            path.write_text(kept)
            header = kept.splitlines()[0].split(",") if kept.strip() else []
            experiment.metrics_keys = sorted(set(experiment.metrics_keys) | {k for k in header if k})
        return experiment


def _stored_run(ckpt_path: str | None) -> dict | None:
    """The ``wandb_run.json`` of the run that wrote ``ckpt_path`` (``<run>/checkpoints/<name>.ckpt``)."""
    if ckpt_path is None:
        return None
    record = Path(ckpt_path).expanduser().resolve().parent.parent / "wandb_run.json"
    return json.loads(record.read_text()) if record.is_file() else None


def name_wandb_run(
    wandb: DictConfig, task_name: str, ckpt_path: str | None, hydra_config, sweep_name: str | None = None
) -> None:
    """Fill in the ``logger.wandb`` config's run id, group and name where the user left them null.

    A resumed run goes on in the W&B run of the checkpoint's run; otherwise a sweep's jobs share one group
    and each is named after the values it swept.
    """
    from hydra.types import RunMode

    resumed = _stored_run(ckpt_path)
    if resumed:
        with open_dict(wandb):
            wandb.id, wandb.resume = resumed["id"], "allow"
        wandb.group, wandb.name = wandb.group or resumed.get("group"), wandb.name or resumed.get("name")
    multirun = hydra_config.mode == RunMode.MULTIRUN
    if wandb.group is None:
        # a single run's sweep.dir is never made (reading it would make the folder)
        folder = hydra_config.sweep.dir if multirun else hydra_config.run.dir
        wandb.group = run_group(task_name, folder, sweep_name)
    if wandb.name is None:
        name = run_name(hydra_config.overrides.task, swept_keys(hydra_config.sweep.dir) if multirun else None)
        wandb.name = name or Path(hydra_config.runtime.output_dir).name


class TensorBoardLogger(_LightningTensorBoardLogger):
    """Lightning's TensorBoard logger, writing one event file per run.

    Lightning finalizes its loggers after ``fit`` and again after each of ``validate`` and ``test`` (the
    scores of the best checkpoint). A closed tensorboardX writer opens a new file named after the current
    second, so the test's file replaced the validation's when both came in the same second, and the best
    checkpoint's ``val/*`` were lost. Between stages this one only flushes; :meth:`close` (at the end of the
    run) closes it.
    """

    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.experiment.flush()
        if status == "success":
            self.save()

    def close(self) -> None:
        """Flush and close the event file, once the run is over."""
        super().finalize("success")


def close_loggers(loggers: Iterable) -> None:
    """Close the loggers that keep a file open across a run's stages (:class:`TensorBoardLogger`)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.close()
