"""The listening report: one folder with ``index.html`` that opens from disk, with no network and no server.

``melodygen-compare <sweep> --html`` writes it: the ranked table (a row per group of repeats, each
expandable into its runs, sortable by any column), the comparison plots, and for every run its samples
epoch by epoch: a player for each WAV, its piano roll, a link to its MIDI file, and the samples'
statistics beside the real tunes' (the validation melodies cut to the samples' length). Failed and
unfinished jobs are shown as such, so a running sweep can be reported and reported again.

Media are never embedded: by default the page links to the files in the run directories by relative
paths (the report stays a few hundred KB however big the sweep; move it together with the sweep), and
``copy=True`` puts them into ``<report>/media/`` (hard links where the file system allows, else copies)
for a folder that can be sent on its own. The plots are always copied. The page's sort order and open
groups can be set in its address: ``index.html#sort=n&order=desc&expand=all``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from melodygen.analysis.compare import (
    DONE,
    FAILED,
    PRUNED,
    REPEAT_KEYS,
    SHOWN_METRICS,
    UNFINISHED,
    Group,
    Run,
    group_runs,
    ranked_groups,
    repeat_key,
    swept_axes,
)
from melodygen.evaluation.metrics import REAL_TUNES_FILE, SAMPLE_STATISTICS, STATISTICS_FILE

#: A run's own files the report links to, where the run has them.
RUN_FILES = (
    "metrics.json",
    "failure.json",
    "train.log",
    ".hydra/overrides.yaml",
    ".hydra/config.yaml",
    "curves.png",
    "data_report.json",
)
STATUS_WORDS = {
    DONE: "done",
    PRUNED: "pruned",
    FAILED: "failed",
    UNFINISHED: "unfinished (running, or stopped before the end)",
}

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td.text, th.text { text-align: left; }
tr.run td { background: #fafafa; color: #555; font-size: 0.93em; }
tr.status-failed td, tr.status-unfinished td, tr.status-pruned td { color: #a33; }
button.toggle { font: inherit; border: 1px solid #bbb; background: #fff; border-radius: 3px;
                cursor: pointer; }
.banner { background: #fff6dd; border: 1px solid #e8d48b; padding: 0.5em 1em; }
.plots img { max-width: 48%; margin: 0.5em 1% 0 0; border: 1px solid #eee; }
section.run { border-top: 2px solid #ccc; margin-top: 1.5em; }
.files a { margin-right: 1em; }
.samples { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #eee; padding: 4px; }
figure img { display: block; max-width: 560px; height: auto; }
figure audio { width: 100%; }
table.stats td:first-child { text-align: left; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: 600; }
"""

_SCRIPT = r"""
(function () {
  const errors = [];
  window.addEventListener("error", (e) => {
    errors.push(String(e.message));
    document.body.dataset.errors = errors.join(" | ");
  });
  const table = document.getElementById("ranked");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  function key(cell) {
    const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    const number = parseFloat(raw);
    return raw !== "" && !isNaN(number) && isFinite(raw) ? number : raw.toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === "number" ? -1 : 1;
  }
  function sortBy(column, descending) {
    const groups = Array.from(body.querySelectorAll("tr.group"));
    groups.sort((x, y) => {
      const a = key(x.cells[column]), b = key(y.cells[column]);
      const emptyA = a === "" || a === "nan", emptyB = b === "" || b === "nan";
      if (emptyA || emptyB) return emptyA - emptyB;  // empty cells last, either way
      return descending ? compare(b, a) : compare(a, b);
    });
    for (const row of groups) {
      body.appendChild(row);
      for (const run of body.querySelectorAll('tr.run[data-group="' + row.dataset.group + '"]')) {
        body.appendChild(run);
      }
    }
    headers.forEach((h, i) => {
      h.classList.remove("sorted-asc", "sorted-desc");
      if (i === column) h.classList.add(descending ? "sorted-desc" : "sorted-asc");
    });
    table.dataset.sortedBy = headers[column].dataset.key;
    table.dataset.order = descending ? "desc" : "asc";
  }
  function toggle(group, open) {
    const row = body.querySelector('tr.group[data-group="' + group + '"]');
    const show = open === undefined ? row.dataset.open !== "yes" : open;
    row.dataset.open = show ? "yes" : "no";
    for (const run of body.querySelectorAll('tr.run[data-group="' + group + '"]')) run.hidden = !show;
    const button = row.querySelector("button.toggle");
    if (button) button.textContent = (show ? "▾ " : "▸ ") + button.dataset.runs;
  }
  headers.forEach((h, i) => h.addEventListener("click", () => {
    sortBy(i, table.dataset.sortedBy === h.dataset.key && table.dataset.order !== "desc");
  }));
  for (const button of body.querySelectorAll("button.toggle")) {
    button.addEventListener("click", () => toggle(button.closest("tr").dataset.group));
  }
  const asked = new URLSearchParams(location.hash.slice(1));
  if (asked.has("sort")) {
    const column = headers.findIndex((h) => h.dataset.key === asked.get("sort"));
    if (column >= 0) sortBy(column, asked.get("order") === "desc");
  }
  if (asked.get("expand") === "all") {
    for (const row of body.querySelectorAll("tr.group")) toggle(row.dataset.group, true);
  }
  document.body.dataset.ready = "yes";
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None or value != value else f"{value:.{digits}f}"


class _Media:
    """Where the page finds a file: a relative link to it, or its copy under ``<report>/media/``."""

    def __init__(self, out_dir: Path, copy: bool):
        self.out_dir, self.copy = out_dir, copy
        self.copied_bytes = 0

    def href(self, path: Path, run_id: str, run_dir: Path) -> str:
        if not self.copy:
            return Path(os.path.relpath(path.resolve(), self.out_dir.resolve())).as_posix()
        target = self.out_dir / "media" / run_id / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        try:
            os.link(path, target)  # no second copy on the same file system
        except OSError:
            shutil.copy2(path, target)
            self.copied_bytes += target.stat().st_size
        return target.relative_to(self.out_dir).as_posix()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sample_sets(run_dir: Path) -> list[tuple[str, Path]]:
    """``(title, folder)`` of each set of samples: the epochs' (latest first), then the final samples'."""
    samples = run_dir / "samples"
    epochs = sorted(samples.glob("epoch_*"), reverse=True) if samples.is_dir() else []
    sets = [(f"epoch {int(p.name.split('_')[1])}", p) for p in epochs if p.name.split("_")[1].isdigit()]
    if samples.is_dir() and any(samples.glob("sample_*.mid")):
        sets.insert(0, ("after training (the best checkpoint)", samples))
    return sets


def _stats_table(stats: dict | None, real: dict | None) -> str:
    if not stats or not stats.get("each"):
        return ""
    each = stats["each"]
    head = "".join(f"<th>sample {i}</th>" for i in range(len(each)))
    real_head = f"<th>real tunes ({real['melodies']})</th>" if real else ""
    rows = []
    # the registered statistics, then any other the samples were measured with (a plugin's not loaded here)
    written = [name for s in each for name in s if name not in SAMPLE_STATISTICS]
    for name in [*SAMPLE_STATISTICS, *dict.fromkeys(written)]:
        cells = "".join(f"<td>{_fmt(s.get(name), 3)}</td>" for s in each)
        mean = _fmt(stats.get("mean", {}).get(name), 3)
        real_cell = f"<td>{_fmt(real['mean'].get(name), 3)}</td>" if real else ""
        rows.append(f"<tr><td>{_e(name)}</td>{cells}<td><b>{mean}</b></td>{real_cell}</tr>")
    return (
        f'<table class="stats"><thead><tr><th class="text">statistic</th>{head}<th>mean</th>{real_head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _run_section(run: Run, run_id: str, label: str, metric: str, media: _Media) -> tuple[str, int]:
    """The run's section and how many audio players it holds."""
    status = STATUS_WORDS.get(run.status, run.status)
    score = f" · {metric} {_fmt(run.metrics.get(metric))}" if metric in run.metrics else ""
    parts = [
        f'<section class="run status-{_e(run.status)}" id="{_e(run_id)}">',
        f"<h3>run {_e(run.name)} · {_e(label)} · {_e(status)}{_e(score)}</h3>",
    ]
    if run.error:
        parts.append(f'<p class="banner">{_e(run.error)}</p>')
    links = [
        f'<a href="{_e(media.href(run.path / name, run_id, run.path))}">{_e(name)}</a>'
        for name in RUN_FILES
        if (run.path / name).is_file()
    ]
    parts.append(f'<p class="files">{"".join(links)} <code>{_e(run.path)}</code></p>')
    real = _read_json(run.path / "samples" / REAL_TUNES_FILE)
    players = 0
    sets = _sample_sets(run.path)
    if not sets:
        parts.append("<p>No samples yet.</p>")
    for k, (title, folder) in enumerate(sets):
        figures = []
        for mid in sorted(folder.glob("sample_*.mid")):
            pieces = []
            png, wav = mid.with_suffix(".png"), mid.with_suffix(".wav")
            if png.is_file():
                src = _e(media.href(png, run_id, run.path))
                pieces.append(f'<img src="{src}" alt="piano roll of {_e(mid.stem)}" loading="lazy">')
            if wav.is_file():
                src = _e(media.href(wav, run_id, run.path))
                pieces.append(f'<audio controls preload="none" src="{src}"></audio>')
                players += 1
            href = _e(media.href(mid, run_id, run.path))
            pieces.append(f'<figcaption><a href="{href}">{_e(mid.name)}</a></figcaption>')
            figures.append(f"<figure>{''.join(pieces)}</figure>")
        table = _stats_table(_read_json(folder / STATISTICS_FILE), real)
        opened = " open" if k == 0 else ""
        parts.append(
            f"<details{opened}><summary>{_e(title)}</summary>{table}"
            f'<div class="samples">{"".join(figures)}</div></details>'
        )
    parts.append("</section>")
    return "\n".join(parts), players


def _status_counts(runs: Sequence[Run]) -> str:
    order = (DONE, PRUNED, FAILED, UNFINISHED)
    counts = [(s, sum(r.status == s for r in runs)) for s in order]
    return ", ".join(f"{n} {s}" for s, n in counts if n)


def _table(
    groups: Sequence[Group], runs: Sequence[Run], metric: str, ids: dict[int, str], shown: Sequence[str]
) -> str:
    axes = [a for a in swept_axes(runs) if a not in REPEAT_KEYS]
    repeats = [k for k in REPEAT_KEYS if any(k in r.overrides for r in runs)]
    best = ranked_groups(groups, metric)
    ordered = [*best, *(g for g in groups if g not in best)]
    head = [("rank", "#", False), *((a, a.rsplit(".", 1)[-1], True) for a in axes), ("n", "n", False)]
    head += [(metric, f"{metric} mean ± sd", False), ("interval", "95% interval", False)]
    head += [(m, f"{m} mean", False) for m in shown]
    head += [("status", "status", True), ("runs", "runs", True)]
    cells = "".join(
        f'<th data-key="{_e(key)}" class="{"text" if text else ""}">{_e(title)}</th>'
        for key, title, text in head
    )
    rows = []
    for number, group in enumerate(ordered):
        stats = group.stats(metric)
        rank = str(best.index(group) + 1) if group in best else ""
        value = f"{stats.mean:.4f}" + (f" ± {stats.sd:.4f}" if stats.n > 1 else "") if stats else ""
        interval = f"[{stats.low:.4f}, {stats.high:.4f}]" if stats and stats.n > 1 else ""
        row = [f'<td data-sort="{rank}">{rank}</td>']
        row += [f'<td class="text">{_e(group.settings.get(a, ""))}</td>' for a in axes]
        row.append(f"<td>{stats.n if stats else 0}</td>")
        row.append(f'<td class="mean" data-sort="{stats.mean if stats else ""}">{value}</td>')
        row.append(f'<td data-sort="{stats.low if stats and stats.n > 1 else ""}">{interval}</td>')
        for m in shown:
            other = group.stats(m)
            row.append(
                f'<td data-sort="{other.mean if other else ""}">{_fmt(other.mean if other else None)}</td>'
            )
        row.append(f'<td class="text">{_e(_status_counts(group.runs))}</td>')
        count = f"{len(group.runs)} run" + ("s" if len(group.runs) > 1 else "")
        button = f'<button class="toggle" data-runs="{count}">▸ {count}</button>'
        row.append(f'<td class="text" data-sort="{len(group.runs)}">{button}</td>')
        rows.append(f'<tr class="group" data-group="g{number}" data-open="no">{"".join(row)}</tr>')
        for run in group.runs:
            repeat = ", ".join(f"{k}={v}" for k, v in zip(REPEAT_KEYS, repeat_key(run)) if k in repeats)
            link = f'<a href="#{_e(ids[id(run)])}">run {_e(run.name)}</a>'
            span = len(axes) + 1
            sub = ["<td></td>", f'<td class="text" colspan="{span}">{link} {_e(repeat)}</td>']
            sub.append(f"<td>{_fmt(run.metrics.get(metric))}</td><td></td>")
            sub += [f"<td>{_fmt(run.metrics.get(m))}</td>" for m in shown]
            detail = STATUS_WORDS.get(run.status, run.status) + (f": {run.error}" if run.error else "")
            sub.append(f'<td class="text" colspan="2">{_e(detail)}</td>')
            rows.append(
                f'<tr class="run status-{_e(run.status)}" data-group="g{number}" hidden>{"".join(sub)}</tr>'
            )
    return f'<table id="ranked"><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def write_report(
    runs: Sequence[Run], metric: str, out_dir: Path, plots: Sequence[Path] = (), copy: bool = False
) -> Path:
    """Write ``out_dir/index.html`` (and ``out_dir/plots/``, ``out_dir/media/`` with ``copy``); returns
    the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    media = _Media(out_dir, copy)
    groups = group_runs(runs)
    shown = [m for m in SHOWN_METRICS if m != metric and any(m in r.metrics for r in runs)]
    ids = {id(run): f"run-{i}" for i, run in enumerate(runs)}
    label = {id(run): group.label for group in groups for run in group.runs}
    sections, players = [], 0
    for run in runs:
        section, count = _run_section(run, ids[id(run)], label[id(run)], metric, media)
        sections.append(section)
        players += count
    (out_dir / "plots").mkdir(exist_ok=True)
    images = []
    for plot in plots:
        shutil.copy2(plot, out_dir / "plots" / plot.name)
        images.append(f'<img src="plots/{_e(plot.name)}" alt="{_e(plot.stem)}">')
    trouble = [r for r in runs if r.status in (FAILED, UNFINISHED)]
    banner = ""
    if trouble:
        items = "".join(
            f'<li><a href="#{_e(ids[id(r)])}">run {_e(r.name)}</a> ({_e(label[id(r)])}): '
            f"{_e(STATUS_WORDS[r.status])}{_e(': ' + r.error if r.error else '')}</li>"
            for r in trouble
        )
        banner = f'<div class="banner"><b>Not finished:</b><ul>{items}</ul></div>'
    sources = sorted({str(r.path.parent if r.path.name.isdigit() else r.path) for r in runs})
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>melodygen report: {_e(", ".join(Path(s).name for s in sources))}</title>
<style>{_STYLE}</style></head>
<body data-runs="{len(runs)}" data-audio="{players}">
<h1>melodygen report</h1>
<p>{_e(", ".join(sources))}<br>{len(runs)} runs: {_e(_status_counts(runs))}. Ranked by the mean of
<b>{_e(metric)}</b> over each group's finished runs (groups: runs that differ only in
{_e(" or ".join(REPEAT_KEYS))}); 95% intervals are Student's t. Written {stamp}: write it again to
see a running sweep's progress.</p>
{banner}
<h2>Ranking</h2>
<p>Click a column to sort; a group's button shows its runs.</p>
{_table(groups, runs, metric, ids, shown)}
<h2>Plots</h2>
<div class="plots">{"".join(images) or "<p>No plots (no finished run).</p>"}</div>
<h2>Samples, run by run</h2>
<p>Each set of samples: the statistics of each melody and their mean, beside the real tunes' (the
validation melodies, cut to the samples' length); a piano roll, a player and the MIDI file of each.</p>
{"".join(sections)}
<script>{_SCRIPT}</script>
</body></html>
"""
    index = out_dir / "index.html"
    from melodygen.runtime.atomic import write_text_atomic

    return write_text_atomic(index, page)
