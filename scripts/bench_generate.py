"""Stateful batched sampling (``sample_melodies``) against re-feeding the whole prefix at every step.

    .venv/bin/python scripts/bench_generate.py [--models lstm,gru,transformer] [--batch 8,64]
        [--length 256] [--representation categorical] [--repeats 3] [--device cpu]

Both samplers run the same untrained model in this one process; their repeats alternate so that both see
the same background load, and each time is the median of ``--repeats``. Compare the ratio, not the
seconds (these machines are noisy). The re-feeding baseline is the naive sampler: at step ``t`` it runs
all ``t`` elements so far through the network from an empty state and samples from the last position,
``n²/2`` positions for ``n`` elements against ``n`` for the stateful one (the recurrent networks carry
their state, the Transformer its key/value cache). Targets: ≥ 50× for 256 notes with a 256×2 LSTM or
GRU, at batch 8 and 64; ≥ 20× for 512 elements with the default Transformer (its context 512, so the
cache grows to every element), at batch 64. ``--batch`` and ``--length``, when given, apply to every
model. "same draws" is the share of elements both samplers drew alike from the same seed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from melodygen.generation.sampling import sample_elements, sample_melodies
from melodygen.models import MelodyModel

#: name → (the model's settings, notes per melody, batches, target speed-up)
BENCHES = {
    "lstm": ({"architecture": "lstm", "hidden_size": 256, "num_layers": 2}, 256, (8, 64), 50.0),
    "gru": ({"architecture": "gru", "hidden_size": 256, "num_layers": 2}, 256, (8, 64), 50.0),
    "transformer": ({"architecture": "transformer", "context": 512}, 512, (64,), 20.0),
}


def refeed_sample(model: MelodyModel, batch: int, steps: int, seed: int) -> torch.Tensor:
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


def bench_batch(model: MelodyModel, batch: int, length: int, repeats: int, device: torch.device) -> dict:
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
        refed: list[torch.Tensor] = []
        refeed.append(
            seconds(lambda out=refed: out.append(refeed_sample(model, batch, steps, seed=0)), device)
        )
        elements = sample_elements(model, batch, length, seed=0)
        decode.append(seconds(lambda els=elements: [model.representation.decode(e) for e in els], device))
    result = {
        "steps": steps,
        "stateful": statistics.median(stateful),
        "refeed": statistics.median(refeed),
        "decode": statistics.median(decode),
    }
    if model.hparams.representation != "continuous":
        # Same seed, same draws, row for row: the two agree unless float rounding flips a draw (and every
        # draw after a flipped one differs, since each continues its own melody)
        theirs = refed[0].cpu().numpy()
        same = [np.all(ours == theirs[row, : len(ours)], axis=-1) for row, ours in enumerate(elements)]
        result["agree"] = float(np.concatenate(same).mean())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--representation", default="categorical", choices=["categorical", "continuous", "event"]
    )
    parser.add_argument("--models", default=",".join(BENCHES), help=f"of {', '.join(BENCHES)}")
    parser.add_argument("--batch", default=None, help="melodies per batch; a comma-separated list")
    parser.add_argument("--length", type=int, default=None, help="notes (for event: onsets) per melody")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    names = args.models.split(",")
    if not set(names) <= set(BENCHES):
        raise SystemExit(f"error: --models {args.models}: choose among {', '.join(BENCHES)}")
    print(
        f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; untrained "
        f"{args.representation} models; median of {args.repeats}, alternating"
    )
    print(
        f"{'model':>34} {'batch':>5} {'steps':>5} {'stateful s':>10} {'re-feed s':>10} {'speed-up':>9}"
        f" {'same draws':>10} {'decode s':>9}"
    )
    for name in names:
        settings, length, batches, target = BENCHES[name]
        length = args.length or length
        batches = [int(b) for b in args.batch.split(",")] if args.batch else batches
        torch.manual_seed(0)
        model = MelodyModel(args.representation, **settings).to(device).eval()
        hp = model.hparams
        label = f"{name} {hp.num_layers}x{hp.hidden_size}, {length} notes"
        for batch in batches:
            r = bench_batch(model, batch, length, args.repeats, device)
            ratio = r["refeed"] / r["stateful"]
            agree = f"{r['agree']:.0%}" if "agree" in r else "-"
            mark = "" if ratio >= target else f"  (below the {target:.0f}x target)"
            print(
                f"{label:>34} {batch:5d} {r['steps']:5d} {r['stateful']:10.3f} {r['refeed']:10.2f} "
                f"{ratio:8.1f}x {agree:>10} {r['decode']:9.3f}{mark}",
                flush=True,
            )


if __name__ == "__main__":
    main()
