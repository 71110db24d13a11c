"""mkdocs hooks: the settings reference page, written from the schema when the site is built (so it
cannot drift from what the commands accept), and the pretrained models' cards, from the package."""

from __future__ import annotations

from mkdocs.structure.files import File

REFERENCE = "reference/configuration.md"


def on_files(files, config):
    from melodygen.cli.app import config_dir
    from melodygen.config import register_configs
    from melodygen.config.reference import page

    register_configs()
    files.append(File.generated(config, REFERENCE, content=page(config_dir())))
    from melodygen import pretrained

    for name in pretrained.MODELS:
        card = pretrained.card(name)
        files.append(File.generated(config, f"pretrained/{name}.md", content=card.read_text()))
    return files
