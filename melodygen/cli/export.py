"""``melodygen-export``: a checkpoint's network as a folder that runs without torch (ONNX)."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_export


def export(cfg, overrides: list[str] = ()) -> dict:
    """Check ``cfg``, export the checkpoint into ``cfg.out_dir`` (or ``<run dir>/export``), say what was written."""
    check_export(cfg)
    from melodygen.errors import MelodygenError
    from melodygen.export.folder import write_export
    from melodygen.export.onnx_step import exportable
    from melodygen.models import load_model

    model = load_model(cfg.ckpt_path, "cpu")
    why = exportable(model)
    if why is not None:
        raise MelodygenError(why)
    out_dir = (
        Path(cfg.out_dir).expanduser() if cfg.out_dir is not None else Path(cfg.paths.output_dir) / "export"
    )
    started = time.perf_counter()
    page_note, runtime = None, None
    if cfg.page:  # the page's runtime first: a missing or wrong one stops the export before it writes
        from melodygen.export.page import pageless, runtime_archive, write_page

        page_note = pageless(
            {"representation": model.representation.name, "representation_label": model.representation.label}
        )
        runtime = runtime_archive(cfg.runtime) if page_note is None else None
    for name in ("torch.onnx", "onnxscript", "onnx_ir"):  # the exporter's progress lines and notes
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        description = write_export(model, str(cfg.ckpt_path), out_dir, cfg.check_steps)
    check = description["check"]
    if runtime is not None:
        write_page(out_dir, description, str(runtime))
        page_note = f"open {(out_dir / 'index.html').resolve().as_uri()} to generate in your browser"
    for path in sorted(out_dir.iterdir()):
        print(f"{path}  ({path.stat().st_size / 1024:,.0f} KB)")
    print(
        f"exported {description['architecture']} on {description['representation_label']} in "
        f"{time.perf_counter() - started:.1f} s; over {check['steps']} steps its logits were within "
        f"{check['max_abs_logit_difference']:.1e} of torch's"
    )
    if page_note is not None:
        print(page_note)
    return description


main = hydra_app("export", export, check_export)

if __name__ == "__main__":
    main()
