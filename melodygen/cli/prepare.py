"""``melodygen-prepare``: parse and cache ``data.midi_dir``; write ``report.json`` into the run directory."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from melodygen.cli.app import CONFIG_DIR, user_errors_as_one_line
from melodygen.config import register_configs

register_configs()


def prepare(cfg: DictConfig) -> dict:
    from melodygen.config import check_data_config
    from melodygen.data.midi import ExtractionParams
    from melodygen.data.prepare import empty_corpus_error, prepare_corpus

    check_data_config(cfg.data)
    corpus = prepare_corpus(
        cfg.data.midi_dir,
        cfg.data.cache_dir,
        ExtractionParams(min_notes=cfg.data.min_notes),
        workers=cfg.data.parse_workers,
        progress=sys.stderr.isatty(),
        require_melodies=False,
    )
    report_path = Path(cfg.paths.output_dir) / "report.json"
    corpus.write_report(report_path)
    summary = corpus.summary()
    how = "loaded from cache" if corpus.from_cache else f"parsed in {corpus.parse_seconds:.1f} s"
    print(
        f"{corpus.midi_dir}: kept {summary['kept']} melodies ({summary['notes']} notes), "
        f"skipped {summary['skipped']} files; {how}"
    )
    for reason, count in summary["skipped_by_reason"].items():
        print(f"  skipped {count:6d}  {reason}")
    print(f"report: {report_path}\ncache:  {corpus.cache_file}")
    if not corpus.files:
        raise empty_corpus_error(corpus)
    return summary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="prepare")
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    prepare(cfg)


if __name__ == "__main__":
    main()
