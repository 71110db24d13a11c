"""``melodygen-corpus``: build the folk corpus (MIDI + manifest) from the ABC files inside music21.

Examples: ``melodygen-corpus`` (all collections into data/folk), ``melodygen-corpus limit=5
collections=[essen]`` (a quick look), ``melodygen-corpus route=music21 workers=2``.
"""

from __future__ import annotations

from melodygen.cli.app import hydra_app
from melodygen.config import check_corpus_config


def corpus(cfg, overrides: list[str] = ()):
    from melodygen.folk import build_corpus

    return build_corpus(
        cfg.out_dir,
        collections=[c.value for c in cfg.collections],
        route=cfg.route.value,
        workers=cfg.workers,
        limit=cfg.limit,
        max_tune_notes=cfg.max_tune_notes,
        progress=cfg.progress,
    )


main = hydra_app("corpus", corpus, check_corpus_config)

if __name__ == "__main__":
    main()
