"""Lightning ``fit`` throughput against a plain PyTorch loop: same model, same batches, same optimizer.

    python scripts/bench_train.py [--midi-dir data/folk] [--device auto] [--models lstm,gru,transformer]

Prints tokens/s (sequence elements per second) and the ratio to the plain loop (target: ≥ 0.97) of two
Lightning runs: a bare ``pl.Trainer``, and the Trainer ``melodygen-train`` builds (its loggers, callbacks,
checkpoint writer and the callbacks that guard a run, from the composed ``conf/train.yaml``). All three
alternate a few times in one process on the device present (``auto``: CUDA when there is one), so machine
drift hits them alike. Each architecture's default model (``model=lstm``, ``gru``, ``transformer``) is
measured everywhere; on a GPU also the ``experiment=performance_rnn`` size (3 × 512 LSTM), unless
``--models`` says otherwise. Each run steps its learning-rate schedule as its model configures it (the
Transformer's warm-up, per step).
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
from melodygen.models import MelodyModel

CLIP = 1.0  # the default trainer.gradient_clip_val


def real_batches(midi_dir: Path, seq_len: int, batch_size: int, count: int, representation: str):
    with tempfile.TemporaryDirectory() as cache:
        dm = MelodyDataModule(
            midi_dir=str(midi_dir),
            cache_dir=cache,
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


#: name → the model's settings: each architecture's defaults, and the experiment's LSTM
MODELS = {
    "lstm": {"architecture": "lstm"},
    "gru": {"architecture": "gru"},
    "transformer": {"architecture": "transformer"},
    "performance_rnn": {"architecture": "lstm", "hidden_size": 512, "num_layers": 3, "embedding_dim": 128},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: MelodyModel, batches, warmup: int, device: torch.device) -> float:
    model.to(device)
    configured = model.configure_optimizers()
    opt = configured["optimizer"] if isinstance(configured, dict) else configured
    stepped = configured.get("lr_scheduler", {}) if isinstance(configured, dict) else {}
    schedule = stepped.get("scheduler") if stepped.get("interval") == "step" else None
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
        if schedule is not None:
            schedule.step()
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


def lightning_fit(model: MelodyModel, batches, warmup: int, device: torch.device) -> float:
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


def melodygen_fit(model: MelodyModel, batches, warmup: int, device: torch.device, precision: str) -> float:
    """The same span, timed in the Trainer that ``melodygen-train`` builds from its default config (the
    model's precision kept as the other two run it: full)."""
    from hydra import compose, initialize_config_dir

    from melodygen.cli.app import config_dir
    from melodygen.config import register_configs
    from melodygen.training.interrupts import DataOrder, StopOnNonFinite, StopOnSignal
    from melodygen.training.requeue import SaveOnPreemption
    from melodygen.training.train import build_trainer

    register_configs()
    clock = _Clock(warmup, len(batches) - 1, device)
    with tempfile.TemporaryDirectory() as out:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[
                    f"paths.root_dir={out}", f"paths.output_dir={out}", f"data.midi_dir={out}",
                    f"trainer.accelerator={'cuda' if device.type == 'cuda' else 'cpu'}", "trainer.devices=1",
                    f"trainer.precision={precision}", "trainer.max_epochs=1", "trainer.limit_val_batches=0",
                    "trainer.num_sanity_val_steps=0", "trainer.enable_model_summary=false",
                    "callbacks.early_stopping=null",  # it needs val/loss, at the epoch's end (untimed)
                ],
            )  # fmt: skip
        guards = [SaveOnPreemption(Path(out)), StopOnSignal(Path(out)), DataOrder(), StopOnNonFinite()]
        trainer = build_trainer(cfg, [clock, *guards])
        trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))
    return (len(batches) - warmup) / (clock.end - clock.start) if clock.end > clock.start else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi-dir", type=Path, default=Path("data/folk"))
    parser.add_argument("--representation", default="categorical")
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu or cuda")
    parser.add_argument("--models", default=None, help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--batches", type=int, default=40, help="distinct real batches, cycled over the steps"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (default: 100 on the CPU, 300 on a GPU)"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    if not args.midi_dir.is_dir():
        raise SystemExit(f"error: {args.midi_dir} is not a folder (run `make data` or pass --midi-dir)")
    cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    names = (args.models or ("lstm,gru,transformer" + (",performance_rnn" if cuda else ""))).split(",")
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise SystemExit(f"error: --models {unknown[0]}: choose among {', '.join(MODELS)}")
    where = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    distinct = real_batches(args.midi_dir, args.seq_len, args.batch_size, args.batches, args.representation)
    steps = args.steps or (300 if cuda else 100)
    batches = [distinct[i % len(distinct)] for i in range(args.warmup + steps)]
    tokens = args.batch_size * args.seq_len  # per step
    print(
        f"bench_train on {where}: batch {args.batch_size} x seq_len {args.seq_len}, "
        f"{steps} timed steps x {args.repeats} repeats"
    )
    for name in names:
        pl.seed_everything(0, verbose=False)
        template = MelodyModel(args.representation, **MODELS[name])
        plain, lightning, melodygen = [], [], []
        runners = [
            (plain, plain_loop),
            (lightning, lightning_fit),
            (melodygen, lambda *a: melodygen_fit(*a, precision="32-true")),
        ]
        for repeat in range(args.repeats):  # each repeat starts with the next of the three: no fixed order
            for results, fit in runners[repeat % 3 :] + runners[: repeat % 3]:
                results.append(fit(copy.deepcopy(template), batches, args.warmup, device))
        hp = template.hparams
        size = f"{hp.num_layers} x {hp.hidden_size}, {sum(p.numel() for p in template.parameters()):,} parameters"
        print(f"  {name} ({size}): plain loop {statistics.median(plain) * tokens:10,.0f} tokens/s")
        for label, runs in (("bare Lightning", lightning), ("melodygen-train", melodygen)):
            ratio = statistics.median(b / a for a, b in zip(plain, runs))  # each repeat against its own plain
            extra_ms = statistics.median(1000 / b - 1000 / a for a, b in zip(plain, runs))
            print(
                f"    {label:15s} {statistics.median(runs) * tokens:10,.0f} tokens/s, ratio {ratio:.3f} "
                f"(target >= 0.97), {extra_ms:+.2f} ms/step over the plain loop"
            )


if __name__ == "__main__":
    main()
