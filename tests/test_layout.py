"""The package's shape: stages import only the stages beneath them, the library never imports the command
line, and no two modules import each other (read from the code's own import statements)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "melodygen"

#: each stage, lowest first; a module may import its own stage and those before it
STAGES = [
    {"errors", "registry", "_moved", "config", "runtime", "conf", "pretrained"},
    {"music"},
    {"representations"},
    {"data", "models", "folk"},
    {"generation", "evaluation"},
    {"export"},
    {"sweeps"},
    {"training"},
    {"analysis"},
    {"builtins", "plugins"},
    {"cli"},
]
LEVEL = {name: level for level, names in enumerate(STAGES) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The melodygen modules ``path`` imports, anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                found.add(whole if whole in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_is_in_a_stage():
    assert {stage(m) for m in MODULES} - {"__init__"} <= set(LEVEL)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if stage(m) in LEVEL))
def test_a_stage_imports_only_the_stages_beneath_it(module):
    upward = {
        other for other in imported(MODULES[module])
        if stage(other) in LEVEL and LEVEL[stage(other)] > LEVEL[stage(module)]
    }  # fmt: skip
    assert not upward, f"{module} imports {sorted(upward)} from a later stage"


def test_the_domain_imports_no_training_code_and_the_library_no_command_line():
    for module, path in MODULES.items():
        names = {stage(other) for other in imported(path)}
        if stage(module) in ("music", "representations", "models", "data"):
            assert not names & {"training", "sweeps", "analysis", "generation", "evaluation"}, module
        if stage(module) != "cli":
            assert "cli" not in names, module
    assert "data" not in {stage(o) for m, p in MODULES.items() if stage(m) == "models" for o in imported(p)}


def test_no_two_modules_import_each_other_even_through_others():
    graph = {module: imported(path) - {module} for module, path in MODULES.items()}
    # a package's __init__ that hands on its modules' names is its face, not a module of its own
    faces = {m for m in graph if MODULES[m].name == "__init__.py"}
    for face in faces:
        graph[face] = set()
    state, circles = {}, []

    def visit(module, trail):
        state[module] = "open"
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                circles.append(trail[trail.index(other) :] + [other])
            elif other not in state:
                visit(other, trail + [other])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles


OLD_PATHS = """
import importlib, json, warnings
from melodygen._moved import MOVED
seen = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same = importlib.import_module(old) is importlib.import_module(new)
    seen[old] = [same, [str(w.message) for w in caught if w.category is DeprecationWarning]]
print(json.dumps(seen))
"""


def test_old_module_paths_still_import_what_moved_with_a_warning():
    import json
    import subprocess
    import sys

    from melodygen._moved import MOVED

    out = subprocess.run([sys.executable, "-c", OLD_PATHS], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    assert set(seen) == set(MOVED)
    for old, (same, warned) in seen.items():
        assert same and f"{old} is now {MOVED[old]}" in warned, old


def test_the_public_names_import_from_the_package():
    from melodygen import Melody, MelodyDataModule, MelodyModel, load_model
    from melodygen.data.datamodule import MelodyDataModule as datamodule
    from melodygen.models import MelodyModel as model
    from melodygen.models.checkpoint import load_model as loader
    from melodygen.music.melody import Melody as melody

    assert (Melody, MelodyDataModule, MelodyModel, load_model) == (melody, datamodule, model, loader)
