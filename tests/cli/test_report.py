"""Repeats, baselines and the listening report, on a real 2-config × 3-seed sweep (and a failing job).

The browser test opens the report in headless Chromium (Debian's ``chromium``: ``make test`` installs it
where it can) and is skipped, saying so, where there is none (it fails instead under ``CI=true``).
"""

import csv
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from helpers import QUIET_SMALL_RUN, run_cli
from helpers import run_compare as cli
from scipy import stats as scipy_stats

from melodygen.cli.compare import compare

TINY = [
    *QUIET_SMALL_RUN, "logger=none", "trainer.max_epochs=2", "test=false", "samples.num_samples=2",
    "samples.length=16", "callbacks.sample_monitor.num_samples=2", "callbacks.sample_monitor.length=16",
]  # fmt: skip


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """``-m seed=0,1,2 model.hidden_size=8,16``, a one-job sweep that fails, and a job still running."""
    from conftest import write_tune_folder

    root = tmp_path_factory.mktemp("repeats")
    tunes = write_tune_folder(root / "tunes", seed=4)
    proc = run_cli(
        "train", root, "-m", f"data.midi_dir={tunes}", *TINY, "seed=0,1,2", "model.hidden_size=8,16"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    failing = run_cli(
        "train", root, "-m", f"data.midi_dir={tunes}", *TINY, "sweep.name=long", "data.seq_len=3000"
    )
    assert failing.returncode == 2, failing.stderr[-3000:]
    main, failed = sorted(
        (root / "outputs" / "train" / "multiruns").iterdir(), key=lambda p: p.name.endswith("long")
    )
    running = main / "6"  # as a job that has started: its config, and no result yet
    shutil.copytree(main / "0" / ".hydra", running / ".hydra")
    return {"root": root, "tunes": tunes, "main": main, "failed": failed}


def pitch_bits(job: Path) -> float:
    return json.loads((job / "metrics.json").read_text())["val/pitch_bits"]


def test_two_configs_by_three_seeds_are_two_rows_of_three(sweeps, tmp_path):
    main = sweeps["main"]
    proc = cli(main, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "7 runs in 2 groups of repeats (seed), best mean val/pitch_bits first" in proc.stdout
    assert "unfinished: 6 (seed=0,model.hidden_size=8)" in proc.stdout
    found = compare([str(main)], out=str(tmp_path), plots=False)
    rows = found["rows"]
    assert len(rows) == 2 and [row["stats"].n for row in rows] == [3, 3]
    for row in rows:
        size = row["group"].settings["model.hidden_size"]
        jobs = [main / str(n) for n in range(6)]
        values = [
            pitch_bits(j)
            for j in jobs
            if f"model.hidden_size={size}" in (j / ".hydra/overrides.yaml").read_text()
        ]
        assert len(values) == 3
        s = row["stats"]
        assert s.mean == pytest.approx(np.mean(values)) and s.sd == pytest.approx(np.std(values, ddof=1))
        half = scipy_stats.t.ppf(0.975, 2) * s.sd / np.sqrt(3)
        assert (s.low, s.high) == pytest.approx((s.mean - half, s.mean + half))
        assert f"{s.mean:.4f} ± {s.sd:.4f}" in proc.stdout and f"[{s.low:.4f}, {s.high:.4f}]" in proc.stdout
    assert rows[0]["stats"].mean <= rows[1]["stats"].mean  # ranked by the mean
    with (tmp_path / "compare.csv").open() as handle:
        table = list(csv.DictReader(handle))
    groups = [r for r in table if r["kind"] == "group"]
    runs = [r for r in table if r["kind"] == "run"]
    assert [g["n"] for g in groups] == ["3", "3"] and len(runs) == 7
    assert float(groups[0]["val/pitch_bits"]) == pytest.approx(rows[0]["stats"].mean)
    assert float(groups[0]["val/pitch_bits low"]) == pytest.approx(rows[0]["stats"].low)
    assert {r["group"] for r in runs} == {g["group"] for g in groups}
    assert [r["status"] for r in runs].count("unfinished") == 1
    # one row per run on asking
    alone = cli(main, "--out", tmp_path, "--no-group", "--no-plots")
    assert "7 runs, best val/pitch_bits first" in alone.stdout and "groups of repeats" not in alone.stdout


def test_the_plot_shows_each_configurations_mean_and_interval(sweeps, tmp_path):
    proc = cli(sweeps["main"], "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["compare_val_pitch_bits_by_model_hidden_size.png"]  # no plot against the seed


def test_a_baseline_gives_the_paired_difference_and_says_when_it_holds_zero(sweeps, tmp_path):
    main = sweeps["main"]
    found = compare([str(main)], out=str(tmp_path), plots=False, baseline="hidden_size=8")
    (other,) = [row for row in found["rows"] if "difference" in row]
    base = next(row for row in found["rows"] if "difference" not in row)
    assert base["group"].label == "hidden_size=8" and other["group"].label == "hidden_size=16"
    by_seed = {
        size: {g.overrides["seed"]: g.metrics["val/pitch_bits"] for g in row["group"].runs if g.metrics}
        for size, row in (("16", other), ("8", base))
    }
    diffs = [by_seed["16"][seed] - by_seed["8"][seed] for seed in "012"]
    d = other["difference"]
    assert d.test == "paired t" and d.n == 3 and d.delta == pytest.approx(np.mean(diffs))
    assert d.p == pytest.approx(
        scipy_stats.ttest_rel([by_seed["16"][s] for s in "012"], [by_seed["8"][s] for s in "012"]).pvalue
    )
    proc = cli(main, "--out", tmp_path, "--no-plots", "--baseline", "model.hidden_size=8")
    assert proc.returncode == 0, proc.stderr
    assert "Δ vs" in proc.stdout and "paired t, n=3" in proc.stdout
    assert f"{d.delta:+.4f}" in proc.stdout and f"[{d.low:.4f}, {d.high:.4f}]" in proc.stdout
    verdict = "0 in interval" if d.includes_zero else ("better" if d.delta < 0 else "worse")
    assert verdict in proc.stdout
    # a run as the baseline is the group it belongs to; one row per run gives plain differences
    assert compare([str(main)], out=str(tmp_path), plots=False, baseline="0")["rows"][0]["group"]
    runs = cli(main, "--out", tmp_path, "--no-plots", "--no-group", "--baseline", "0")
    assert "Δ vs run 0" in runs.stdout and "baseline" in runs.stdout
    wrong = cli(main, "--out", tmp_path, "--no-plots", "--baseline", "hidden_size=99")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        "error: --baseline hidden_size=99: no such group; the groups are hidden_size=8, hidden_size=16"
    ]


def test_evaluate_gives_intervals_and_the_paired_difference_per_melody(sweeps):
    main, root = sweeps["main"], sweeps["root"]
    ckpts = [json.loads((main / str(n) / "metrics.json").read_text())["best_checkpoint"] for n in (0, 1)]
    proc = run_cli("evaluate", root, f"ckpt_path=[{ckpts[0]},{ckpts[1]}]", f"data.midi_dir={sweeps['tunes']}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bootstrap over the melodies" in proc.stdout and "Δ vs the first" in proc.stdout
    (run,) = (root / "outputs" / "evaluate" / "runs").iterdir()
    first, second = json.loads((run / "evaluation.json").read_text())["checkpoints"]
    for result in (first, second):
        low, high = result["interval"]["all/bits"]
        assert low < result["overall"]["all/bits"] < high
    diff = second["difference_to_first"]
    assert diff["all/bits"] == pytest.approx(second["overall"]["all/bits"] - first["overall"]["all/bits"])
    low, high = diff["interval"]
    assert low <= diff["all/bits"] <= high and 0 < diff["p"] <= 1
    assert diff["includes_zero"] == (low <= 0 <= high)
    assert "difference_to_first" not in first


class _Page(HTMLParser):
    """The elements a report's page holds: tags with their attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _read_page(path: Path) -> list[tuple[str, dict]]:
    page = _Page()
    page.feed(path.read_text())
    return page.tags


def _wavs(*sweeps: Path) -> list[Path]:
    return sorted(w for s in sweeps for w in s.glob("*/samples/**/*.wav"))


@pytest.fixture(scope="module")
def report(sweeps, tmp_path_factory):
    out = tmp_path_factory.mktemp("compared")
    proc = cli(sweeps["main"], sweeps["failed"], "--out", out, "--html")
    assert proc.returncode == 0, proc.stderr
    return out / "report" / "index.html"


def test_the_report_links_every_file_and_loads_nothing_from_the_network(sweeps, report):
    tags = _read_page(report)
    links = [a.get("src") or a.get("href") for _, a in tags if a.get("src") or a.get("href")]
    assert links and not [link for link in links if re.match(r"[a-z]+://|//", link)]  # nothing remote
    files = [link for link in links if not link.startswith("#")]
    assert all((report.parent / link).resolve().is_file() for link in files), files
    wavs = _wavs(sweeps["main"], sweeps["failed"])
    audio = [a["src"] for tag, a in tags if tag == "audio"]
    assert len(wavs) == 6 * (2 * 2 + 2)  # 2 samples per epoch for 2 epochs, and 2 after training, per job
    assert sorted((report.parent / src).resolve() for src in audio) == [w.resolve() for w in wavs]
    text = report.read_text()
    assert "base64" not in text and report.stat().st_size < 200_000
    assert (
        "unfinished (running, or stopped before the end)" in text and "longer than the training split" in text
    )
    assert "real tunes" in text and "pitch_class_entropy" in text  # the samples' statistics beside them
    assert (report.parent / "plots" / "compare_val_pitch_bits_by_model_hidden_size.png").is_file()


def test_a_copied_report_stands_on_its_own(sweeps, tmp_path):
    proc = cli(
        sweeps["main"], "--out", tmp_path, "--no-plots", "--html-dir", tmp_path / "copied", "--html-copy"
    )
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "copied" / "index.html"
    sources = [a.get("src") or a.get("href") for _, a in _read_page(page) if a.get("src") or a.get("href")]
    files = [s for s in sources if not s.startswith("#")]
    assert files and all(s.startswith("media/") and (page.parent / s).is_file() for s in files)
    assert len(list((page.parent / "media").rglob("*.wav"))) == len(_wavs(sweeps["main"]))


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_report_works_in_a_real_browser(sweeps, report, tmp_path):
    if _chromium() is None:  # a CI machine must have it: skipping there would pass without the browser
        missing = "no chromium: 'apt-get install chromium' (make test does, as root)"
        pytest.fail(missing) if os.environ.get("CI") == "true" else pytest.skip(missing)

    def browse(*args, anchor=""):
        return subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
             *args, f"{report.as_uri()}{anchor}"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip

    # the DOM after the page's script ran: sorted by the mean pitch bits, worst first, and every group open
    shown = browse("--dump-dom", anchor="#sort=val/pitch_bits&order=desc&expand=all")
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout
    assert 'data-ready="yes"' in dom and "data-errors" not in dom
    assert not re.findall(r"CONSOLE.*(Uncaught|Error)", shown.stderr), shown.stderr[-2000:]
    assert 'data-sorted-by="val/pitch_bits"' in dom and 'data-order="desc"' in dom
    assert dom.count('class="group"') == 3  # the two configurations and the failed one
    rows = re.findall(r'<tr class="group".*?</tr>', dom)
    means = [re.search(r'<td class="mean" data-sort="([^"]*)"', row).group(1) for row in rows]
    assert means[2] == "" and [float(m) for m in means[:2]] == sorted(map(float, means[:2]), reverse=True)
    page = _Page()
    page.feed(dom)
    runs = [a for tag, a in page.tags if tag == "tr" and "run" in a.get("class", "").split()]
    assert len(runs) == 8 and not [
        a for a in runs if "hidden" in a
    ]  # every run shown, in any attribute order
    assert dom.count("<audio") == len(_wavs(sweeps["main"], sweeps["failed"]))
    # and a picture of it, as a person sees it
    picture = tmp_path / "report.png"
    drawn = browse(f"--screenshot={picture}", "--window-size=1280,900")
    assert drawn.returncode == 0, drawn.stderr[-2000:]
    assert picture.read_bytes()[:4] == b"\x89PNG" and picture.stat().st_size > 20_000
