"""The commands the README and the docs show, read from their code blocks, and the check of each one.

``python documented.py`` reads a JSON list of command lines on stdin and prints a JSON list of the failures,
``[[line, reason], …]``. It runs in a process of its own, so a plugin the docs use (the example ``mlp``)
registers there and not in the test process.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the commands a code block may show, and the config each composes (compare takes paths and options)
HYDRA_COMMANDS = ("train", "generate", "evaluate", "prepare", "corpus", "export")
#: written before a code block whose commands the suite runs, in order, at tiny settings
RUNS_MARK = "<!-- the test suite runs this -->"
_FENCE = re.compile(r"^(\s*)```(\w*)")


@dataclass
class Block:
    page: Path
    line: int  # where the block starts, 1-based
    commands: list[str]
    runs: bool  # marked RUNS_MARK
    errors: dict[str, str]  # a command shown with the error line it prints (``$ cmd`` then ``error: …``)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` that shows a ``melodygen-*`` command, continuation lines joined."""
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i].strip())
            i += 1
        i += 1
        joined = "\n".join(body).replace("\\\n", " ")
        commands, errors = [], {}
        shown = joined.splitlines()
        for number, line in enumerate(shown):
            line = line.strip().removeprefix("$ ").removeprefix(".venv/bin/")
            if re.match(r"melodygen-(train|generate|evaluate|prepare|corpus|compare|export)\b", line):
                commands.append(line)
                following = shown[number + 1] if number + 1 < len(shown) else ""
                if following.startswith("error: "):
                    errors[line] = following.removeprefix("error: ")
        marked = start > 0 and lines[start - 1].strip() == RUNS_MARK
        if commands:
            blocks.append(Block(page, start + 1, commands, marked, errors))
    return blocks


def check(line: str) -> str | None:
    """Why ``line`` would not start as written (its keys, values and groups against the schema), or None."""
    from melodygen.cli.app import command_line_overrides, config_dir, expand_home
    from melodygen.config import check_data, check_model, check_samples, register_configs
    from melodygen.errors import MelodygenError
    from melodygen.registry import plugin_modules

    words = shlex.split(line, comments=True)
    command, args = words[0].removeprefix("melodygen-"), expand_home(words[1:])
    if command == "compare":
        from melodygen.cli.compare import _parser

        try:
            _parser().parse_args(args)
        except SystemExit:
            return "melodygen-compare does not take these arguments"
        return None
    overrides = command_line_overrides(args)
    if overrides is None:  # --help and the like: Hydra's to answer
        return None
    try:  # plugins=[module], as the command loads it (from the working directory)
        register_configs(plugin_modules(args))
    except MelodygenError as exc:
        return str(exc)
    from melodygen.config.overrides import check_overrides

    values = {
        "train": lambda cfg: (check_data(cfg.data), check_model(cfg.model), check_samples(cfg.samples)),
        "prepare": lambda cfg: check_data(cfg.data),
        "evaluate": lambda cfg: check_data(cfg.data),
        "generate": lambda cfg: check_samples(cfg.samples),
    }.get(command)
    try:
        check_overrides(config_dir(), command, overrides, values)
    except MelodygenError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    from melodygen.config import register_configs

    register_configs()
    failures = [[line, reason] for line in json.load(sys.stdin) if (reason := check(line))]
    print(json.dumps(failures))


def docs_module(page: str, mark: str) -> str:
    """The code block written right after ``mark`` in ``docs/<page>``: a module the docs show, which a test
    then runs as a user would (so the page cannot drift from what works)."""
    lines = (ROOT / "docs" / page).read_text().splitlines()
    start = lines.index(mark) + 1
    if not lines[start].startswith("```"):
        raise ValueError(f"docs/{page}: no code block right after {mark}")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start + 1 : end]) + "\n"
