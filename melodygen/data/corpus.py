"""Build the folk corpus offline: one MIDI melody per tune from the ABC collections inside music21.

Layout of ``out_dir``::

    <collection>/<abc-file-stem>-<tune-number>.mid   one melody per tune
    manifest.csv    collection, source_file, tune_number, title, key, meter, path, notes, repeats
    failures.csv    collection, source_file, tune_number, reason

``path`` is relative to ``out_dir``; ``title``/``key``/``meter`` are the tune's ``T:``/``K:``/``M:`` fields as
written; ``notes`` is the note count read back from the MIDI file. A failure of a whole ABC file (unreadable,
no tunes) has an empty ``tune_number``.

How each tune is exported (music21 10.5 needs help with these collections):

* **Melody only.** Chord symbols (``"Am"`` above the staff) are removed; a chord inside the tune (a fiddle
  double stop) becomes its top note; grace notes are dropped (music21 writes their note-off before the
  note-on, which leaves hanging notes).
* **Signatures.** The ABC importer puts one TimeSignature/KeySignature object into several measures and the
  MIDI writer then raises StreamException, so every measure gets its own copy.
* **Repeats** (the ``repeats`` column). ``none``: the tune has no repeat marks. ``expanded``: repeats played
  out, when the expansion works and gives at most ``max_notes`` notes. Otherwise the tune is exported *as
  written*: repeat barlines, ending brackets and D.C./segno marks are removed and every ending is played
  once, in order; ``malformed`` when music21 could not expand the repeats (ExpanderException), ``too-long``
  when the expansion ran past ``max_notes`` (one O'Neill tune grows from 507 to 50,580 notes in ~17 s, a file
  pretty_midi refuses; 10 O'Neill tunes hit the default cap of 2000). A tune with more than ``max_notes``
  notes as written is a failure.
* **Tempo.** The tune's ``Q:`` when it has one, else 120 bpm (all of Essen).
* **Checked.** Note-ons and note-offs must pair up; the file is written to a temporary name, read back with
  pretty_midi (it must hold notes, none of zero length) and only then moved into place with ``os.replace``,
  so an interrupted build never leaves a half-written ``.mid``.

Failures are counted and listed in ``failures.csv``, never fatal. Re-running skips tunes whose ``.mid``
exists and whose manifest row is present, retries earlier failures, and rewrites both CSV files (sorted,
atomically; the manifest is also saved every 30 s and when the build is interrupted).
"""

from __future__ import annotations

import copy
import csv
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from melodygen.errors import MelodygenError

#: Collection name → folder inside music21's corpus.
COLLECTIONS = {"essen": "essenFolksong", "oneills": "oneills1850", "ryans": "ryansMammoth"}
MANIFEST_COLUMNS = (
    "collection",
    "source_file",
    "tune_number",
    "title",
    "key",
    "meter",
    "path",
    "notes",
    "repeats",
)
FAILURE_COLUMNS = ("collection", "source_file", "tune_number", "reason")

# Measured export cost per tune (GUIDE §3); work units are cut to about one second each so the slow O'Neill
# tunes and the fast Essen ones keep every worker equally busy.
_SECONDS_PER_TUNE = {"essen": 1 / 27, "ryans": 1 / 12, "oneills": 1 / 6}
_DEFAULT_SECONDS_PER_TUNE = 1 / 10
_UNIT_SECONDS = 1.0
_CHECKPOINT_SECONDS = 30.0
_TUNE_START = re.compile(r"^X:", re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")  # characters replaced in a tune number's file name
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a collection name (it becomes a folder)

TuneKey = tuple[str, str, str]  # (collection, source_file, tune_number)


@dataclass
class CollectionCounts:
    exported: int = 0
    existing: int = 0
    failed: int = 0


@dataclass
class CorpusSummary:
    """What one :func:`build_corpus` call did, per collection."""

    counts: dict[str, CollectionCounts]
    elapsed_s: float
    manifest_path: Path
    failures_path: Path
    repeats: dict[str, int] = field(default_factory=dict)  # how repeats were handled, exported tunes
    dropped: dict[str, int] = field(default_factory=dict)  # grace notes, chord symbols, chord tones

    @property
    def exported(self) -> int:
        return sum(c.exported for c in self.counts.values())

    @property
    def existing(self) -> int:
        return sum(c.existing for c in self.counts.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.counts.values())

    @property
    def tunes_per_s(self) -> float:
        return (self.exported + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class _Tune:
    collection: str
    source_file: str
    tune_number: str
    title: str
    key: str
    meter: str
    rel_path: str
    abc: str

    @property
    def id(self) -> TuneKey:
        return (self.collection, self.source_file, self.tune_number)


@dataclass(frozen=True)
class _Outcome:
    id: TuneKey
    notes: int = 0
    repeats: str = ""
    reason: str = ""  # empty when exported
    dropped: tuple[tuple[str, int], ...] = ()


class ExportError(Exception):
    """A tune that music21 parsed but that gives no usable melody file."""


# ---------------------------------------------------------------------------------------------- entry point


def check_options(collections: Iterable[str], workers: int, limit: int | None, max_notes: int) -> None:
    """Raise :class:`MelodygenError` with one line naming the bad option and value."""
    for name in collections:
        if name not in COLLECTIONS:
            raise MelodygenError(
                f"collections: unknown collection {name!r} (choose from {', '.join(COLLECTIONS)})"
            )
    if workers < 0:
        raise MelodygenError(f"workers={workers}: must be 0 (all cores) or a positive number of processes")
    if limit is not None and limit < 1:
        raise MelodygenError(f"limit={limit}: must be at least 1 tune per collection (or null for all)")
    if max_notes < 1:
        raise MelodygenError(f"max_notes={max_notes}: must be at least 1")


def build_corpus(
    out_dir: str | os.PathLike,
    collections: Sequence[str] = ("essen", "oneills", "ryans"),
    workers: int = 0,
    limit: int | None = None,
    max_notes: int = 2000,
    sources: Mapping[str, Sequence[str | os.PathLike]] | None = None,
    progress: bool = True,
) -> CorpusSummary:
    """Export every tune of ``collections`` to ``out_dir`` (layout and rules in the module docstring).

    ``workers=0`` uses all cores, ``workers=1`` runs in this process (no pool). ``limit`` keeps at most that
    many tunes per collection (files in name order, tunes in file order). ``sources`` replaces music21's files
    with explicit ``{collection: [abc paths]}`` (then ``collections`` is ignored). ``progress`` shows a bar
    and prints the counts at the end.
    """
    started = time.perf_counter()
    if sources is None:
        check_options(collections, workers, limit, max_notes)
        plan = {name: _music21_files(name) for name in dict.fromkeys(collections)}
    else:
        check_options((), workers, limit, max_notes)
        plan = {name: [Path(p) for p in paths] for name, paths in sources.items()}
        _check_sources(plan)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path, failures_path = out / "manifest.csv", out / "failures.csv"

    counts = {name: CollectionCounts() for name in plan}
    failures: dict[TuneKey, dict] = {}
    attempted: set[TuneKey] = set()
    todo: list[_Tune] = []
    manifest = {k: row for k, row in _read_rows(manifest_path).items() if (out / row["path"]).is_file()}
    for name, paths in plan.items():
        tunes = []
        for path in paths:
            attempted.add((name, path.name, ""))
            try:
                tunes.extend(_read_tunes(name, path))
            except Exception as exc:  # one unreadable file never stops the build
                failures[(name, path.name, "")] = _failure_row((name, path.name, ""), _reason(exc))
                counts[name].failed += 1
        for tune in tunes[:limit]:
            attempted.add(tune.id)
            if tune.id in manifest:
                counts[name].existing += 1
            else:
                todo.append(tune)
        (out / name).mkdir(exist_ok=True)
        for stale in (out / name).glob("*.mid.tmp-*"):  # left by an interrupted build
            stale.unlink(missing_ok=True)
    by_id = {tune.id: tune for tune in todo}
    failures.update(
        (k, row) for k, row in _read_rows(failures_path).items() if k not in attempted and k not in manifest
    )

    repeats: Counter[str] = Counter()
    dropped: Counter[str] = Counter()

    def record(outcome: _Outcome) -> None:
        tune = by_id[outcome.id]
        if outcome.reason:
            failures[tune.id] = _failure_row(tune.id, outcome.reason)
            counts[tune.collection].failed += 1
            return
        manifest[tune.id] = _manifest_row(tune, outcome)
        counts[tune.collection].exported += 1
        repeats[outcome.repeats] += 1
        dropped.update(dict(outcome.dropped))

    def save() -> None:
        _write_rows(manifest_path, MANIFEST_COLUMNS, manifest)
        _write_rows(failures_path, FAILURE_COLUMNS, failures)

    try:
        _run_units(_plan_units(todo, workers), out, max_notes, workers, record, save, progress)
    finally:
        save()
    summary = CorpusSummary(
        counts=counts,
        elapsed_s=time.perf_counter() - started,
        manifest_path=manifest_path,
        failures_path=failures_path,
        repeats=dict(repeats),
        dropped=dict(dropped),
    )
    if progress:
        _print_summary(summary)
    return summary


def _check_sources(plan: Mapping[str, list[Path]]) -> None:
    for name, paths in plan.items():
        if not _SAFE_NAME.fullmatch(name):
            raise MelodygenError(f"sources: collection name {name!r} must be letters, digits, '_' or '-'")
        names = Counter(path.name for path in paths)
        clashes = sorted(n for n, count in names.items() if count > 1)
        if clashes:  # both would write <collection>/<stem>-<number>.mid
            raise MelodygenError(f"sources: {name!r} lists two files named {clashes[0]!r}")


def _music21_files(name: str) -> list[Path]:
    from music21 import common

    folder = Path(common.getCorpusFilePath()) / COLLECTIONS[name]
    files = sorted(folder.glob("*.abc"))
    if not files:
        raise MelodygenError(f"collections: no ABC files for {name!r} in {folder} (is music21 complete?)")
    return files


# ------------------------------------------------------------------------------------------ reading ABC


def _read_tunes(collection: str, path: Path) -> list[_Tune]:
    """Split one ABC file into its tunes (each begins at an ``X:`` line)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    if not starts:
        raise ExportError("no tunes (no X: line)")
    tunes, seen = [], Counter()
    for begin, end in zip(starts, starts[1:] + [len(text)], strict=True):
        abc = text[begin:end]
        lines = abc.splitlines()
        number = _UNSAFE_NAME.sub("_", lines[0][2:].strip()) or str(len(tunes) + 1)
        seen[number] += 1
        if seen[number] > 1:  # a repeated X: number in one file keeps its own output file
            number = f"{number}_{seen[number]}"
        header = lines[: next((i for i, ln in enumerate(lines) if ln.startswith("K:")), len(lines)) + 1]
        tunes.append(
            _Tune(
                collection=collection,
                source_file=path.name,
                tune_number=number,
                title=_field(header, "T"),
                key=_field(header, "K"),
                meter=_field(header, "M"),
                rel_path=f"{collection}/{path.stem}-{number}.mid",
                abc=abc,
            )
        )
    return tunes


def _field(header: list[str], tag: str) -> str:
    return next((ln[2:].strip() for ln in header if ln.startswith(tag + ":")), "")


# -------------------------------------------------------------------------------------- scheduling work


def _plan_units(todo: list[_Tune], workers: int) -> list[list[_Tune]]:
    """Cut the tunes into units of about one second's work, the slowest collection first."""
    by_collection: dict[str, list[_Tune]] = {}
    for tune in todo:
        by_collection.setdefault(tune.collection, []).append(tune)
    n_workers = workers or os.cpu_count() or 1
    units = []
    for name, tunes in by_collection.items():
        per_tune = _SECONDS_PER_TUNE.get(name, _DEFAULT_SECONDS_PER_TUNE)
        size = max(1, round(_UNIT_SECONDS / per_tune))
        size = max(1, min(size, math.ceil(len(todo) / (4 * n_workers))))  # small runs still spread out
        units += [(per_tune, tunes[i : i + size]) for i in range(0, len(tunes), size)]
    units.sort(key=lambda unit: -unit[0])  # stable: file order kept within a collection
    return [tunes for _, tunes in units]


def _run_units(units, out: Path, max_notes, workers, record, save, progress) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(len(unit) for unit in units)
    n_workers = min(workers or os.cpu_count() or 1, max(1, len(units)))
    columns = (
        TextColumn("[bold]corpus"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tunes"),
        TextColumn("{task.fields[rate]:.1f} tunes/s"),
        TimeElapsedColumn(),
    )
    started = last_save = time.perf_counter()
    done = 0

    def finished(outcomes: list[_Outcome], bar: Progress, task) -> None:
        nonlocal done, last_save
        for outcome in outcomes:
            record(outcome)
        done += len(outcomes)
        bar.update(task, advance=len(outcomes), rate=done / max(time.perf_counter() - started, 1e-9))
        if time.perf_counter() - last_save > _CHECKPOINT_SECONDS:
            save()
            last_save = time.perf_counter()

    if n_workers == 1:
        with Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("corpus", total=total, rate=0.0)
            for unit in units:
                finished(_export_unit(unit, str(out), max_notes), bar, task)
        return
    # Start the workers (and submit everything) before the progress bar starts its refresh thread.
    pool = ProcessPoolExecutor(max_workers=n_workers)
    try:
        futures = {pool.submit(_export_unit, unit, str(out), max_notes): unit for unit in units}
        with Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("corpus", total=total, rate=0.0)
            for future in as_completed(futures):
                try:
                    outcomes = future.result()
                except Exception as exc:  # a worker died: this unit's tunes fail, the build goes on
                    reason = _reason(exc)
                    outcomes = [_Outcome(id=tune.id, reason=reason) for tune in futures[future]]
                finished(outcomes, bar, task)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------------ exporting a tune


def _export_unit(tunes: list[_Tune], out_dir: str, max_notes: int) -> list[_Outcome]:
    return [_export_tune(tune, Path(out_dir), max_notes) for tune in tunes]


def _export_tune(tune: _Tune, out: Path, max_notes: int) -> _Outcome:
    from music21 import converter, midi, stream

    dropped: Counter[str] = Counter()
    try:
        score = converter.parseData(tune.abc, format="abc")
        if isinstance(score, stream.Opus):
            score = score.scores[0]
        _unshare_signatures(score)
        _keep_melody(score, dropped)
        score, repeats = _resolve_repeats(score, max_notes)
        midi_file = midi.translate.streamToMidiFile(score)
        _check_note_pairs(midi_file)
        notes = _write_checked(out / tune.rel_path, midi_file.writestr())
    except Exception as exc:  # every tune's problem is reported, none stops the build
        return _Outcome(id=tune.id, reason=_reason(exc))
    return _Outcome(id=tune.id, notes=notes, repeats=repeats, dropped=tuple(sorted(dropped.items())))


def _unshare_signatures(score) -> None:
    """Give every measure its own time/key signature, clef and tempo objects."""
    from music21 import clef, key, meter, stream, tempo

    kinds = (meter.TimeSignature, key.KeySignature, clef.Clef, tempo.MetronomeMark)
    seen: set[int] = set()
    for measure in score.recurse().getElementsByClass(stream.Measure):
        for element in list(measure.getElementsByClass(kinds)):
            if id(element) in seen:
                measure.replace(element, copy.deepcopy(element))
            else:
                seen.add(id(element))


def _keep_melody(score, dropped: Counter) -> None:
    """Remove chord symbols and grace notes; reduce chords to their top note."""
    from music21 import chord, harmony, note

    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for symbol in list(container.getElementsByClass(harmony.Harmony)):
            container.remove(symbol)
            dropped["chord_symbols"] += 1
        for element in list(container.getElementsByClass(note.GeneralNote)):
            if element.duration.isGrace:
                container.remove(element)
                dropped["grace_notes"] += 1
            elif isinstance(element, chord.Chord):
                top = note.Note(max(element.pitches))
                top.duration = copy.deepcopy(element.duration)
                top.tie = copy.deepcopy(element.tie)
                container.replace(element, top)
                dropped["chord_tones"] += len(element.pitches) - 1


def _resolve_repeats(score, max_notes: int):
    """Return ``(stream to write, repeats label)`` following the rule in the module docstring."""
    from music21 import bar, repeat, spanner

    repeat_kinds = (bar.Repeat, spanner.RepeatBracket, repeat.RepeatExpression)
    if score.recurse().getElementsByClass(repeat_kinds).first() is None:
        label = "none"
    else:
        try:
            expanded = score.expandRepeats()
            if _count_notes(expanded) <= max_notes:
                return expanded, "expanded"
            label = "too-long"
        except repeat.ExpanderException:
            label = "malformed"
        _strip_repeats(score)
    notes = _count_notes(score)
    if notes > max_notes:
        raise ExportError(f"{notes} notes as written > max_notes={max_notes}")
    if notes == 0:
        raise ExportError("no notes in the tune")
    return score, label


def _strip_repeats(score) -> None:
    from music21 import bar, repeat, spanner, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = bar.Barline("double")
    for container in list(score.recurse(streamsOnly=True, includeSelf=True)):
        container.removeByClass([spanner.RepeatBracket, repeat.RepeatExpression])


def _count_notes(score) -> int:
    return sum(1 for _ in score.recurse().notes)


def _check_note_pairs(midi_file) -> None:
    """Every note-off must close an open note-on of the same channel and pitch, and none stays open."""
    from music21.midi import ChannelVoiceMessages

    for track in midi_file.tracks:
        sounding: Counter[tuple[int, int]] = Counter()
        for event in track.events:
            is_on = event.type == ChannelVoiceMessages.NOTE_ON and event.velocity > 0
            is_off = event.type == ChannelVoiceMessages.NOTE_OFF or (
                event.type == ChannelVoiceMessages.NOTE_ON and event.velocity == 0
            )
            if is_on:
                sounding[(event.channel, event.pitch)] += 1
            elif is_off:
                if sounding[(event.channel, event.pitch)] == 0:
                    raise ExportError(f"note-off before note-on (pitch {event.pitch})")
                sounding[(event.channel, event.pitch)] -= 1
        hanging = [pitch for (_, pitch), n in sounding.items() if n > 0]
        if hanging:
            raise ExportError(f"hanging notes (pitches {sorted(hanging)})")


def _write_checked(path: Path, data: bytes) -> int:
    """Write ``data`` atomically after pretty_midi reads it back with notes; return the note count."""
    import pretty_midi

    temp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        temp.write_bytes(data)
        notes = [n for inst in pretty_midi.PrettyMIDI(str(temp)).instruments for n in inst.notes]
        if not notes:
            raise ExportError("the MIDI file has no notes")
        if any(n.end <= n.start for n in notes):
            raise ExportError("the MIDI file has a zero-length note")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return len(notes)


def _reason(exc: BaseException) -> str:
    """``ExceptionClass: message`` on one line, object ids removed so equal problems read the same."""
    message = re.sub(r"\s+", " ", str(exc)).strip()
    message = re.sub(r"id\(\)=\d+|0x[0-9a-fA-F]+", "…", message)
    return f"{type(exc).__name__}: {message[:160]}" if message else type(exc).__name__


# ----------------------------------------------------------------------------------------- CSV files


def _natural(key: TuneKey) -> tuple:
    number = key[2]
    return (key[0], key[1], (0, int(number), "") if number.isdigit() else (1, 0, number))


def _read_rows(path: Path) -> dict[TuneKey, dict]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["collection"], r["source_file"], r["tune_number"]): r for r in rows if "collection" in r}


def _write_rows(path: Path, columns: Sequence[str], rows: Mapping[TuneKey, dict]) -> None:
    temp = path.with_name(path.name + ".tmp")
    with temp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for key in sorted(rows, key=_natural):
            writer.writerow(rows[key])
    os.replace(temp, path)


def _manifest_row(tune: _Tune, outcome: _Outcome) -> dict:
    return {
        "collection": tune.collection,
        "source_file": tune.source_file,
        "tune_number": tune.tune_number,
        "title": tune.title,
        "key": tune.key,
        "meter": tune.meter,
        "path": tune.rel_path,
        "notes": outcome.notes,
        "repeats": outcome.repeats,
    }


def _failure_row(key: TuneKey, reason: str) -> dict:
    return dict(zip(FAILURE_COLUMNS, (*key, reason), strict=True))


def _print_summary(summary: CorpusSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="folk corpus")
    for column in ("collection", "exported", "existing", "failed"):
        table.add_column(column, justify="left" if column == "collection" else "right")
    for name, c in summary.counts.items():
        table.add_row(name, str(c.exported), str(c.existing), str(c.failed))
    table.add_row("total", str(summary.exported), str(summary.existing), str(summary.failed), style="bold")
    console = Console()
    console.print(table)
    console.print(
        f"{summary.exported + summary.failed} tunes processed in {summary.elapsed_s:.1f} s "
        f"({summary.tunes_per_s:.1f} tunes/s); repeats {summary.repeats}; dropped {summary.dropped}"
    )
    console.print(f"manifest: {summary.manifest_path}\nfailures: {summary.failures_path}")
