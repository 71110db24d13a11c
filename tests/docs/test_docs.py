"""The documentation: the README starts a newcomer, the site builds offline and strict, the settings
reference covers every key (a plugin's too), ``--help`` says what a command does, and every command the
docs show composes against the schema (those marked run, at tiny settings)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys

from conftest import write_tune_folder
from documented import ROOT, code_blocks, docs_module, pages
from helpers import QUIET_SMALL_RUN, run_cli

from melodygen.config.reference import field_docs, option_summary, undocumented
from melodygen.config.runs import SCHEMAS
from melodygen.config.sweep import OptunaSweeperConfig
from melodygen.registry import DATA_SOURCES, NETWORKS, REPRESENTATIONS, SAMPLERS

EXAMPLE_PLUGIN = ROOT / "examples" / "melodygen-mlp"
#: the example plugin's parts: a command naming one is checked with the plugin loaded
PLUGIN_WORDS = re.compile(r"\b(mlp|intervals|leap_share)\b")
MY_PARTS_MARK = "<!-- my_parts.py: the test suite trains and generates with it -->"
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def with_plugin() -> dict:
    path = os.pathsep.join(filter(None, [str(EXAMPLE_PLUGIN), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "MELODYGEN_PLUGINS": "melodygen_mlp"}


def nested_dataclasses(cls: type) -> list[type]:
    found = [cls]
    for f in dataclasses.fields(cls):
        if isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            found += nested_dataclasses(f.default_factory)
    return found


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == [
        "make train",
        "make test",
    ]


def test_every_link_of_the_readme_and_the_docs_resolves():
    from melodygen.pretrained import MODELS, card

    broken = []
    for page in pages():
        for target in _LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = target.split("#", 1)[0]
            resolved = (page.parent / path).resolve()
            # the build writes the settings reference, and each pretrained model's page from its card
            cards = {ROOT / "docs" / "pretrained" / f"{name}.md": card(name) for name in MODELS}
            generated = resolved == ROOT / "docs" / "reference" / "configuration.md" or (
                resolved in cards and cards[resolved].is_file()
            )
            if path and not generated and not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_every_key_of_every_schema_has_a_meaning():
    schemas = {cls for schema in SCHEMAS.values() for cls in nested_dataclasses(schema)}
    schemas.add(OptunaSweeperConfig)
    for registry in (NETWORKS, REPRESENTATIONS, DATA_SOURCES, SAMPLERS):  # a plugin's: the test below
        schemas.update(e.config for e in registry.entries() if e.config is not None and e.built_in)
    assert len(schemas) >= 12
    missing = {cls.__name__: undocumented(cls) for cls in schemas if undocumented(cls)}
    assert not missing, f"keys without a meaning (write one below the field): {missing}"


def test_every_option_of_a_config_group_says_what_it_is():
    options = [
        p for p in (ROOT / "conf").rglob("*.yaml") if p.parent != ROOT / "conf" and p.parent.name != "hydra"
    ]
    assert len(options) >= 30
    assert [p.relative_to(ROOT) for p in options if not option_summary(p)] == []


def test_a_field_docstring_and_field_metadata_both_give_a_meaning():
    @dataclasses.dataclass
    class Settings:
        width: int = 3
        """How wide, in ``cells``."""
        depth: int = dataclasses.field(default=2, metadata={"doc": "How deep."})
        height: int = 1

    assert field_docs(Settings) == {"width": "How wide, in `cells`.", "depth": "How deep."}
    assert undocumented(Settings) == ["height"]


def test_the_reference_holds_a_plugins_keys_with_their_meaning():
    proc = subprocess.run(
        [sys.executable, "-m", "melodygen.config.reference"],
        capture_output=True,
        text=True,
        env=with_plugin(),
    )
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    assert re.search(r"## `model=mlp` \(from (module melodygen_mlp|package melodygen-mlp)\)", page)
    row = next(line for line in page.splitlines() if line.startswith("| `model.context`") and "8" in line)
    assert "Elements each prediction reads" in row
    assert "| `data.representations.intervals.max_interval` | int | `24` | The widest leap kept" in page
    # every row of every table has a meaning
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) > 150
    assert [row for row in rows if row.rstrip().endswith("|  |")] == []
    assert "\\|" not in page  # a pipe escaped inside a code span shows its backslash in the site


def test_the_site_builds_offline_and_strict(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    site = tmp_path / "site"
    reference = (site / "reference" / "configuration.html").read_text()
    assert "data.key" in reference and "notated" in reference
    assert "MelodyNetwork" in (site / "reference" / "api.html").read_text()
    for page in site.rglob("*.html"):  # nothing a page loads comes from the network
        text = page.read_text()
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', text), page


def test_help_says_what_the_command_does_and_what_to_choose_from(tmp_path):
    proc = run_cli(
        "train",
        tmp_path,
        "--help",
        env={"MELODYGEN_PLUGINS": "melodygen_mlp", "PYTHONPATH": with_plugin()["PYTHONPATH"]},
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("melodygen-train: Train a melody model")
    model = next(line for line in text.splitlines() if line.strip().startswith("model "))
    assert model.split()[1:] == ["gru,", "lstm,", "mlp,", "transformer"]  # the plugin's network too
    assert "schema/" not in text and "Start with:" in text and "--multirun" in text
    generate = run_cli("generate", tmp_path, "--help")
    assert generate.stdout.startswith("melodygen-generate: Sample melodies") and "samples " in generate.stdout


def test_every_documented_command_composes_and_shows_its_real_error(tmp_path):
    blocks = [block for page in pages() for block in code_blocks(page)]
    from melodygen.cli.help import COMMANDS

    commands = {c for block in blocks for c in block.commands}
    commands |= {line.split("   (")[0] for _, _, examples in COMMANDS.values() for line in examples}
    assert len(commands) > 50
    expected = {c: e for block in blocks for c, e in block.errors.items()}
    assert len(expected) >= 3
    # the module docs/plugins.md shows, where the commands naming it (plugins=[my_parts]) look for it
    (tmp_path / "my_parts.py").write_text(docs_module("plugins.md", MY_PARTS_MARK))
    failures = {}
    for plugin in (False, True):
        batch = sorted(c for c in commands if bool(PLUGIN_WORDS.search(c)) == plugin)
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "documented.py")],
            input=json.dumps(batch),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=with_plugin() if plugin else None,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        failures.update(dict(json.loads(proc.stdout)))
    # an error shown that only the run itself finds (no GPU here, say): run it, on a few tunes
    tunes = write_tune_folder(tmp_path / "tunes", count=8)
    for command in expected:
        if failures.get(command) is None:
            words = shlex.split(command, comments=True)
            proc = run_cli(
                words[0].removeprefix("melodygen-"), tmp_path, f"data.midi_dir={tunes}", *words[1:]
            )
            failures[command] = (
                proc.stderr.strip().splitlines()[-1].removeprefix("error: ") if proc.stderr else None
            )
    wrong = {c: failures.get(c) for c in commands if failures.get(c) != expected.get(c)}
    assert not wrong, f"documented commands that do not start as the docs say: {wrong}"


def test_the_marked_commands_run_in_order_at_tiny_settings(tmp_path):
    """What a newcomer types first, from the README: prepare and train on their own folder, go on from it."""
    marked = [block for page in pages() for block in code_blocks(page) if block.runs]
    assert [block.page.name for block in marked][:2] == ["README.md", "README.md"]
    home = tmp_path / "home"
    write_tune_folder(home / "my_midi", count=12)
    tiny = [*QUIET_SMALL_RUN, "model.hidden_size=16", "samples.num_samples=1", "trainer.max_epochs=1"]
    for block in marked:
        for line in block.commands:
            words = shlex.split(line, comments=True)
            command = words[0].removeprefix("melodygen-")
            given = {w.split("=", 1)[0] for w in words[1:]}
            extra = [o for o in tiny if o.split("=", 1)[0] not in given] if command == "train" else []
            proc = run_cli(command, tmp_path, *words[1:], *extra, env={"HOME": str(home)})
            assert proc.returncode == 0, f"{block.page.name}:{block.line}: {line}\n{proc.stderr[-2000:]}"
    runs = list((tmp_path / "outputs" / "train" / "runs").glob("*/metrics.json"))
    assert len(runs) >= 2
