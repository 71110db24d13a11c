"""Lightning ``fit`` throughput against a plain PyTorch loop: same model, same batches, same optimizer.

    python scripts/bench_train.py [--midi-dir data/folk] [--hidden-size 128] [--num-layers 2] [--batches 40]

Prints steps/s of both and their ratio (target: Lightning ≥ 0.97 × plain), alternating the two a few
times in one process so machine drift hits both alike.
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from melodygen.data.datamodule import MelodyDataModule
from melodygen.models import MelodyLSTM

CLIP = 1.0  # the default trainer.gradient_clip_val


def real_batches(midi_dir: Path, seq_len: int, batch_size: int, count: int, representation: str):
    with tempfile.TemporaryDirectory() as cache:
        dm = MelodyDataModule(
            str(midi_dir),
            cache,
            representation=representation,
            seq_len=seq_len,
            batch_size=batch_size,
            progress=False,
        )
        dm.prepare_data()
        dm.setup()
        batches = []
        for batch in dm.train_dataloader():
            batches.append(batch)
            if len(batches) == count:
                break
    return batches


def plain_loop(model: MelodyLSTM, batches, warmup: int) -> float:
    opt = model.configure_optimizers()
    model.train()
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            start = time.perf_counter()
        outputs, _ = model(x)
        loss = model.representation.loss(outputs, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
    return (len(batches) - warmup) / (time.perf_counter() - start)


class _Clock(pl.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_fit(model: MelodyLSTM, batches, warmup: int) -> float:
    clock = _Clock(warmup)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=CLIP,
        callbacks=[clock],
    )
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))
    return (len(batches) - warmup) / (clock.end - clock.start) if clock.end > clock.start else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--representation", default="categorical")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    batches = real_batches(args.midi_dir, args.seq_len, args.batch_size, args.batches, args.representation)
    pl.seed_everything(0, verbose=False)
    template = MelodyLSTM(
        args.representation,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        embedding_dim=args.embedding_dim,
    )
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(copy.deepcopy(template), batches, args.warmup))
        lightning.append(lightning_fit(copy.deepcopy(template), batches, args.warmup))
    ratios = [b / a for a, b in zip(plain, lightning)]
    print(
        f"model {args.representation} {args.num_layers}x{args.hidden_size}, batch {args.batch_size} x "
        f"seq_len {args.seq_len}, {len(batches) - args.warmup} timed steps x {args.repeats} repeats, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"plain PyTorch loop : {statistics.median(plain):8.2f} steps/s  (runs: "
        + ", ".join(f"{v:.2f}" for v in plain)
        + ")"
    )
    print(
        f"Lightning fit      : {statistics.median(lightning):8.2f} steps/s  (runs: "
        + ", ".join(f"{v:.2f}" for v in lightning)
        + ")"
    )
    print(f"ratio Lightning / plain: {statistics.median(ratios):.3f}  (target >= 0.97)")


if __name__ == "__main__":
    main()
