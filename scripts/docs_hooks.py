"""mkdocs hooks: the settings reference page, written from the schema when the site is built (so it
cannot drift from what the commands accept)."""

from __future__ import annotations

from mkdocs.structure.files import File

REFERENCE = "reference/configuration.md"


def on_files(files, config):
    from melodygen.cli.app import config_dir
    from melodygen.config import register_configs
    from melodygen.config.reference import page

    register_configs()
    files.append(File.generated(config, REFERENCE, content=page(config_dir())))
    return files
