"""Lightning ``fit`` throughput against a plain PyTorch loop: same model, same batches, same optimizer.

    python scripts/bench_train.py [--midi-dir data/folk] [--device auto] [--sizes default,performance_rnn]

Prints tokens/s (sequence elements per second) of both and their ratio (target: Lightning ≥ 0.97 ×
plain) on the device present (``auto``: CUDA when there is one), alternating the two a few times in one
process so machine drift hits both alike. The default model (2 × 128) is measured everywhere; on a GPU
also the ``experiment=performance_rnn`` size (3 × 512), unless ``--sizes`` says otherwise.
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


#: name → (hidden_size, num_layers, embedding_dim), as in conf/model/lstm.yaml and the experiment
SIZES = {"default": (128, 2, 32), "performance_rnn": (512, 3, 128)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: MelodyLSTM, batches, warmup: int, device: torch.device) -> float:
    model.to(device)
    opt = model.configure_optimizers()
    model.train()
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        # each batch goes to the device as it comes, as Lightning moves it (pinned memory, non-blocking)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        outputs, _ = model(x)
        loss = model.representation.loss(outputs, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
    _sync(device)
    return (len(batches) - warmup) / (time.perf_counter() - start)


class _Clock(pl.Callback):
    """The same span as the plain loop's: from the start of batch ``warmup`` to the end of the last."""

    def __init__(self, warmup: int, last: int, device: torch.device):
        self.warmup, self.last, self.device, self.start, self.end = warmup, last, device, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            _sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == self.last:
            _sync(self.device)
            self.end = time.perf_counter()


def lightning_fit(model: MelodyLSTM, batches, warmup: int, device: torch.device) -> float:
    clock = _Clock(warmup, len(batches) - 1, device)
    trainer = pl.Trainer(
        accelerator="cuda" if device.type == "cuda" else "cpu",
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
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu or cuda")
    parser.add_argument("--sizes", default=None, help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--batches", type=int, default=40, help="distinct real batches, cycled over the steps"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (default: 35 on the CPU, 300 on a GPU)"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    sizes = (args.sizes or ("default,performance_rnn" if cuda else "default")).split(",")
    where = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    distinct = real_batches(args.midi_dir, args.seq_len, args.batch_size, args.batches, args.representation)
    steps = args.steps or (300 if cuda else 35)
    batches = [distinct[i % len(distinct)] for i in range(args.warmup + steps)]
    tokens = args.batch_size * args.seq_len  # per step
    print(
        f"bench_train on {where}: batch {args.batch_size} x seq_len {args.seq_len}, "
        f"{steps} timed steps x {args.repeats} repeats"
    )
    for name in sizes:
        hidden_size, num_layers, embedding_dim = SIZES[name]
        pl.seed_everything(0, verbose=False)
        template = MelodyLSTM(
            args.representation, hidden_size=hidden_size, num_layers=num_layers, embedding_dim=embedding_dim
        )
        plain, lightning = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(copy.deepcopy(template), batches, args.warmup, device))
            lightning.append(lightning_fit(copy.deepcopy(template), batches, args.warmup, device))
        ratio = statistics.median(b / a for a, b in zip(plain, lightning))
        extra_ms = statistics.median(1000 / b - 1000 / a for a, b in zip(plain, lightning))
        print(
            f"  {name} ({num_layers} x {hidden_size}): plain {statistics.median(plain) * tokens:10,.0f} tokens/s, "
            f"Lightning {statistics.median(lightning) * tokens:10,.0f} tokens/s, "
            f"ratio {ratio:.3f} (target >= 0.97), Lightning's own time {extra_ms:+.2f} ms/step"
        )


if __name__ == "__main__":
    main()
