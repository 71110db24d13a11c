"""The page an export writes, in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright)
opens ``index.html`` from ``file://``, generates, and writes the notes Python writes with the same seed
(:mod:`melodygen.export.draws`); the MIDI it offers reads back with pretty_midi; nothing leaves the machine
and nothing is logged as an error. Skipped, saying so, without chromium (it fails instead under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from helpers import run_cli

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from melodygen.errors import MelodygenError  # noqa: E402
from melodygen.export.draws import Draws, PageRequest, generate, parse_primer, pick  # noqa: E402
from melodygen.export.folder import read_export, write_export  # noqa: E402
from melodygen.export.page import pageless, runtime_archive, write_page  # noqa: E402
from melodygen.music.melody import REST  # noqa: E402
from melodygen.representations.base import sample_logits  # noqa: E402

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]  # fmt: skip


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if _chromium() is None:  # a CI machine must have it: skipping there would pass without the browser
        missing = "no chromium: 'apt-get install chromium' (make test does, as root)"
        pytest.fail(missing) if os.environ.get("CI") == "true" else pytest.skip(missing)
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_checkpoint):
    """Three exports with their pages: a freshly trained LSTM and the pretrained conditioned Transformer, by
    ``melodygen-export``; a GRU on the event representation that reads bars left, written here."""
    from melodygen.models import MelodyModel
    from melodygen.music.conditions import Conditioning

    root = tmp_path_factory.mktemp("pages")
    for name, source in (
        ("lstm", f"ckpt_path={tiny_checkpoint.path}"),
        ("conditioned", "pretrained=folk-transformer-conditioned"),
    ):
        proc = run_cli("export", root, source, f"out_dir={root / name}", "check_steps=8")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"open {(root / name / 'index.html').as_uri()} to generate in your browser" in proc.stdout
    card = (root / "conditioned" / "card.md").read_text()  # the pretrained model's own card, and the check
    assert card.startswith("# folk-transformer-conditioned\n") and "## Check" in card
    assert (root / "lstm" / "card.md").read_text().startswith("# lstm on categorical")
    # a model that knew its keys in C (data.transpose_to_c): asked for D major, it is asked for C major
    labels = [
        {"meter": m, "key": k, "style": "none"}
        for m, k in (("3/4", "C major"), ("6/8", "C minor"), ("6/8", "C minor"))
    ]
    conditioning = Conditioning.fit(["meter", "key"], labels)
    torch.manual_seed(0)
    model = MelodyModel(
        "event",
        architecture="gru",
        hidden_size=24,
        bar_position=True,
        bars_left=True,
        transpose_to_c=True,
        **conditioning.hparams(),
    ).eval()
    description = write_export(model, "gru-event.ckpt", root / "event", check_steps=8)
    write_page(root / "event", description)
    return root


class Page:
    """A page open in the browser, with what it logged and what it asked for."""

    def __init__(self, browser, folder: Path):
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.logged: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: self.logged.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        self.page.on("pageerror", lambda error: self.logged.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto((folder / "index.html").as_uri())
        self.page.wait_for_selector("body[data-ready=yes], body[data-error]", timeout=120_000)
        assert self.page.get_attribute("body", "data-error") is None, self.page.inner_text("#status")
        self.generated = 0

    def generate(self, request: PageRequest) -> dict:
        fields = {
            "seed": request.seed, "temperature": request.temperature, "top-k": request.top_k,
            "top-p": request.top_p, "length": request.length, "bars": request.bars or "", "primer": request.primer,
        }  # fmt: skip
        for field, value in fields.items():
            self.page.fill(f"#{field}", str(value))
        for select in self.page.query_selector_all("select[data-condition]"):
            name = select.get_attribute("data-condition")
            select.select_option(request.conditions.get(name, ""))
        self.page.click("#generate")
        self.generated += 1
        self.page.wait_for_selector(f"body[data-generated='{self.generated}'], body[data-error]")
        error = self.page.get_attribute("body", "data-error")
        if error is not None:
            raise AssertionError(error)
        return json.loads(self.page.text_content("#result"))

    def close(self) -> None:
        # nothing but the folder's own files and the runtime's loader (a blob of the page) was asked for
        assert all(url.startswith(("file://", "blob:null/")) for url in self.requests), self.requests
        assert not self.logged, self.logged
        self.context.close()


CASES = {
    "lstm": [
        PageRequest(seed=5, length=48, top_p=0.9),
        PageRequest(seed=6, length=24, top_k=5, temperature=0.8, primer="60:4 r:2 r:2 D4:2 64:8"),
        PageRequest(seed=7, length=16, temperature=0),
    ],
    "conditioned": [
        PageRequest(
            seed=2, bars=8, top_p=0.95, conditions={"meter": "6/8", "key": "D major", "style": "oneills"}
        ),
        PageRequest(seed=11, length=40, conditions={"key": "A minor"}),  # meter and style drawn
        PageRequest(seed=12, length=30),
    ],
    "event": [
        PageRequest(seed=3, bars=4, conditions={"meter": "3/4"}),
        PageRequest(seed=4, length=20, primer="A4:3 B4:1 r:10 r:10"),
        PageRequest(seed=9, length=24, conditions={"key": "D major"}, primer="D4:4 F#4:2"),
    ],
}


@pytest.mark.parametrize("name", CASES)
def test_the_page_writes_the_notes_python_writes_with_the_same_seed(browser, folders, name):
    exported = read_export(folders / name)
    page = Page(browser, folders / name)
    for request in CASES[name]:
        got = page.generate(request)
        expected = generate(exported, request)
        assert (got["pitch"], got["duration"]) == (expected["pitch"], expected["duration"]), request
        assert got["conditions"] == expected["conditions"] and got["meter"] == expected["meter"]
        assert any(p != REST for p in got["pitch"])
        if request.bars:  # whole bars of the meter it was written in
            bar = {"3/4": 12, "6/8": 12, "4/4": 16}[got["meter"]]
            assert sum(got["duration"]) == request.bars * bar
        if "key" in request.conditions and name == "event":  # in C for the model, moved to D after
            assert got["conditions"] == {"key": "D major", "meter": "3/4"}  # only C major tunes were in 3/4
            assert got["pitch"][:2] == [62, 66]  # the primer, in the asked key as it was typed
        if request.temperature == 0:  # the likeliest class every time: the seed plays no part
            assert generate(exported, PageRequest(seed=99, length=16, temperature=0))["pitch"] == got["pitch"]
    page.close()


@pytest.mark.parametrize("name", ["conditioned", "event"])
def test_whole_bars_are_whole_whatever_the_seed(folders, name):
    """Rests drawn first (dropped) or last do not make a melody of N bars shorter."""
    exported = read_export(folders / name)
    for seed in range(24):
        request = PageRequest(seed=seed, bars=2, temperature=1.5, conditions={"meter": "6/8"})
        melody = generate(exported, request)
        assert sum(melody["duration"]) == 24 and melody["pitch"][0] != REST, (seed, melody)


def test_the_midi_offered_reads_back_with_pretty_midi_and_the_page_is_seen(browser, folders, tmp_path):
    page = Page(browser, folders / "conditioned")
    request = PageRequest(seed=8, bars=8, conditions={"meter": "6/8", "key": "Eb minor", "style": "oneills"})
    melody = page.generate(request)
    assert page.page.inner_text("#status").endswith("(meter 6/8, key Eb minor, style oneills)")
    with page.page.expect_download() as download:
        page.page.click("#download")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = midi.instruments[0].notes
    onsets = np.concatenate([[0], np.cumsum(melody["duration"])[:-1]])
    sixteenth = 60 / 120 / 4
    sounding = [
        (p, o, d) for p, o, d in zip(melody["pitch"], onsets, melody["duration"], strict=True) if p != REST
    ]
    assert [n.pitch for n in notes] == [p for p, _, _ in sounding]
    assert np.allclose([n.start for n in notes], [o * sixteenth for _, o, _ in sounding])
    assert np.allclose([n.end for n in notes], [(o + d) * sixteenth for _, o, d in sounding])
    signature = midi.time_signature_changes[0]
    assert (signature.numerator, signature.denominator) == (6, 8)
    assert (
        pretty_midi.key_number_to_key_name(midi.key_signature_changes[0].key_number) == "Eb minor"
    )  # 6 flats
    assert midi.get_end_time() == pytest.approx(8 * 12 * sixteenth)
    page.page.click("#play")  # Web Audio: scheduled without an error
    picture = tmp_path / "page.png"
    page.page.screenshot(path=str(picture), full_page=True)
    assert picture.read_bytes()[:4] == b"\x89PNG" and picture.stat().st_size > 20_000
    page.close()


def test_a_bad_primer_is_one_line_on_the_page(browser, folders):
    page = Page(browser, folders / "lstm")
    with pytest.raises(AssertionError, match=r"primer token 'H4:4': use PITCH:16THS"):
        page.generate(PageRequest(primer="60:4 H4:4"))
    assert page.page.inner_text("#status").startswith("error: primer token 'H4:4'")
    page.page.fill("#primer", "")
    page.page.fill("#top-p", "1.5")
    page.page.click("#generate")
    page.page.wait_for_selector("#status:has-text('error: top-p \"1.5\": between 0 and 1')")
    page.logged.clear()
    page.close()


def test_pick_draws_as_sample_logits_draws():
    """The page's picking keeps the classes ``sample_logits`` keeps, with the same probabilities."""
    logits = torch.tensor([2.0, 0.5, 1.5, -1.0, 0.0, 1.0, -3.0])
    for temperature, top_k, top_p in (
        (1.0, 0, 1.0),
        (0.7, 4, 1.0),
        (1.3, 0, 0.8),
        (1.0, 3, 0.6),
        (1.0, 0, 0.0),
    ):
        generator = torch.Generator().manual_seed(0)
        rows = logits.expand(40_000, -1)
        torch_counts = np.bincount(
            sample_logits(rows, temperature, top_k, top_p, generator).numpy(), minlength=7
        )
        draws = Draws(1)
        ours = np.bincount(
            [pick(logits.tolist(), temperature, top_k, top_p, draws()) for _ in range(40_000)], minlength=7
        )
        assert ((torch_counts > 0) == (ours > 0)).all(), (temperature, top_k, top_p)
        assert np.abs(torch_counts - ours).max() / 40_000 < 0.012, (temperature, top_k, top_p)
    assert pick([0.0, 3.0, 1.0], 0, 0, 1.0, 0.0) == 1


def test_page_errors_are_one_line(tmp_path):
    with pytest.raises(MelodygenError, match=r"runtime=.*nothing.tgz: no such file"):
        runtime_archive(str(tmp_path / "nothing.tgz"))
    wrong = tmp_path / "wrong.tgz"
    wrong.write_bytes(b"not the package")
    with pytest.raises(MelodygenError, match=r"wrong.tgz: not onnxruntime-web 1\.31\.1 .* sha512 differs"):
        runtime_archive(str(wrong))
    assert "MidiTok" in pageless({"representation": "remi", "representation_label": "REMI"})
    assert pageless({"representation": "event", "representation_label": "event"}) is None
    with pytest.raises(MelodygenError, match=r"primer token '62:17'"):
        parse_primer("60:4 62:17")
    assert parse_primer("r:4 C4:4 r:2 r:2 Bb3:16") == ([60, REST, 58], [4, 4, 16])
    assert parse_primer("60:4 r:10 r:10") == ([60, REST, REST], [4, 16, 4])  # rests as melodygen tidies them
    for token in ("٦٠:4", "C4:４", "60:²", "C--1:4"):
        with pytest.raises(MelodygenError, match="primer token"):
            parse_primer(token)
