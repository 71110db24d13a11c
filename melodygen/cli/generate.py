"""``melodygen-generate``: sample melodies from a checkpoint and write MIDI files and piano rolls."""

from __future__ import annotations

import time
from pathlib import Path

from melodygen.cli.app import hydra_app
from melodygen.config import check_generate, sampler_options, samples_conditions
from melodygen.errors import MelodygenError
from melodygen.registry import SAMPLERS

#: Melodies sampled in one batch: large enough to use the cores, small enough to show progress.
CHUNK = 250


def resolve_device(name: str):
    """``auto`` → CUDA when available, else CPU; anything else must be a torch device that is here."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, ValueError, AssertionError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = text.split(". ")[0][:160]
        raise MelodygenError(f"device={name!r} is not available here ({reason}); use device=cpu") from None
    return device


def generate(cfg, overrides: list[str] = ()) -> list[Path]:
    """Check ``cfg``, sample, write ``sample_000.mid`` … into ``cfg.out_dir`` (or ``<run dir>/samples``)."""
    check_generate(cfg)
    s = cfg.samples

    from melodygen.generation.sampling import parse_primer, sample_melodies
    from melodygen.models import load_model
    from melodygen.music.render import write_melodies
    from melodygen.runtime.pool import progress_display

    primer = parse_primer(cfg.primer) if cfg.primer is not None else None
    model = load_model(cfg.ckpt_path, resolve_device(cfg.device))
    asked = samples_conditions(s)
    model.conditioning.check(asked)  # before any sampling: one line for a value the model does not know
    melodies, started = [], time.perf_counter()
    # a batch of CHUNK melodies at a time; one beam search gives its num_samples likeliest at once
    one_search = SAMPLERS.entry(s.strategy).extra.get("one_search", False)
    chunk = s.num_samples if one_search else CHUNK
    with progress_display("sampling", "melodies", enabled=s.num_samples > chunk) as bar:
        task = bar.add_task("sampling", total=s.num_samples, rate=0.0)
        for first in range(0, s.num_samples, chunk):
            count = min(chunk, s.num_samples - first)
            seed = None if cfg.seed is None else cfg.seed + first
            melodies += sample_melodies(
                model,
                count,
                s.length,
                temperature=s.temperature,
                top_k=s.top_k,
                top_p=s.top_p,
                primer=primer,
                seed=seed,
                strategy=s.strategy,
                beam_size=s.beam_size,
                conditions=asked,
                options=sampler_options(s),
                bars=s.bars,
                guidance=s.guidance,
            )
            bar.update(task, advance=count, rate=len(melodies) / (time.perf_counter() - started))
    out_dir = (
        Path(cfg.out_dir).expanduser() if cfg.out_dir is not None else Path(cfg.paths.output_dir) / "samples"
    )
    written = write_melodies(melodies, out_dir, png=cfg.png, max_pngs=cfg.max_pngs, wav=cfg.wav)
    if len(written) <= 40:
        for path in written:
            print(path)
    else:
        pictures = sum(path.suffix == ".png" for path in written)
        sounds = sum(path.suffix == ".wav" for path in written)
        print(
            f"wrote {len(melodies)} MIDI files, {pictures} piano rolls (the first ones, and a grid) and "
            f"{sounds} WAVs to {out_dir}"
        )
    return written


main = hydra_app("generate", generate, check_generate)

if __name__ == "__main__":
    main()
