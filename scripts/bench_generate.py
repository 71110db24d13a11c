"""Stateful batched sampling (``sample_melodies``) against re-feeding the whole prefix at every step.

    .venv/bin/python scripts/bench_generate.py [--batch 8,64] [--length 256] [--hidden-size 256]
        [--num-layers 2] [--representation categorical] [--repeats 3] [--device cpu]

Both samplers run the same untrained ``MelodyLSTM`` in this one process; their repeats alternate so
that both see the same background load, and each time is the median of ``--repeats``. Compare the
ratio, not the seconds (these machines are noisy). The re-feeding baseline is the naive sampler: at
step ``t`` it runs all ``t`` elements so far through the network from an empty state and samples from
the last position, ``n²/2`` LSTM time steps for ``n`` elements against ``n`` for the stateful one.
Target: ≥ 50× for 256 notes with a 256×2 LSTM. ``--batch`` takes a comma-separated list.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from melodygen.generate import sample_elements, sample_melodies
from melodygen.models import MelodyLSTM

TARGET = 50.0


def refeed_sample(model: MelodyLSTM, batch: int, steps: int, seed: int) -> torch.Tensor:
    """The baseline: ``steps`` elements ``(batch, steps, F)``, each from a fresh pass over the stream so far."""
    representation = model.representation
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    x = representation.start_tensor(batch, device)[:, None]
    model.eval()
    with torch.inference_mode():
        for _ in range(steps):
            outputs, _ = model(x)
            element = representation.sample([o[:, -1] for o in outputs], generator=generator)
            x = torch.cat([x, element[:, None].to(x.dtype)], dim=1)
    return x[:, 1:]


def seconds(run, device: torch.device) -> float:
    started = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def bench_batch(model: MelodyLSTM, batch: int, length: int, repeats: int, device: torch.device) -> dict:
    # The baseline runs as many model steps as the stateful sampler did (for event, steps ≠ notes).
    steps = max(len(e) for e in sample_elements(model, batch, length, seed=0))
    sample_melodies(model, batch, 8, seed=0)  # warm-up
    stateful, refeed, decode = [], [], []
    for _ in range(repeats):
        # Both samplers are timed up to the sampled elements; decoding to melodies is the same for both.
        # the stateful run is short, so a burst of machine noise would dominate one timing: take the
        # median of five back-to-back runs for each long re-feed run
        stateful.append(
            statistics.median(
                seconds(lambda: sample_elements(model, batch, length, seed=0), device) for _ in range(5)
            )
        )
        refeed.append(seconds(lambda: refeed_sample(model, batch, steps, seed=0), device))
        elements = sample_elements(model, batch, length, seed=0)
        decode.append(seconds(lambda els=elements: [model.representation.decode(e) for e in els], device))
    result = {
        "steps": steps,
        "stateful": statistics.median(stateful),
        "refeed": statistics.median(refeed),
        "decode": statistics.median(decode),
    }
    if model.hparams.representation != "continuous":
        # Same seed, same draws: the two samplers agree unless float rounding flips a draw.
        ours = sample_elements(model, 1, length, seed=0)[0]
        theirs = refeed_sample(model, 1, len(ours), seed=0)[0].cpu().numpy()
        result["agree"] = float(np.all(ours == theirs, axis=-1).mean())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--representation", default="categorical", choices=["categorical", "continuous", "event"]
    )
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--batch", default="8,64", help="melodies per batch; a comma-separated list")
    parser.add_argument("--length", type=int, default=256, help="notes (for event: onsets) per melody")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(0)
    model = MelodyLSTM(args.representation, hidden_size=args.hidden_size, num_layers=args.num_layers)
    model = model.to(device).eval()
    print(
        f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; untrained "
        f"{args.representation} LSTM {args.hidden_size}x{args.num_layers}; {args.length} notes per melody; "
        f"median of {args.repeats}, alternating"
    )
    print(
        f"{'batch':>5} {'steps':>5} {'stateful s':>10} {'re-feed s':>10} {'speed-up':>9} {'same draws':>10}"
        f" {'decode s':>9}"
    )
    for batch in (int(b) for b in args.batch.split(",")):
        r = bench_batch(model, batch, args.length, args.repeats, device)
        ratio = r["refeed"] / r["stateful"]
        agree = f"{r['agree']:.0%}" if "agree" in r else "-"
        mark = "" if ratio >= TARGET else f"  (below the {TARGET:.0f}x target)"
        print(
            f"{batch:5d} {r['steps']:5d} {r['stateful']:10.3f} {r['refeed']:10.2f} {ratio:8.1f}x {agree:>10}"
            f" {r['decode']:9.3f}{mark}",
            flush=True,
        )


if __name__ == "__main__":
    main()
