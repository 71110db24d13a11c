"""``melodygen-prepare``: parse and cache ``data.midi_dir``; write ``report.json`` into the run directory."""

from __future__ import annotations

from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_prepare


def prepare(cfg, overrides: list[str] = ()) -> dict:
    from melodygen.data.midi_rules import ExtractionParams
    from melodygen.data.parsed import no_melody_error, parse_midi_folder

    check_prepare(cfg)
    parsed = parse_midi_folder(
        cfg.data.midi_dir,
        cfg.data.cache_dir,
        ExtractionParams.from_config(cfg.data),
        workers=cfg.data.parse_workers,
        progress=True,  # a bar on a terminal, lines in a log file
        require_melodies=False,
    )
    report_path = Path(cfg.paths.output_dir) / "report.json"
    parsed.write_report(report_path)
    summary = parsed.summary()
    how = "loaded from cache" if parsed.from_cache else f"parsed in {parsed.parse_seconds:.1f} s"
    print(
        f"{parsed.midi_dir}: kept {summary['kept']} melodies ({summary['notes']} notes), "
        f"skipped {summary['skipped']} files; {how}"
    )
    for reason, count in summary["skipped_by_reason"].items():
        print(f"  skipped {count:6d}  {reason}")
    if summary["files_with_warnings"]:
        print(
            f"  {summary['files_with_warnings']} files read with a library's warning (listed in the report)"
        )
    print(f"report: {report_path}\ncache:  {parsed.cache_file}")
    if not parsed.files:
        raise no_melody_error(parsed)
    return summary


main = hydra_app("prepare", prepare, check_prepare)

if __name__ == "__main__":
    main()
