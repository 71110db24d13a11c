"""Optuna search over the training config, with pruning, driven as a Hydra sweeper.

``melodygen-train sweep=optuna`` (``hydra/sweeper=melodygen_optuna``) runs a study: the sweeper asks
Optuna for a trial, turns its parameters into overrides, and launches it through Hydra's launcher like
any other job (one numbered directory per trial, the same W&B group for the whole study). Inside the
job, :class:`melodygen.sweeps.pruning.TrialPruning` reports the validation metric after every epoch to the study's storage and
stops training when the pruner says the trial is hopeless. The study lives in a storage URL (by default
``sqlite:///<sweep dir>/optuna.db``), so a killed study resumes where it stopped; ``best.yaml`` in the
sweep directory always holds the best trial so far and the command that re-runs it.

The search space is written as Hydra sweeps: ``choice(64,128)`` or ``64,128`` is a categorical
parameter, ``range(1,4)`` an integer one, ``interval(0,0.5)`` a float one (an integer one when the key's
default is an integer), and ``tag(log,interval(1e-4,1e-2))`` samples on a log scale.

``hydra.sweeper.conditional`` adds parameters that exist only for one value of a searched choice, drawn
by Optuna's define-by-run API once the choice is drawn: ``conditional.model.transformer`` holds the
Transformer's own ranges (``model.num_heads: choice(2,4)``), searched only in trials that drew
``model=transformer``. Their Optuna names carry the branch, ``model.num_heads[model=transformer]``, so
two architectures' ranges of one key are two parameters of the study.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from melodygen.errors import MelodygenError, exit_stopped
from melodygen.runtime.atomic import write_text_atomic

log = logging.getLogger(__name__)

STUDY_FILE = "optuna.db"
BEST_FILE = "best.yaml"
#: A study stops after this many failed trials in a row (a mistake every trial makes, such as a metric
#: that is never logged), instead of failing all of its trials.
FAILURES_IN_A_ROW = 3


# ------------------------------------------------------------------------------------- the search space


def search_space(overrides: Sequence, config: DictConfig) -> tuple[dict, list[str]]:
    """``(distributions, fixed)`` from parsed Hydra overrides: a sweep becomes an Optuna distribution,
    anything else a ``key=value`` that every trial gets. A later override of a key replaces an earlier one.
    """
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for override in overrides:
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if not override.is_sweep_override():
            fixed[key] = override.input_line
            continue
        value = override.value()
        if isinstance(value, ChoiceSweep):
            space[key] = CategoricalDistribution(list(value.list))
        elif isinstance(value, RangeSweep):
            numbers = list(override.sweep_iterator())
            if not numbers:
                raise MelodygenError(f"hydra.sweeper.params.{key}: {override.input_line} is an empty range")
            if all(isinstance(n, int) for n in numbers):
                step = numbers[1] - numbers[0] if len(numbers) > 1 else 1
                space[key] = IntDistribution(min(numbers), max(numbers), step=abs(step))
            else:
                space[key] = CategoricalDistribution(numbers)
        elif isinstance(value, IntervalSweep):
            low, high, use_log = value.start, value.end, "log" in value.tags
            if not low < high or (use_log and low <= 0):
                raise MelodygenError(
                    f"{override.input_line}: an interval needs start < end"
                    + (" and a positive start on a log scale" if use_log else "")
                )
            default = OmegaConf.select(config, key.lstrip("+~"), default=None)
            if isinstance(default, int) and not isinstance(default, bool):
                space[key] = IntDistribution(int(low), int(high), log=use_log)
            else:
                space[key] = FloatDistribution(low, high, log=use_log)
        else:
            raise MelodygenError(f"{override.input_line}: Optuna cannot search a {type(value).__name__}")
    return space, list(fixed.values())


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_BRANCH = re.compile(r"^(.*)\[([^\[\]=]+)=([^\[\]]*)\]$")


def branch_name(key: str, choice_key: str, choice: Any) -> str:
    """The Optuna name of ``key`` searched when ``choice_key`` drew ``choice``: ``key[choice_key=choice]``."""
    return f"{key}[{choice_key}={choice}]"


def override_key(name: str) -> str:
    """The config key behind an Optuna parameter name (a conditional one's branch dropped)."""
    match = _BRANCH.match(name)
    return match.group(1) if match else name


def trial_overrides(params: Mapping[str, Any]) -> list[str]:
    """A trial's parameters as overrides, ``model.lr=0.00123`` (``model.num_heads[model=transformer]``
    gives ``model.num_heads=…``)."""
    return [f"{override_key(name)}={_as_override(value)}" for name, value in params.items()]


def conditional_space(settings: Mapping, space: Mapping, config: DictConfig) -> dict[str, dict[str, tuple]]:
    """``hydra.sweeper.conditional`` as ``{choice key: {choice: (distributions, fixed)}}``, each branch's
    distributions under their Optuna names; a branch must be a value of a searched choice."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from optuna.distributions import CategoricalDistribution

    parser = OverridesParser.create()
    branches: dict[str, dict[str, tuple]] = {}
    for choice_key, by_value in (settings or {}).items():
        searched = space.get(choice_key)
        if not isinstance(searched, CategoricalDistribution):
            raise MelodygenError(
                f"hydra.sweeper.conditional.{choice_key}: search {choice_key} as a choice in "
                f"hydra.sweeper.params (e.g. {choice_key}: choice(lstm,gru,transformer)) to give it branches"
            )
        choices = [str(c) for c in searched.choices]
        branches[choice_key] = {}
        for value, params in (by_value or {}).items():
            if str(value) not in choices:  # e.g. a search narrowed to model=choice(lstm,gru)
                log.warning(
                    "hydra.sweeper.conditional.%s.%s is not used: %s is searched among %s",
                    choice_key, value, choice_key, ", ".join(choices),
                )  # fmt: skip
                continue
            given = [f"{key}={sweep}" for key, sweep in (params or {}).items()]
            distributions, fixed = search_space(parser.parse_overrides(given), config)
            named = {branch_name(key, choice_key, value): d for key, d in distributions.items()}
            branches[choice_key][str(value)] = (named, fixed)
    return branches


def suggest(trial, space: Mapping, branches: Mapping) -> tuple[dict[str, Any], list[str]]:
    """Draw a trial's parameters (define-by-run): those of ``space``, then those of the branches its
    choices drew; returns ``(params by Optuna name, the drawn branches' fixed overrides)``."""
    params = {name: _suggest(trial, name, distribution) for name, distribution in space.items()}
    fixed: list[str] = []
    for choice_key, by_value in branches.items():
        distributions, branch_fixed = by_value.get(str(params[choice_key]), ({}, []))
        params.update({name: _suggest(trial, name, d) for name, d in distributions.items()})
        fixed += branch_fixed
    return params, fixed


def branch_overrides(params: Mapping[str, Any], branches: Mapping) -> list[str]:
    """The fixed overrides of the branches ``params`` drew (for a trial run again)."""
    return [o for key, by_value in branches.items() for o in by_value.get(str(params.get(key)), ({}, []))[1]]


def _check_branches(branches: Mapping, fixed: Sequence[str], validate) -> None:
    """Compose each branch once, at the first value of each of its ranges, so a key its choice lacks
    (``model.num_heads`` under ``model=lstm``) is one line before the first trial."""
    for choice_key, by_value in branches.items():
        for value, (distributions, branch_fixed) in by_value.items():
            firsts = {name: _first(d) for name, d in distributions.items()}
            job = [*fixed, f"{choice_key}={value}", *branch_fixed, *trial_overrides(firsts)]
            try:
                validate([job])
            except Exception as exc:
                from melodygen.config.overrides import explain_composition

                raise MelodygenError(
                    f"hydra.sweeper.conditional.{choice_key}.{value}: {explain_composition(exc, job)}"
                ) from None


def _first(distribution) -> Any:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low


def _suggest(trial, name: str, distribution) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    return trial.suggest_float(
        name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
    )


def _as_override(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-4 else repr(value)
    if isinstance(value, str):
        # a name such as transformer reads back as itself; anything else (a b, x,y, true, 1e-3) is quoted
        plain = _PLAIN.fullmatch(value) and value.lower() not in ("true", "false", "null", "nan", "inf")
        return value if plain else quoted(value)  # a choice such as 'a b' or 'x,y' stays one value
    return str(value)


def quoted(text: str) -> str:
    """A string value Hydra's override grammar reads back unchanged (a path or URL with any characters)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ------------------------------------------------------------------------------------------ the study


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    return storage or f"sqlite:///{(sweep_dir / STUDY_FILE).resolve()}"


def open_storage(url: str):
    """Optuna's database storage; sqlite waits for a lock instead of failing when jobs write at once."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def make_sampler(name: str, seed: int | None, n_startup_trials: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)


def make_pruner(name: str, n_startup_trials: int, n_warmup_epochs: int, max_epochs: int):
    """The study's pruner; a trial's job builds the same one from the study's ``pruner`` attribute."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_epochs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, n_warmup_epochs), max_resource=max_epochs)
    return optuna.pruners.NopPruner()


def finished_trials(study) -> list:
    """Trials that count towards ``n_trials``: completed or pruned."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def settle_interrupted(study, sweep_dir: Path, metric: str) -> list[tuple[int, str]]:
    """Trials still ``RUNNING`` at a study's start were left by a killed sweeper (one sweeper drives a
    study at a time). A trial whose job had finished (its ``metrics.json`` is there) is told its result;
    any other is marked failed, and another trial takes its place. Returns ``(number, state)`` pairs."""
    from optuna.trial import TrialState

    settled = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        path = sweep_dir / str(trial.number) / "metrics.json"
        metrics = json.loads(path.read_text()) if path.is_file() else {}
        if metrics.get("pruned_at_epoch") is not None:
            study.tell(trial.number, state=TrialState.PRUNED)
        elif isinstance(metrics.get(metric), int | float):
            study.tell(trial.number, float(metrics[metric]))
        else:
            study.tell(trial.number, state=TrialState.FAIL)
        settled.append((trial.number, study.trials[trial.number].state.name.lower()))
    return settled


def trial_outcome(result, metric: str) -> tuple[str, float | None, str]:
    """``(state, value, why)`` of a finished job: ``complete``, ``pruned`` or ``fail``."""
    from hydra.core.utils import JobStatus

    if result.status != JobStatus.COMPLETED:
        return "fail", None, f"{type(result._return_value).__name__}: {result._return_value}"
    metrics = result.return_value
    if not isinstance(metrics, Mapping):  # the job recorded its failure in failure.json
        failure = Path(result.hydra_cfg.hydra.runtime.output_dir) / "failure.json"
        reason = json.loads(failure.read_text()).get("error") if failure.is_file() else None
        return "fail", None, reason or "the job failed (see its train.log)"
    if metrics.get("pruned_at_epoch") is not None:
        return "pruned", None, f"pruned after epoch {metrics['pruned_at_epoch']}"
    if metric not in metrics:
        return "fail", None, f"the job reports no {metric}; it reports {', '.join(sorted(metrics))}"
    return "complete", float(metrics[metric]), ""


def write_best(
    study, sweep_dir: Path, fixed: Sequence[str], metric: str, branches: Mapping | None = None
) -> Path | None:
    """``best.yaml``: the best trial so far, its overrides and the command that trains it again."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    # sweep=… would start another study (what a custom sweep config sets outside hydra.* is not repeated)
    overrides = [o for o in fixed if not o.lstrip("+~").startswith("sweep=")]
    overrides += branch_overrides(best.params, branches or {}) + trial_overrides(best.params)
    command = shlex.join(["melodygen-train", *overrides])
    record = {
        "study": study.study_name,
        "metric": metric,
        "direction": study.direction.name.lower(),
        "value": best.value,
        "trial": best.number,
        "run_dir": str(sweep_dir / str(best.number)),
        "params": dict(best.params),
        "overrides": overrides,
        "command": command,
    }
    text = f"# the best trial so far; train it again with:\n#   {command}\n" + yaml.safe_dump(
        record, sort_keys=False
    )
    return write_text_atomic(sweep_dir / BEST_FILE, text)


def load_study(url: str, study_name: str | None = None):
    """An existing study (the only one in the storage when ``study_name`` is None)."""
    import optuna

    storage = open_storage(url)
    if study_name is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        if len(names) != 1:
            raise MelodygenError(
                f"{url}: holds {len(names)} studies ({', '.join(names) or 'none'}); name one"
            )
        study_name = names[0]
    return optuna.load_study(study_name=study_name, storage=storage)


# ------------------------------------------------------------------------------------ the sweep loop


def run_study(settings: DictConfig, config: DictConfig, launcher, validate, arguments: Sequence[str]) -> Any:
    """Ask, launch and tell until ``n_trials`` trials have completed or been pruned.

    ``settings`` is ``hydra.sweeper``; ``config`` the whole composed config; ``launcher`` Hydra's;
    ``validate`` composes a batch of jobs' overrides (Hydra's check that every job can be composed).
    """
    import optuna
    from hydra.core.override_parser.overrides_parser import OverridesParser

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_settings(settings)
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    given = [f"{key}={value}" for key, value in settings.params.items()] + list(arguments)
    space, fixed = search_space(OverridesParser.create().parse_overrides(given), config)
    branches = conditional_space(settings.get("conditional"), space, config)
    _check_branches(branches, fixed, validate)
    if not space:
        raise MelodygenError(
            "sweep=optuna: nothing to search; give hydra.sweeper.params or sweeps such as "
            "model.hidden_size=choice(64,128)"
        )
    url = storage_url(settings.storage, sweep_dir)
    name = settings.study_name or sweep_dir.name
    metric, direction = settings.metric, _name(settings.direction)
    # the jobs prune with the same pruner: Optuna keeps none in the storage, so its settings go there
    pruning = {
        "name": _name(settings.pruner),
        "n_startup_trials": settings.n_startup_trials,
        "n_warmup_epochs": settings.n_warmup_epochs,
        "max_epochs": int(config.trainer.max_epochs),
    }
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(url),
        sampler=make_sampler(_name(settings.sampler), settings.seed, settings.n_startup_trials),
        pruner=make_pruner(**pruning),
        direction=direction,
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise MelodygenError(
            f"hydra.sweeper.direction={direction}: study {name} in {url} is to be "
            f"{study.direction.name.lower()}d"
        )
    for number, state in settle_interrupted(study, sweep_dir, metric):
        if state == "fail":
            log.warning("trial %d was interrupted: marked failed, another trial takes its place", number)
        else:
            log.info("trial %d had finished when the study was stopped: %s", number, state)
    if study.trials and settings.seed is not None:  # a resumed study must not draw its first trials again
        seed = settings.seed + len(study.trials)
        study.sampler = make_sampler(_name(settings.sampler), seed, settings.n_startup_trials)
    study.set_user_attr("metric", metric)
    study.set_user_attr("pruner", pruning)
    done = len(finished_trials(study))
    if done:
        log.info("study %s in %s: %d of %d trials already finished", name, url, done, settings.n_trials)
    else:
        log.info("study %s in %s: %d trials, %s %s", name, url, settings.n_trials, direction, metric)
    n_jobs = settings.n_jobs or _launcher_jobs(config)
    try:
        _optimize(study, settings, config, launcher, validate, (space, branches), fixed, url, metric, n_jobs)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C; Lightning turns one during fit into exit(1)
        done = len(finished_trials(study))
        exit_stopped(
            f"interrupted: {done} of {settings.n_trials} trials of study {name} finished; run the same "
            f"command with hydra.sweep.dir={sweep_dir} to go on"
        )
    _summarize(study, sweep_dir, metric)
    return study


def _optimize(study, settings, config, launcher, validate, space, fixed, url, metric, n_jobs) -> None:
    from optuna.trial import TrialState

    sweep_dir, name = Path(config.hydra.sweep.dir), study.study_name
    done, failed_in_a_row = len(finished_trials(study)), 0
    while done < settings.n_trials:
        if failed_in_a_row >= FAILURES_IN_A_ROW:
            log.error(
                "%d trials in a row failed: the study stops (each failure is named below)", failed_in_a_row
            )
            return
        trials = [study.ask() for _ in range(min(n_jobs, settings.n_trials - done))]
        drawn = [suggest(trial, *space) for trial in trials]
        batch = [
            [
                *fixed,
                *branch_fixed,
                *trial_overrides(params),
                f"trial.number={trial.number}",
                f"trial.id={trial._trial_id}",  # Optuna keeps a trial's storage id private
                f"trial.study_name={quoted(name)}",
                f"trial.storage={quoted(url)}",
                f"trial.metric={quoted(metric)}",
            ]
            for trial, (params, branch_fixed) in zip(trials, drawn)
        ]
        try:
            validate(batch)
        except Exception:
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL)
            raise
        results = launcher.launch(batch, initial_job_idx=trials[0].number)
        for trial, result in zip(trials, results):
            state, value, why = trial_outcome(result, metric)
            failed_in_a_row = failed_in_a_row + 1 if state == "fail" else 0
            if state == "complete":
                study.tell(trial, value)
                log.info("trial %d: %s %.4f (%s)", trial.number, metric, value, _params(trial.params))
            elif state == "pruned":
                study.tell(trial, state=TrialState.PRUNED)
                log.info("trial %d: %s (%s)", trial.number, why, _params(trial.params))
            else:
                study.tell(trial, state=TrialState.FAIL)
                log.error("trial %d failed: %s", trial.number, why)
        done = len(finished_trials(study))
        write_best(study, sweep_dir, fixed, metric, space[1])


def check_settings(settings: DictConfig) -> None:
    from melodygen.config import require

    require(settings.n_trials >= 1, "hydra.sweeper.n_trials", settings.n_trials, "at least 1")
    require(
        settings.n_jobs is None or settings.n_jobs >= 1,
        "hydra.sweeper.n_jobs",
        settings.n_jobs,
        "at least 1 (or null: the launcher's n_jobs)",
    )
    require(
        settings.n_startup_trials >= 0,
        "hydra.sweeper.n_startup_trials",
        settings.n_startup_trials,
        "must not be negative",
    )
    require(
        settings.n_warmup_epochs >= 0,
        "hydra.sweeper.n_warmup_epochs",
        settings.n_warmup_epochs,
        "must not be negative",
    )


def _name(choice: Any) -> str:
    return getattr(choice, "name", choice)


def _launcher_jobs(config: DictConfig) -> int:
    from melodygen.runtime.threads import parallel_jobs, usable_cores

    return parallel_jobs(config.hydra.launcher, usable_cores())


def _params(params: Mapping[str, Any]) -> str:
    return ",".join(
        f"{override_key(name).rsplit('.', 1)[-1]}={_as_override(value)}" for name, value in params.items()
    )


def _summarize(study, sweep_dir: Path, metric: str) -> None:
    from optuna.trial import TrialState

    counts = {state: len(study.get_trials(deepcopy=False, states=(state,))) for state in TrialState}
    shown = ", ".join(f"{n} {state.name.lower()}" for state, n in counts.items() if n)
    log.info("study %s: %s", study.study_name, shown)
    best = sweep_dir / BEST_FILE
    if counts[TrialState.COMPLETE]:
        trial = study.best_trial
        log.info(
            "best: trial %d, %s %.4f; %s holds the command that trains it again",
            trial.number,
            metric,
            trial.value,
            best,
        )
