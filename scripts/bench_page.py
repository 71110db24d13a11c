"""How fast the exported page writes a melody in the browser, for each architecture, and how big its folder is.

    python scripts/bench_page.py [--notes 256] [--repeats 5] [--out outputs/bench_page]

Exports the pretrained folk-lstm and folk-transformer, and a GRU of folk-lstm's shape (untrained: the time
of a step does not depend on the weights), each with its page; opens each page in headless Chromium from
``file://``, writes a ``--notes``-note melody once to warm up and then ``--repeats`` times, and prints the
median seconds in the page beside the same procedure in Python (onnxruntime, :mod:`melodygen.export.draws`),
their ratio, the load time of the page and the folder's size. Needs chromium and playwright (``make setup``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from melodygen.export.draws import PageRequest, generate
from melodygen.export.folder import read_export, write_export
from melodygen.export.page import folder_size, write_page
from melodygen.models import MelodyModel, load_model
from melodygen.pretrained import checkpoint_of

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def export(name: str, out: Path) -> Path:
    folder = out / name
    if name == "gru":
        lstm = load_model(str(checkpoint_of("folk-lstm")), "cpu").hparams
        model = MelodyModel(
            "categorical",
            architecture="gru",
            hidden_size=lstm.hidden_size,
            num_layers=lstm.num_layers,
            embedding_dim=lstm.embedding_dim,
            bar_position=True,
        ).eval()
        ckpt = "gru (untrained, folk-lstm's shape)"
    else:
        model, ckpt = load_model(str(checkpoint_of(name)), "cpu"), str(checkpoint_of(name))
    description = write_export(model, ckpt, folder, check_steps=8)
    write_page(folder, description)
    return folder


def in_page(browser, folder: Path, request: PageRequest, repeats: int) -> tuple[float, list[float]]:
    page = browser.new_page()
    started = time.perf_counter()
    page.goto((folder / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=yes]", timeout=120_000)
    loaded = time.perf_counter() - started
    page.fill("#length", str(request.length))
    page.fill("#top-p", str(request.top_p))
    times = []
    for i in range(repeats + 1):
        page.fill("#seed", str(i))
        page.click("#generate")
        page.wait_for_selector(f"body[data-generated='{i + 1}']", timeout=120_000)
        seconds = float(page.text_content("#result").split('"seconds":')[1].rstrip("}"))
        if i:  # the first run warms up
            times.append(seconds)
    page.close()
    return loaded, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="outputs/bench_page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    request = PageRequest(length=args.notes, top_p=0.95)
    rows = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        for name in ("folk-lstm", "gru", "folk-transformer"):
            folder = export(name, out)
            loaded, times = in_page(browser, folder, request, args.repeats)
            exported = read_export(folder)
            python = []
            for i in range(1, args.repeats + 1):
                started = time.perf_counter()
                generate(exported, PageRequest(seed=i, length=args.notes, top_p=0.95))
                python.append(time.perf_counter() - started)
            page_s, python_s = statistics.median(times), statistics.median(python)
            size = folder_size(folder)
            rows.append((name, exported.description["architecture"], loaded, page_s, python_s, size / 1e6))
        browser.close()
    print(f"{args.notes} notes, top-p 0.95, median of {args.repeats} (Chromium headless, 1 thread)")
    print(
        f"{'model':<18}{'network':<13}{'page load s':>12}{'page s':>9}{'python s':>10}{'page/python':>13}{'folder MB':>11}"
    )
    for name, network, loaded, page_s, python_s, size in rows:
        print(
            f"{name:<18}{network:<13}{loaded:>12.2f}{page_s:>9.3f}{python_s:>10.3f}{page_s / python_s:>13.2f}{size:>11.1f}"
        )


if __name__ == "__main__":
    main()
