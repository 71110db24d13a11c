"""``melodygen-generate``: sample melodies from a checkpoint and write MIDI files and piano rolls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from melodygen.cli.app import CONFIG_DIR, user_errors_as_one_line
from melodygen.errors import MelodygenError


@dataclass
class GenerateConfig:
    """Schema of ``conf/generate.yaml``: a misspelled key or a wrongly typed value fails at compose time."""

    ckpt_path: str = MISSING
    num_samples: int = 4
    length: int = 64
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    primer: str | None = None
    seed: int | None = 0
    out_dir: str | None = None
    png: bool = True
    device: str = "auto"


ConfigStore.instance().store(name="generate_schema", node=GenerateConfig)


def resolve_device(name: str):
    """``auto`` → CUDA when available, else CPU; anything else must be a torch device string."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise MelodygenError(f"device={name!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise MelodygenError(
            f"device={name!r} is not available: {torch.cuda.device_count()} CUDA device(s) here"
        )
    return device


def generate(cfg: DictConfig, run_dir: Path) -> list[Path]:
    """Check ``cfg``, sample, write ``sample_000.mid`` … into ``cfg.out_dir`` (or ``run_dir/samples``)."""
    from melodygen.generate import check_sampling_args, load_model, parse_primer, sample_melodies
    from melodygen.render import write_melodies

    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise MelodygenError("ckpt_path is required, e.g. melodygen-generate ckpt_path=path/to/last.ckpt")
    check_sampling_args(cfg.num_samples, cfg.length, cfg.temperature, cfg.top_k, cfg.top_p)
    primer = parse_primer(cfg.primer) if cfg.primer is not None else None
    model = load_model(cfg.ckpt_path, resolve_device(cfg.device))
    melodies = sample_melodies(
        model,
        cfg.num_samples,
        cfg.length,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        top_p=cfg.top_p,
        primer=primer,
        seed=cfg.seed,
    )
    out_dir = Path(cfg.out_dir).expanduser() if cfg.out_dir is not None else run_dir / "samples"
    return write_melodies(melodies, out_dir, png=cfg.png)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    for path in generate(cfg, Path(HydraConfig.get().runtime.output_dir)):
        print(path)


if __name__ == "__main__":
    main()
