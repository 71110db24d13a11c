"""``melodygen-corpus``: build the folk corpus (MIDI + manifest) from the ABC files inside music21.

Examples: ``melodygen-corpus`` (all collections into ./data/folk), ``melodygen-corpus limit=5
collections=[essen]`` (a quick look), ``melodygen-corpus out_dir=/tmp/folk workers=2 max_notes=3000``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from melodygen.cli.app import CONFIG_DIR, user_errors_as_one_line
from melodygen.data.corpus import build_corpus, check_options


@dataclass
class CorpusConfig:
    """Schema of ``conf/corpus.yaml``; an unknown key or a wrongly typed value fails at compose time."""

    out_dir: str = MISSING
    collections: list[str] = field(default_factory=lambda: ["essen", "oneills", "ryans"])
    workers: int = 0  # 0: all cores; 1: no process pool
    limit: Optional[int] = None  # noqa: UP045 (Hydra's structured configs need typing.Optional)
    max_notes: int = 2000
    progress: bool = True


ConfigStore.instance().store(name="corpus_schema", node=CorpusConfig)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="corpus")
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    collections = list(cfg.collections)
    check_options(collections, cfg.workers, cfg.limit, cfg.max_notes)
    build_corpus(
        cfg.out_dir,
        collections=collections,
        workers=cfg.workers,
        limit=cfg.limit,
        max_notes=cfg.max_notes,
        progress=cfg.progress,
    )


if __name__ == "__main__":
    main()
