// melodygen's page: writes melodies with an exported model's step function (step.onnx, run by
// onnxruntime-web), draws them as a piano roll, plays them and offers them as a MIDI file.
// The procedure is melodygen.export.draws's in Python, draw for draw: with the same seed, the same notes.
"use strict";

const REST = 128, MAX_DURATION = 16, UNSEEN = "<unseen>";
const POSITION_CLASSES = 48, BAR_CLASSES = 33, UNTOLD = 33;
const TONICS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

// --- random numbers and picking a class ----------------------------------------------------------

function draws(seed) {
  let state = seed >>> 0;
  return function () {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1) >>> 0;
    t = (t ^ ((t + (Math.imul(t ^ (t >>> 7), t | 61) >>> 0)) >>> 0)) >>> 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(logits, temperature, topK, topP, u) {
  const n = logits.length;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const z = Array.from(logits, (v) => v / temperature);
  const keep = new Array(n).fill(true);
  if (topK > 0 && topK < n) {
    const kth = z.slice().sort((a, b) => b - a)[topK - 1];
    for (let i = 0; i < n; i++) if (z[i] < kth) keep[i] = false;
  }
  if (topP < 1) {
    const order = z.map((_, i) => i).sort((a, b) => z[b] - z[a]).filter((i) => keep[i]);
    const top = z[order[0]];
    const weights = order.map((i) => Math.exp(z[i] - top));
    const total = weights.reduce((a, b) => a + b, 0);
    let before = 0;
    order.forEach((i, rank) => {
      if (rank > 0 && before >= topP) keep[i] = false;
      before += weights[rank] / total;
    });
  }
  let top = -Infinity;
  for (let i = 0; i < n; i++) if (keep[i] && z[i] > top) top = z[i];
  const weights = z.map((v, i) => (keep[i] ? Math.exp(v - top) : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  let running = 0, last = 0;
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue;
    last = i;
    running += weights[i] / total;
    if (u < running) return i;
  }
  return last;
}

// --- conditions, primer, elements and bars -----------------------------------------------------

function barSteps(meter) {
  if (!meter || !meter.includes("/")) return 16;
  const [numerator, denominator] = meter.split("/").map(Number);
  const exact = (numerator * 16) / denominator;
  let rounded = Math.round(exact);
  if (Math.abs(exact - Math.trunc(exact)) === 0.5 && rounded % 2 !== 0) rounded -= 1; // half to even
  return Math.max(1, rounded);
}

function drawConditions(model, asked, draw) {
  const names = Object.keys(model.conditions);
  for (const [name, value] of Object.entries(asked)) {
    if (!names.includes(name)) throw new Error(`condition ${name}: this model is not conditioned on it`);
    if (!model.conditions[name].includes(value) || value === UNSEEN)
      throw new Error(`condition ${name}=${value} is not one this model knows`);
  }
  if (Object.keys(asked).length === names.length) return { ...asked };
  const combos = (model.combos || []).map((row) => [row.slice(0, -1), row[row.length - 1]]);
  const matching = combos.filter(([labels]) =>
    Object.entries(asked).every(([k, v]) => labels[names.indexOf(k)] === v));
  if (matching.length) {
    const u = draw();
    const total = matching.reduce((a, [, n]) => a + n, 0);
    let running = 0, chosen = matching[matching.length - 1][0];
    for (const [labels, n] of matching) {
      running += n / total;
      if (u < running) { chosen = labels; break; }
    }
    const out = {};
    names.forEach((name, j) => { out[name] = chosen[j]; });
    return { ...out, ...asked };
  }
  const out = { ...asked };
  names.forEach((name, j) => {
    if (name in asked) return;
    const counts = new Map();
    for (const [labels, n] of combos) counts.set(labels[j], (counts.get(labels[j]) || 0) + n);
    const options = [...counts.keys()].sort(pythonOrder);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const u = draw();
    let running = 0;
    out[name] = options[options.length - 1];
    for (const option of options) {
      running += counts.get(option) / total;
      if (u < running) { out[name] = option; break; }
    }
  });
  return out;
}

function pythonOrder(a, b) { // sorted() of str: by code point
  const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function pitchOf(text) {
  if (["r", "rest"].includes(text.toLowerCase())) return REST;
  let value;
  if (/^\d+$/.test(text)) value = Number(text);
  else {
    const match = /^([A-Ga-g])([#b]?)(-?\d+)$/.exec(text);
    if (!match) return null;
    const letter = match[1].toUpperCase();
    value = 12 * (Number(match[3]) + 1) + "C D EF G A B".indexOf(letter) + ({ "#": 1, b: -1 }[match[2]] || 0);
  }
  return value >= 0 && value <= 127 ? value : null;
}

function parsePrimer(text) {
  const pitches = [], durations = [];
  for (const token of text.replace(/,/g, " ").split(/\s+/).filter(Boolean)) {
    const parts = token.split(":");
    const pitch = parts.length === 2 ? pitchOf(parts[0]) : null;
    const steps = pitch !== null && /^\d+$/.test(parts[1]) ? Number(parts[1]) : 0;
    if (pitch === null || steps < 1 || steps > MAX_DURATION)
      throw new Error(`primer token '${token}': use PITCH:16THS such as 60:4, C4:4, F#4:2 or r:2 (1–16)`);
    if (pitch === REST && !pitches.length) continue;
    if (pitch === REST && pitches[pitches.length - 1] === REST) {
      durations[durations.length - 1] += steps;
      continue;
    }
    pitches.push(pitch);
    durations.push(steps);
  }
  const outP = [], outD = [];
  pitches.forEach((pitch, i) => {
    let steps = durations[i];
    while (steps > MAX_DURATION) { outP.push(pitch); outD.push(MAX_DURATION); steps -= MAX_DURATION; } // merged rests
    outP.push(pitch);
    outD.push(steps);
  });
  return [outP, outD];
}

function encode(representation, pitches, durations) {
  if (representation === "categorical") return pitches.map((p, i) => [p, durations[i] - 1]);
  const tokens = [];
  pitches.forEach((p, i) => {
    tokens.push([p === REST ? 1 : 2 + p]);
    for (let k = 1; k < durations[i]; k++) tokens.push([0]);
  });
  return tokens;
}

function elementSteps(representation, element) {
  if (representation === "categorical") return element[0] === REST + 1 ? 0 : element[1] + 1;
  return element[0] === REST + 2 ? 0 : 1;
}

// melodygen.music.melody.normalize: notes kept to a whole note, rests merged, rests at either end dropped
function normalize(pitches, durations) {
  const p = [], d = [];
  const addRest = (steps) => {
    if (p.length && p[p.length - 1] === REST) d[d.length - 1] += steps;
    else if (p.length) { p.push(REST); d.push(steps); }
  };
  pitches.forEach((pitch, i) => {
    const steps = durations[i];
    if (steps <= 0) return;
    if (pitch === REST) { addRest(steps); return; }
    p.push(pitch);
    d.push(Math.min(steps, MAX_DURATION));
    if (steps > MAX_DURATION) addRest(steps - MAX_DURATION);
  });
  if (p.length && p[p.length - 1] === REST) { p.pop(); d.pop(); }
  const outP = [], outD = [];
  p.forEach((pitch, i) => {
    let steps = d[i];
    while (steps > MAX_DURATION) { outP.push(pitch); outD.push(MAX_DURATION); steps -= MAX_DURATION; }
    outP.push(pitch);
    outD.push(steps);
  });
  return [outP, outD];
}

function decode(representation, elements) {
  let pitches = [], durations = [];
  if (representation === "categorical") {
    pitches = elements.map((e) => e[0]);
    durations = elements.map((e) => e[1] + 1);
  } else {
    for (const [token] of elements) {
      if (token === 0 && pitches.length) durations[durations.length - 1] += 1;
      else if (token !== 0) { pitches.push(token === 1 ? REST : token - 2); durations.push(1); }
    }
  }
  return normalize(pitches, durations);
}

// melodygen.music.meter.whole_bars: cut at `steps`, the last note held to the end
function wholeBars(pitches, durations, steps) {
  let p = [], d = [], onset = 0, lastOnset = 0;
  pitches.forEach((pitch, i) => {
    if (onset < steps) { p.push(pitch); d.push(durations[i]); lastOnset = onset; }
    onset += durations[i];
  });
  if (d.length) d[d.length - 1] = Math.min(d[d.length - 1], steps - lastOnset);
  while (p.length > 1 && p[p.length - 1] === REST && d[d.length - 2] + d[d.length - 1] <= MAX_DURATION) {
    d[d.length - 2] += d[d.length - 1];
    p = p.slice(0, -1);
    d = d.slice(0, -1);
  }
  return [p, d];
}

function floorDiv(a, b) { return Math.floor(a / b); }
function mod(a, b) { return ((a % b) + b) % b; }

function clockColumns(clock, barsLeft) {
  const { since, bar, first, until } = clock;
  const out = [Math.min(mod(since, bar), POSITION_CLASSES - 1),
    Math.min(Math.max(first + floorDiv(since, bar), 0), BAR_CLASSES - 1)];
  if (barsLeft)
    out.push(until === null ? UNTOLD : Math.min(Math.max(floorDiv(until - 1, bar) - floorDiv(since, bar), 0), UNTOLD - 1));
  return out;
}

// --- the step function ---------------------------------------------------------------------------

class Step {
  constructor(session, model) {
    this.session = session;
    this.model = model;
  }

  zeros() {
    return this.model.state.map((t) => {
      const shape = t.shape.map((n) => (n === null ? 1 : n));
      const size = shape.reduce((a, b) => a * b, 1);
      return t.dtype === "int64"
        ? new ort.Tensor("int64", new BigInt64Array(size), shape)
        : new ort.Tensor("float32", new Float32Array(size), shape);
    });
  }

  async run(x, state) {
    const feeds = { x: new ort.Tensor("int64", BigInt64Array.from(x, BigInt), [1, x.length]) };
    this.model.state.forEach((t, i) => { feeds[t.name] = state[i]; });
    const got = await this.session.run(feeds);
    const outputs = this.model.onnx.outputs;
    const heads = this.model.heads.length;
    return [outputs.slice(0, heads).map((name) => got[name].data), outputs.slice(heads).map((name) => got[name])];
  }
}

// A melody as melodygen.export.draws.generate writes it
async function generate(step, request) {
  const model = step.model, representation = model.representation;
  const draw = draws(request.seed);
  const asked = request.conditions || {};
  let conditions, seen, toC = 0;
  if (model.transpose_to_c && "key" in asked) { // keys in C only: asked for the mode in C, moved after
    const [tonic, mode] = asked.key.split(" ");
    const t = TONICS.indexOf(tonic);
    if (t < 0) throw new Error(`condition key=${asked.key} is not one this model knows`);
    conditions = { ...drawConditions(model, { ...asked, key: `C ${mode}` }, draw), key: asked.key };
    seen = { ...conditions, key: `C ${mode}` };
    toC = t <= 6 ? -t : 12 - t;
  } else {
    conditions = drawConditions(model, asked, draw);
    seen = { ...conditions };
  }
  const names = Object.keys(model.conditions);
  const classes = names.map((n) => model.conditions[n].indexOf(seen[n]));
  const meter = conditions.meter || null;
  let [primerPitches, primerDurations] = parsePrimer(request.primer || "");
  if (toC) primerPitches = primerPitches.map((p) => (p === REST ? p : Math.min(Math.max(p + toC, 0), 127)));
  const prefix = [model.start.slice(), ...encode(representation, primerPitches, primerDurations)];
  const before = primerDurations.reduce((a, b) => a + b, 0);
  const bars = request.bars || null;
  const end = bars === null ? null : bars * barSteps(meter);
  if (end !== null && before >= end) throw new Error(`bars=${bars}: the primer is as long as the melody or longer`);
  const clock = { since: 0, bar: barSteps(meter), first: 1, until: end };
  let state = step.zeros();
  const feed = async (element) => {
    let x = [...element, ...classes];
    if (model.bar_position) {
      clock.since += elementSteps(representation, element);
      x = x.concat(clockColumns(clock, model.bars_left));
    }
    const [logits, next] = await step.run(x, state);
    state = next;
    return logits;
  };
  let logits;
  for (const element of prefix) logits = await feed(element);
  const drawn = [];
  // where the next element starts, in 16ths from the first note (rests before it are dropped)
  let steps = before, onsets = 0, started = before > 0;
  const per = representation === "categorical" ? 1 : MAX_DURATION;
  const limit = end === null ? request.length * per : (end - before + MAX_DURATION) * per;
  const { temperature, topK, topP } = request;
  for (;;) {
    let element, note;
    if (representation === "categorical") {
      const pitch = pick(logits[0].subarray(0, REST + 1), temperature, topK, topP, draw());
      element = [pitch, pick(logits[1].subarray(0, MAX_DURATION), temperature, topK, topP, draw())];
      note = element[0] !== REST;
    } else {
      element = [pick(logits[0].subarray(0, REST + 2), temperature, topK, topP, draw())];
      note = element[0] >= 2;
    }
    onsets += representation === "event" ? (element[0] !== 0 ? 1 : 0) : 1;
    if (representation === "event" && end === null && onsets > request.length) break;
    if (end !== null && note && started && steps >= end) break; // a note after the last bar line
    started = started || note;
    drawn.push(element);
    if (started) steps += elementSteps(representation, element);
    if (drawn.length >= limit) break;
    logits = await feed(element);
  }
  let [pitch, duration] = decode(representation, [...prefix.slice(1), ...drawn]);
  if (end !== null) [pitch, duration] = wholeBars(pitch, duration, end);
  if (toC) pitch = pitch.map((p) => (p === REST ? p : Math.min(Math.max(p - toC, 0), 127)));
  return { pitch, duration, conditions, meter: meter || "4/4" };
}

// --- MIDI ----------------------------------------------------------------------------------------

const TICKS = 480; // per quarter; a 16th is 120
const SHARPS = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5]; // a major key's sharps (flats < 0), by tonic

function variable(n) {
  const bytes = [n & 0x7f];
  while ((n >>>= 7)) bytes.unshift((n & 0x7f) | 0x80);
  return bytes;
}

function midiFile(melody, qpm = 120) {
  const events = [];
  const meta = (type, data) => [0xff, type, data.length, ...data];
  events.push([0, meta(0x51, [(6e7 / qpm) >> 16 & 0xff, (6e7 / qpm) >> 8 & 0xff, (6e7 / qpm) & 0xff])]);
  const [numerator, denominator] = melody.meter.split("/").map(Number);
  events.push([0, meta(0x58, [numerator, Math.round(Math.log2(denominator)), 24, 8])]);
  if (melody.conditions.key) {
    const [tonic, mode] = melody.conditions.key.split(" ");
    const major = (TONICS.indexOf(tonic) + (mode === "minor" ? 3 : 0)) % 12;
    events.push([0, meta(0x59, [SHARPS[major] & 0xff, mode === "minor" ? 1 : 0])]);
  }
  let time = 0;
  melody.pitch.forEach((p, i) => {
    const length = melody.duration[i] * (TICKS / 4);
    if (p !== REST) {
      events.push([time, [0x90, p, 90]]);
      events.push([time + length, [0x80, p, 0]]);
    }
    time += length;
  });
  events.sort((a, b) => a[0] - b[0] || (a[1][0] === 0x80 ? -1 : 0) - (b[1][0] === 0x80 ? -1 : 0));
  const track = [];
  let now = 0;
  for (const [at, bytes] of events) {
    track.push(...variable(at - now), ...bytes);
    now = at;
  }
  const total = melody.duration.reduce((a, b) => a + b, 0) * (TICKS / 4);
  track.push(...variable(Math.max(0, total - now)), 0xff, 0x2f, 0); // the end of the last bar, a rest included
  const length = track.length;
  return new Uint8Array([
    0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, TICKS >> 8, TICKS & 0xff,
    0x4d, 0x54, 0x72, 0x6b, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff,
    ...track,
  ]);
}

// --- the page -------------------------------------------------------------------------------------

function bytesOf(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function load() {
  ort.env.wasm.numThreads = 1; // threads need a cross-origin isolated page; file:// is not one
  ort.env.wasm.wasmBinary = await gunzip(bytesOf(MELODYGEN_RUNTIME.wasm));
  ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([MELODYGEN_RUNTIME.glue], { type: "text/javascript" })) };
  const session = await ort.InferenceSession.create(bytesOf(MELODYGEN_MODEL.step));
  return new Step(session, MELODYGEN_MODEL.description);
}

function drawRoll(canvas, melody) {
  const context = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height;
  context.fillStyle = "#fbfaf7";
  context.fillRect(0, 0, width, height);
  const notes = melody.pitch.filter((p) => p !== REST);
  const total = melody.duration.reduce((a, b) => a + b, 0);
  if (!notes.length || !total) return;
  const low = Math.min(...notes) - 2, high = Math.max(...notes) + 2;
  const x = (steps) => 40 + (steps / total) * (width - 50), rowHeight = (height - 20) / (high - low + 1);
  const y = (p) => 10 + (high - p) * rowHeight;
  context.font = "11px sans-serif";
  for (let p = low; p <= high; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) { context.fillStyle = "#f0eee8"; context.fillRect(40, y(p), width - 50, rowHeight); }
    if (p % 12 === 0) { context.fillStyle = "#555"; context.fillText(`C${p / 12 - 1}`, 4, y(p) + rowHeight - 1); }
  }
  const bar = barSteps(melody.meter);
  context.strokeStyle = "#bbb";
  for (let s = 0; s <= total; s += bar) { context.beginPath(); context.moveTo(x(s), 10); context.lineTo(x(s), height - 10); context.stroke(); }
  let onset = 0;
  context.fillStyle = "#2f6db5";
  melody.pitch.forEach((p, i) => {
    if (p !== REST) context.fillRect(x(onset) + 1, y(p) + 1, Math.max(2, x(onset + melody.duration[i]) - x(onset) - 2), Math.max(2, rowHeight - 2));
    onset += melody.duration[i];
  });
}

let audio = null;
function play(melody, qpm = 120) {
  if (audio) audio.close();
  audio = new AudioContext();
  const sixteenth = 60 / qpm / 4;
  let time = audio.currentTime + 0.1;
  melody.pitch.forEach((p, i) => {
    const length = melody.duration[i] * sixteenth;
    if (p !== REST) {
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.type = "triangle";
      tone.frequency.value = 440 * 2 ** ((p - 69) / 12);
      gain.gain.setValueAtTime(0, time);
      gain.gain.linearRampToValueAtTime(0.3, time + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.01, time + Math.max(0.05, length * 0.95));
      tone.connect(gain).connect(audio.destination);
      tone.start(time);
      tone.stop(time + length);
    }
    time += length;
  });
}

function settings() {
  const value = (id) => document.getElementById(id).value.trim();
  const conditions = {};
  for (const select of document.querySelectorAll("select[data-condition]"))
    if (select.value) conditions[select.dataset.condition] = select.value;
  const number = (id, label, ok, rule) => {
    const n = Number(value(id));
    if (value(id) === "" || !Number.isFinite(n) || !ok(n)) throw new Error(`${label} ${JSON.stringify(value(id))}: ${rule}`);
    return n;
  };
  const whole = (n) => Number.isInteger(n);
  return {
    seed: number("seed", "seed", (n) => whole(n) && n >= 0, "a whole number, 0 or more"),
    temperature: number("temperature", "temperature", (n) => n >= 0, "0 or more (0: the likeliest every time)"),
    topK: number("top-k", "top-k", (n) => whole(n) && n >= 0, "a whole number, 0 or more (0: off)"),
    topP: number("top-p", "top-p", (n) => n >= 0 && n <= 1, "between 0 and 1 (1: off)"),
    length: number("length", "notes", (n) => whole(n) && n >= 1, "a whole number, 1 or more"),
    bars: value("bars") ? number("bars", "whole bars", (n) => whole(n) && n >= 1, "a whole number, 1 or more, or empty") : null,
    primer: value("primer"), conditions,
  };
}

function noteName(p) { return p === REST ? "rest" : `${TONICS[p % 12]}${Math.floor(p / 12) - 1}`; }

function setUp(step) {
  const model = step.model;
  const form = document.getElementById("conditions");
  form.hidden = !Object.keys(model.conditions).length;
  for (const [name, labels] of Object.entries(model.conditions)) {
    const label = document.createElement("label");
    label.textContent = `${name} `;
    const select = document.createElement("select");
    select.dataset.condition = name;
    select.id = `condition-${name}`;
    select.add(new Option("any (as the training tunes)", ""));
    for (const l of labels) if (l !== UNSEEN) select.add(new Option(l, l));
    label.appendChild(select);
    form.appendChild(label);
  }
  document.getElementById("model").textContent =
    `${model.architecture} on ${model.representation_label}` +
    (model.bar_position ? ", reads bar positions" : "") + (model.bars_left ? " and bars left" : "") +
    (Object.keys(model.conditions).length ? `, conditioned on ${Object.keys(model.conditions).join(", ")}` : "");
  let melody = null;
  const button = document.getElementById("generate");
  const status = document.getElementById("status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    delete document.body.dataset.error;
    status.textContent = "writing…";
    try {
      const asked = settings();
      const started = performance.now();
      melody = await generate(step, asked);
      const seconds = (performance.now() - started) / 1000;
      const notes = melody.pitch.filter((p) => p !== REST).length;
      const told = Object.entries(melody.conditions).map(([k, v]) => `${k} ${v}`).join(", ");
      status.textContent = `${notes} notes in ${seconds.toFixed(2)} s${told ? ` (${told})` : ""}`;
      document.getElementById("notes").textContent = melody.pitch.map((p, i) => `${noteName(p)}:${melody.duration[i]}`).join(" ");
      drawRoll(document.getElementById("roll"), melody);
      const link = document.getElementById("download");
      if (link.href) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([midiFile(melody)], { type: "audio/midi" }));
      link.hidden = false;
      document.getElementById("play").disabled = false;
      document.body.dataset.generated = String(Number(document.body.dataset.generated || 0) + 1);
      window.melodygen.last = { ...melody, seconds };
      document.getElementById("result").textContent = JSON.stringify(window.melodygen.last);
    } catch (error) {
      status.textContent = `error: ${error.message}`;
      document.body.dataset.error = error.message;
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("play").addEventListener("click", () => melody && play(melody));
}

window.melodygen = { draws, pick, generate, midiFile, decode, wholeBars, parsePrimer };
window.melodygen.ready = load().then((step) => {
  window.melodygen.step = step;
  setUp(step);
  document.body.dataset.ready = "yes";
  return step;
}).catch((error) => {
  document.getElementById("status").textContent = `could not load the model: ${error.message}`;
  document.body.dataset.error = error.message;
  throw error;
});
