"""The built wheel, installed non-editable into a fresh venv, runs from a directory outside the checkout."""

import ast
import importlib.metadata
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from melodygen.pretrained import MODELS

REPO = Path(__file__).resolve().parents[1]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source")  # a copy: building writes build/ and *.egg-info
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("melodygen", "conf", "hydra_plugins"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, source)
    (path,) = out.glob("melodygen-*.whl")
    return path


def test_the_wheel_ships_every_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("melodygen/conf/") for n in names if n.startswith("melodygen/conf/")}
    in_checkout = {p.relative_to(REPO / "conf").as_posix() for p in (REPO / "conf").rglob("*.yaml")}
    assert in_checkout and in_checkout <= shipped
    assert {
        "melodygen/cli/train.py",
        "melodygen/representations/event.py",
        "melodygen/folk/__init__.py",
        "hydra_plugins/melodygen_optuna_sweeper/optuna_sweeper.py",  # sweep=optuna
        "melodygen/export/web/index.html",  # the exported page
        "melodygen/export/web/melodygen.js",
    } <= names
    # the pretrained models and their cards, and no more than a few MB of them
    pretrained = {n for n in names if n.startswith("melodygen/pretrained/") and not n.endswith(".py")}
    expected = {f"melodygen/pretrained/{name}.{kind}" for name in MODELS for kind in ("ckpt", "md")}
    assert pretrained == expected
    assert sum(zipfile.ZipFile(wheel).getinfo(n).compress_size for n in pretrained) < 6_000_000


@pytest.mark.slow
def test_installed_wheel_trains_from_an_empty_directory(tmp_path, tune_dir, wheel):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    # the dependencies come from this environment (its site-packages, and any PYTHONPATH folder outside
    # the checkout), melodygen itself only from the wheel
    (target,) = (venv / "lib").glob("python3*/site-packages")
    outside = [p for p in sys.path if p and Path(p).is_dir() and not Path(p).resolve().is_relative_to(REPO)]
    (target / "dependencies.pth").write_text("\n".join([*site.getsitepackages(), *outside]) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("MELODYGEN_ROOT", "PYTHONPATH")}
    where = run(
        python,
        "-c",
        "import melodygen.cli.app as a; print(a.__file__); print(a.config_dir())",
        cwd=tmp_path,
        env=env,
    )
    module, conf = where.stdout.split()
    assert module.startswith(str(venv)) and conf.startswith(str(venv)), where.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run(
        venv / "bin" / "melodygen-train",
        "debug=fast_dev_run",
        f"data.midi_dir={tune_dir}",
        "data.seq_len=16",
        cwd=empty,
        env=env,
    )
    assert "metrics:" in proc.stdout + proc.stderr
    (metrics,) = (empty / "outputs" / "train" / "runs").glob("*/metrics.json")
    assert (empty / "data" / "cache").is_dir() and metrics.is_file()
    typo = subprocess.run(
        [venv / "bin" / "melodygen-train", "model.hiden_size=3"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
    )
    assert typo.returncode == 2 and typo.stderr.strip().startswith("error: model.hiden_size is not a setting")
    study = run(
        venv / "bin" / "melodygen-train", "sweep=optuna", "hydra.sweeper.n_trials=2", "debug=fast_dev_run",
        f"data.midi_dir={tune_dir}", "data.seq_len=choice(8,16)", cwd=empty, env=env,
    )  # fmt: skip
    assert "study" in study.stdout and len(list(empty.glob("outputs/train/multiruns/*/best.yaml"))) == 1


def test_every_third_party_import_is_a_declared_requirement():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    declared_names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in declared}
    imported = set()
    for path in [*(REPO / "melodygen").rglob("*.py"), *(REPO / "hydra_plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
    third_party = imported - set(sys.stdlib_module_names) - {"melodygen", "hydra_plugins"}
    distributions = importlib.metadata.packages_distributions()
    # where an optional extra is not installed, its import name is all there is to go on
    not_installed = {"fluidsynth": ["pyfluidsynth"]}
    for module in sorted(third_party):
        found = distributions.get(module) or not_installed.get(module, [module])
        names = {d.lower().replace("_", "-") for d in found}
        assert names & declared_names, (
            f"melodygen imports {module} ({names}) but pyproject.toml does not declare it"
        )
