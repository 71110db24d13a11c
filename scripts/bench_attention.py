"""Why the Transformer's positions are rotary: one attention layer with rotary embeddings against Music
Transformer's relative attention (Huang et al. 2019, with its "skewing"), forward and backward.

    python scripts/bench_attention.py [--lengths 64,256,512] [--batch 64] [--heads 4] [--head-size 16]

Both see relative positions. Rotary rotates the queries and keys (two elementwise products) and keeps
``scaled_dot_product_attention``'s fused causal kernel. Relative attention adds ``S_rel = skew(Q Erᵀ)``, an
``L × L`` bias for every head and row of the batch, which the fused kernel cannot take: it then runs the
plain kernel with an explicit mask. Prints the seconds of each (median of ``--repeats``, alternating) and
their ratio, on the CPU unless ``--device`` says otherwise; compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
import torch.nn.functional as F

from melodygen.models.transformer import rotate


def rotary(q, k, v, cos, sin):
    return F.scaled_dot_product_attention(rotate(q, cos, sin), rotate(k, cos, sin), v, is_causal=True)


def relative(q, k, v, embeddings):
    """Music Transformer's relative attention: ``softmax((Q Kᵀ + S_rel) / √D) V``, ``S_rel`` by skewing."""
    batch, heads, length, size = q.shape
    logits = q @ embeddings.transpose(0, 1)  # (B, H, L, L): query i against distances L-1 … 0
    skewed = F.pad(logits, (1, 0)).reshape(batch, heads, length + 1, length)[
        :, :, 1:
    ]  # S_rel[i, j] = dist i-j
    causal = torch.ones(length, length, dtype=torch.bool, device=q.device).tril()
    bias = skewed.masked_fill(~causal, float("-inf")) / size**0.5
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def timed(run, tensors, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        for t in tensors:
            t.grad = None
        started = time.perf_counter()
        run().sum().backward()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="64,256,512")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(
        f"one attention layer, batch {args.batch}, {args.heads} heads of {args.head_size}, forward + backward, "
        f"{device}, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"{'length':>6} {'rotary s':>9} {'relative s':>10} {'relative / rotary':>18} {'bias MB':>8}")
    for length in (int(n) for n in args.lengths.split(",")):
        torch.manual_seed(0)
        shape = (args.batch, args.heads, length, args.head_size)
        q, k, v = (torch.randn(shape, device=device, requires_grad=True) for _ in range(3))
        embeddings = torch.randn(length, args.head_size, device=device, requires_grad=True)
        angles = torch.outer(
            torch.arange(length, dtype=torch.float64),
            10_000.0 ** (-torch.arange(0, args.head_size, 2, dtype=torch.float64) / args.head_size),
        )
        cos, sin = angles.cos().float().to(device), angles.sin().float().to(device)
        rotary_s, relative_s = [], []
        for _ in range(args.repeats):
            rotary_s.append(timed(partial(rotary, q, k, v, cos, sin), (q, k, v), 1))
            relative_s.append(timed(partial(relative, q, k, v, embeddings), (q, k, v, embeddings), 1))
        a, b = statistics.median(rotary_s), statistics.median(relative_s)
        bias_mb = args.batch * args.heads * length * length * 4 / 2**20
        print(f"{length:6d} {a:9.4f} {b:10.4f} {b / a:17.2f}x {bias_mb:8.1f}", flush=True)


if __name__ == "__main__":
    main()
