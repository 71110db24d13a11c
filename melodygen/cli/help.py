"""``melodygen-<command> --help``: what the command does, the groups a user chooses from (plugins' parts
included), the commands to start with, and where the manual is. Hydra prints it: each command's
``hydra.help.template`` is ``${melodygen_help:<command>}``, resolved when ``--help`` is asked."""

from __future__ import annotations

from pathlib import Path

from melodygen.registry import DATA_SOURCES, NETWORKS, SAMPLERS, Registry

#: what each command does, the groups it takes, and the lines to start with
COMMANDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "train": (
        "Train a melody model on a folder of MIDI files (default: the built-in folk corpus), test its best "
        "checkpoint and sample melodies from it. One folder per run under outputs/train/.",
        (
            "model",
            "data",
            "trainer",
            "samples",
            "logger",
            "callbacks",
            "experiment",
            "debug",
            "sweep",
            "hydra/launcher",
        ),
        (
            "melodygen-train data.midi_dir=~/my_midi",
            "melodygen-train model=transformer data.representation=event",
            "melodygen-train -m model.hidden_size=64,128 data.seq_len=32,64",
            "melodygen-train logger=wandb",
            "melodygen-train trainer=ddp   (every GPU of this machine)",
            "melodygen-train ckpt_path=last trainer.max_epochs=20   (go on from the newest run)",
        ),
    ),
    "generate": (
        "Sample melodies from a checkpoint or a pretrained model: MIDI files, piano rolls and WAVs.",
        ("samples",),
        (
            "melodygen-generate pretrained=folk-lstm   (no training: folk-lstm, folk-transformer, "
            "folk-transformer-conditioned)",
            "melodygen-generate pretrained=folk-transformer-conditioned samples.meter=6/8 samples.key=D "
            "samples.bars=8",
            "melodygen-generate ckpt_path=last",
            "melodygen-generate ckpt_path=last samples.num_samples=16 samples.temperature=0.8",
            "melodygen-generate ckpt_path=last samples.meter=6/8 samples.key=D   (a conditioned model)",
            'melodygen-generate ckpt_path=last primer="60:4 62:2 64:2"',
        ),
    ),
    "evaluate": (
        "Score checkpoints on a folder of MIDI files (bits per note), and compare generated melodies with "
        "real ones.",
        ("data",),
        (
            "melodygen-evaluate ckpt_path=last data.midi_dir=~/held_out_midi",
            "melodygen-evaluate pretrained=folk-lstm data.midi_dir=~/my_midi",
            "melodygen-evaluate samples_dir=outputs/generate/runs/2026-12-06_11-00-00/samples data.midi_dir=~/my_midi",
        ),
    ),
    "export": (
        "Write a checkpoint's network as a folder that runs without torch: its one-step function in ONNX, what it "
        "reads and writes, a card (LSTM, GRU and Transformer on class inputs), and index.html, a page that "
        "writes melodies with it in the browser, offline.",
        (),
        (
            "melodygen-export ckpt_path=last",
            "melodygen-export ckpt_path=last out_dir=exported/my-model",
            "melodygen-export pretrained=folk-transformer",
            "melodygen-export ckpt_path=last page=false",
        ),
    ),
    "prepare": (
        "Read a folder of MIDI files once into the cache and report what was kept and skipped, and why.",
        ("data",),
        ("melodygen-prepare data.midi_dir=~/my_midi",),
    ),
    "corpus": (
        "Build the folk corpus: one MIDI file per tune of the ABC collections shipped with music21.",
        (),
        ("melodygen-corpus", "melodygen-corpus limit=200   (a few tunes per collection, quickly)"),
    ),
}

#: the registry whose plugin parts are options of a group too
_REGISTRIES: dict[str, Registry] = {"model": NETWORKS, "data": DATA_SOURCES, "samples": SAMPLERS}


def group_options(conf_dir: Path, group: str) -> list[str]:
    """The options of ``group``: its files in ``conf/`` and the parts plugins registered for it."""
    names = {path.stem for path in (conf_dir / group).glob("*.yaml")}
    registry = _REGISTRIES.get(group)
    if registry is not None:
        names.update(entry.name for entry in registry.entries() if not entry.built_in)
    return sorted(names)


def help_text(command: str, conf_dir: str | Path) -> str:
    """The help page of ``melodygen-<command>``, as a ``hydra.help.template`` ($ escaped for it)."""
    what, groups, examples = COMMANDS.get(command, ("", (), ()))
    name = f"melodygen-{command}"
    lines = [f"{name}: {what}", "", f"Usage: {name} [KEY=VALUE ...] [GROUP=OPTION ...]"]
    if command == "train":
        lines.append(f"       {name} -m KEY=A,B ...   (a sweep: one job per value, one folder per job)")
    if groups:
        lines += ["", "Choose from (GROUP=OPTION):"]
        width = max(len(group) for group in groups)
        for group in groups:
            lines.append(f"  {group:<{width}}  {', '.join(group_options(Path(conf_dir), group))}")
    if examples:
        lines += ["", "Start with:"] + [f"  {line}" for line in examples]
    lines += [
        "",
        f"Every key and its default: {name} --cfg job (this run's whole configuration);",
        "what each key means: the settings reference of the documentation (docs/, built by make docs).",
        "A mistake in a key or a value stops the command with one line naming it.",
        "",
        "Flags:",
        "$FLAGS_HELP",
    ]
    text = "\n".join(lines)
    return text.replace("$", "$$").replace("$$FLAGS_HELP", "$FLAGS_HELP")
