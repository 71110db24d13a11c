"""The settings reference: every key of every command, its type, default, allowed values and meaning,
written from the schema's dataclasses (and plugins' own), so it cannot drift from what a run accepts.

A key's meaning is its field's ``metadata["doc"]`` or, as in melodygen's own schemas, the string written
right below the field (an attribute docstring, which documentation tools read too)::

    @dataclass
    class MyNetConfig(ModelConfig):
        context: int = 8
        \"\"\"How many previous notes the network sees.\"\"\"

``python -m melodygen.config.reference`` prints the page; the docs site builds it the same way.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
import sys
import textwrap
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from melodygen.registry import DATA_SOURCES, NETWORKS, REPRESENTATIONS, SAMPLERS, Entry


@dataclass(frozen=True)
class Setting:
    """One key of the reference: ``key`` as typed on the command line (``model.hidden_size``)."""

    key: str
    type: str
    default: str
    doc: str


@cache
def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``{field: text}`` from the strings written right below the fields of ``cls`` itself."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # defined where no source can be read
        return {}
    node = ast.parse(source).body[0]
    docs = {}
    for stmt, after in zip(node.body, node.body[1:]):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = markdown(" ".join(inspect.cleandoc(after.value.value).split()))
    return docs


def field_docs(cls: type) -> dict[str, str]:
    """The meaning of each field of the dataclass ``cls``, its bases' included (a subclass's text wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_attribute_docstrings(klass))
    for f in dataclasses.fields(cls):
        if f.metadata.get("doc"):
            docs[f.name] = markdown(str(f.metadata["doc"]))
    return docs


def type_name(annotation: Any) -> str:
    """``int``, ``float or null``, ``one of: adam, adamw``, ``list of str`` …"""
    if isinstance(annotation, str):  # from __future__ import annotations: resolved by the caller
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of: " + ", ".join(member.name for member in annotation)
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if value is MISSING or value == "???":
        return "required"
    if isinstance(value, enum.Enum):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(v.name if isinstance(v, enum.Enum) else str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else "{" + ", ".join(map(str, value)) + "}"
    return str(value)


def settings(cls: type, prefix: str = "", skip: frozenset[str] = frozenset()) -> Iterator[Setting]:
    """Every key of the dataclass ``cls`` under ``prefix`` (nested dataclasses as their own keys)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        annotation = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(annotation):
            continue  # a group of its own, documented under its own heading
        yield Setting(prefix + f.name, type_name(annotation), default_text(f), docs.get(f.name, ""))


def undocumented(cls: type) -> list[str]:
    """The fields of ``cls`` that have no meaning written (the test of the schema fails on any)."""
    return [s.key for s in settings(cls) if not s.doc]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[Setting]) -> str:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for s in rows:
        lines.append(f"| `{s.key}` | {_cell(s.type)} | `{_cell(s.default)}` | {_cell(s.doc)} |")
    return "\n".join(lines)


def markdown(text: str) -> str:
    """reStructuredText's inline marks, as Markdown: ``x`` → `x`, :class:`~a.B` → `B`."""
    text = re.sub(r":\w+:`~?(?:[\w.]+\.)?([\w]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _summary(cls: Any) -> str:
    """The first paragraph of a class's own docstring, on one line ("" for a dataclass without one, whose
    docstring Python writes as its signature)."""
    doc = inspect.getdoc(cls) or ""
    if doc.startswith(f"{getattr(cls, '__name__', '')}("):
        return ""
    return markdown(" ".join(doc.split("\n\n")[0].split()))


def _own(entry: Entry, base: type, prefix: str) -> list[Setting]:
    """The keys ``entry``'s config adds to ``base``, and those whose default it changes."""
    inherited = {s.key: s.default for s in settings(base, prefix)}
    return [s for s in settings(entry.config, prefix) if inherited.get(s.key) != s.default]


def _provider(entry: Entry) -> str:
    return "" if entry.built_in else f" (from {entry.provider})"


def option_summary(path: Path) -> str:
    """What a config-group option in ``conf/`` is: its first comment paragraph."""
    text = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        stripped = stripped.lstrip("#").strip()
        if stripped.startswith("@package"):
            continue
        if not stripped and text:
            break
        text.append(stripped)
    return " ".join(text)


#: the option groups of conf/ that set several keys at once (each option's first comment is its meaning)
OPTION_GROUPS = (
    "data",
    "model",
    "trainer",
    "samples",
    "callbacks",
    "logger",
    "debug",
    "experiment",
    "sweep",
    "hydra/launcher",
)


def _section(title: str, intro: str, rows: list[Setting]) -> list[str]:
    return [f"## {title}", "", intro, "", table(rows), ""] if rows else []


def page(conf_dir: str | Path) -> str:
    """The whole reference, as Markdown, for the parts registered now (built-ins and loaded plugins)."""
    from melodygen.config.data import DataConfig
    from melodygen.config.model import ModelConfig
    from melodygen.config.runs import SCHEMAS, PathsConfig, TrainerConfig
    from melodygen.config.sampling import SamplingConfig
    from melodygen.config.sweep import OptunaSweeperConfig, SweepConfig, TrialConfig

    out = [
        "# Settings reference",
        "",
        "Every key a command takes, written from the schema itself (its dataclasses, and those of the plugins "
        "installed when the page was built). Set a key on the command line as `key=value` "
        "(`melodygen-train model.hidden_size=256 data.seq_len=128`); choose an option of a group as "
        "`group=option` (`model=transformer`). `melodygen-train --cfg job` prints a run's whole "
        "configuration. A misspelled key or an impossible value stops the command with one line naming it.",
        "",
    ]
    for name, schema in SCHEMAS.items():
        command = name.removesuffix("_schema")
        hints = typing.get_type_hints(schema)
        groups = [f.name for f in dataclasses.fields(schema) if dataclasses.is_dataclass(hints.get(f.name))]
        intro = _summary(schema)
        if groups:
            intro += (" " if intro else "") + "Its groups: " + ", ".join(f"`{g}.*`" for g in groups) + "."
        out += _section(f"`melodygen-{command}`", intro, list(settings(schema)))
    out += _section("`data.*`", _summary(DataConfig), list(settings(DataConfig, "data.")))
    for entry in DATA_SOURCES.entries():
        if entry.config is not None and entry.config is not DataConfig:
            rows = _own(entry, DataConfig, "data.")
            out += _section(f"`data={entry.name}`{_provider(entry)}", _summary(entry.config), rows)
    for entry in REPRESENTATIONS.entries():
        if entry.config is not None:
            prefix = f"data.representations.{entry.name}."
            out += _section(
                f"`data.representation={entry.name}`{_provider(entry)}",
                f"{_summary(entry.config)} Its settings are `{prefix}KEY`.",
                list(settings(entry.config, prefix)),
            )
    out += _section(
        "`model.*`",
        _summary(ModelConfig) + " Every network has these keys.",
        list(settings(ModelConfig, "model.")),
    )
    for entry in NETWORKS.entries():
        if entry.config is not None:
            out += _section(
                f"`model={entry.name}`{_provider(entry)}",
                _summary(entry.config),
                _own(entry, ModelConfig, "model."),
            )
    out += _section("`samples.*`", _summary(SamplingConfig), list(settings(SamplingConfig, "samples.")))
    for entry in SAMPLERS.entries():
        if entry.config is not None and entry.config is not SamplingConfig:
            out += _section(
                f"`samples={entry.name}`{_provider(entry)}",
                _summary(entry.config),
                _own(entry, SamplingConfig, "samples."),
            )
    for prefix, cls in (
        ("trainer", TrainerConfig),
        ("paths", PathsConfig),
        ("sweep", SweepConfig),
        ("trial", TrialConfig),
        ("hydra.sweeper", OptunaSweeperConfig),
    ):
        out += _section(f"`{prefix}.*`", _summary(cls), list(settings(cls, prefix + ".")))
    out += [
        "## Options of the config groups",
        "",
        "Each option sets several keys at once: `melodygen-train logger=wandb trainer=gpu`.",
        "",
    ]
    for group in OPTION_GROUPS:
        folder = Path(conf_dir) / group
        files = sorted(folder.glob("*.yaml"))
        if not files:
            continue
        out += [f"### `{group}`", "", "| option | what it is |", "| --- | --- |"]
        out += [f"| `{group}={f.stem}` | {_cell(option_summary(f))} |" for f in files]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    from melodygen.config import register_configs

    register_configs()
    sys.stdout.write(
        page(Path(__file__).resolve().parents[1] / "conf")
    )  # melodygen.conf, the configs shipped
