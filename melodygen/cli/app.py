"""What every Hydra entry point shares: where the configs are, and one line for every user mistake.

:func:`hydra_app` turns a task ``(cfg, overrides) -> result`` into a console script that

* expands ``~`` in ``key=~/path`` overrides (the shell leaves it alone after ``=``, Hydra refuses it);
* composes the config once before Hydra runs, so a misspelled key, an unknown option or a wrongly typed
  value is one ``error:`` line naming it, with the nearest valid names, and exit status 2;
* prints a :class:`~melodygen.errors.MelodygenError` raised by the task the same way;
* in a multirun, records any job that fails (``failure.json``) and lets the next one run.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from melodygen.config import register_configs
from melodygen.errors import MelodygenError, exit_stopped
from melodygen.registry import export_plugins, load_plugins, plugin_modules

#: Hydra flags after which the pre-check steps aside and lets Hydra answer (help, other configs …).
_HYDRA_ONLY_FLAGS = (
    "--help", "-h", "--hydra-help", "--info", "-i", "--config-path", "-cp", "--config-name", "-cn",
    "--config-dir", "-cd", "--shell-completion", "-sc",
)  # fmt: skip
#: Hydra flags followed by a value (``--cfg job``), which is not an override.
_FLAGS_WITH_VALUE = ("--cfg", "-c", "--package", "-p", "--experimental-rerun")
_HOME_IN_VALUE = re.compile(r"(^|[,\[])~(?=/|,|\]|$)")


def config_dir() -> str:
    """``melodygen.conf`` inside the installed package, or ``conf/`` at the top of a source checkout."""
    try:
        return str(importlib.resources.files("melodygen.conf"))
    except ModuleNotFoundError:  # run from a checkout's root, where ./melodygen shadows the install
        return str(Path(__file__).resolve().parents[2] / "conf")


def expand_home(args: Sequence[str]) -> list[str]:
    """``key=~/x`` → ``key=/home/me/x``, also in a sweep's list (``key=~/a,~/b``)."""
    home = os.path.expanduser("~")
    expanded = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and not arg.startswith("-"):
            value = _HOME_IN_VALUE.sub(lambda m: m.group(1) + home, value)
        expanded.append(key + sep + value)
    return expanded


def command_line_overrides(args: Sequence[str]) -> list[str] | None:
    """The ``key=value`` overrides among Hydra's arguments; None when a flag asks Hydra for something else."""
    overrides, skip_next = [], False
    for arg in args:
        flag = arg.split("=", 1)[0]
        if skip_next:
            skip_next = False
        elif flag in _HYDRA_ONLY_FLAGS:
            return None
        elif arg in _FLAGS_WITH_VALUE:
            skip_next = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides


def _debug_traceback() -> None:
    """The exception being handled, as a traceback on stderr, when MELODYGEN_DEBUG=1 is set."""
    if os.environ.get("MELODYGEN_DEBUG", "") not in ("", "0"):
        import traceback

        traceback.print_exc()


def _fail(message: str) -> None:
    """One line on stderr and exit status 2; with MELODYGEN_DEBUG=1 set, the traceback first."""
    _debug_traceback()
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def hydra_app(
    config_name: str, task: Callable[[Any, list[str]], Any], check: Callable[[Any], None] | None = None
) -> Callable[[], Any]:
    """The console-script ``main`` for ``task``, composed from ``conf/<config_name>.yaml``.

    ``check`` looks at the composed config before Hydra starts the run, so an impossible value fails
    before any heavy import.
    """
    import hydra
    from omegaconf import OmegaConf

    from melodygen.cli.help import help_text

    register_configs()
    if not OmegaConf.has_resolver("melodygen_help"):  # --help: conf/hydra/default.yaml's help.template
        OmegaConf.register_new_resolver("melodygen_help", lambda command: help_text(command, config_dir()))

    @hydra.main(version_base="1.3", config_path=config_dir(), config_name=config_name)
    def run(cfg):
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from melodygen.cli.failures import clear_failure, record_failure

        quiet_third_party_noise()
        load_plugins(cfg.get("plugins") or ())  # a launcher's job process registers them anew
        hydra_config = HydraConfig.get()
        overrides = list(hydra_config.overrides.task)
        if hydra_config.mode == RunMode.MULTIRUN:  # a job run again into its old directory starts clean
            clear_failure(hydra_config.runtime.output_dir)
        try:
            return task(cfg, overrides)
        except KeyboardInterrupt:
            if hydra_config.mode == RunMode.MULTIRUN:
                raise  # the sweep's to handle (sweep=optuna says how to go on)
            # outside training's own handling (StopOnSignal): while data is read, say, or samples are written
            _debug_traceback()
            exit_stopped(
                "stopped by Ctrl-C; every file written so far is whole: run the command again to go on"
            )
        except MelodygenError as exc:
            if hydra_config.mode != RunMode.MULTIRUN:
                _fail(str(exc))
            # one job of a sweep: say why, leave the reason in its directory, let the next job run
            record_failure(hydra_config.runtime.output_dir, hydra_config.job.num, overrides, str(exc))
            logging.getLogger("melodygen").error("job %s failed: %s", hydra_config.job.num, exc)
            return None
        except Exception as exc:
            if hydra_config.mode != RunMode.MULTIRUN:
                raise  # a single run: the traceback is the report
            # a crash in one job of a sweep (a bug, CUDA out of memory …): its traceback goes to the job's
            # log, its reason to failure.json, and the next job runs
            reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            record_failure(hydra_config.runtime.output_dir, hydra_config.job.num, overrides, reason)
            logging.getLogger("melodygen").exception("job %s failed: %s", hydra_config.job.num, reason)
            return None

    @functools.wraps(task)
    def main():
        sys.argv[1:] = expand_home(sys.argv[1:])
        try:  # plugins=[module]: its parts are options of the config groups before anything is composed
            modules = plugin_modules(sys.argv[1:])
            register_configs(modules)
            export_plugins(modules)
        except MelodygenError as exc:
            _fail(str(exc))
        overrides = command_line_overrides(sys.argv[1:])
        if overrides is not None:
            from melodygen.config.overrides import check_overrides

            try:
                prints_config = any(a.split("=")[0] in ("--cfg", "-c") for a in sys.argv[1:])
                check_overrides(config_dir(), config_name, overrides, None if prints_config else check)
            except MelodygenError as exc:
                _fail(str(exc))
        register_sweeper()
        return run()

    return main


def register_sweeper() -> None:
    """Make ``hydra/sweeper=melodygen_optuna`` known to Hydra's plugin registry.

    Hydra finds plugins by listing the ``hydra_plugins`` folders on ``sys.path``, which misses the
    sweeper of an editable install (it is reached through an import hook, not a folder).
    """
    from hydra.core.plugins import Plugins

    from hydra_plugins.melodygen_optuna_sweeper.optuna_sweeper import OptunaSweeper

    Plugins.instance().register(OptunaSweeper)


def quiet_third_party_noise() -> None:
    """Silence warnings that tell a user nothing they can act on."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*_pytree.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r".*_pytree.*", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    # a run resumed in its own directory (after a stop or a kill) finds its files there, as it should, and
    # its training order is resumable (EpochOrder and DataOrder), which Lightning cannot see
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")
    warnings.filterwarnings(
        "ignore", message=r".*ended before the epoch ended and your dataloader is not resumable"
    )
    # scoring the best checkpoint after DDP training: each rank scores its share of the windows, the last
    # share padded with up to (ranks - 1) repeated windows (docs/multi-gpu.md says so); nothing to act on
    warnings.filterwarnings("ignore", message=r"Using `DistributedSampler` with the dataloaders. During")
    # torch's own loggers (FakeTensor cache statistics printed at exit, compile internals) are for torch's
    # developers; Hydra's INFO root would let them through
    logging.getLogger("torch").setLevel(logging.WARNING)
    # Lightning's "💡 Tip: …" adverts for its cloud products
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: "Tip:" not in record.getMessage() and "litlogger" not in record.getMessage()
    )
