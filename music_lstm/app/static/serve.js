"use strict";
// The local page's script (serve.html): a file of its own, as the page's Content-Security-Policy runs no inline script.
const $ = (id) => document.getElementById(id);
// The server's token: in the address `serve` printed (?token=...), kept for this tab so a reload works, and
// taken out of the address bar. Every request for the API or a file carries it.
const TOKEN = (() => {
  const given = new URLSearchParams(location.search).get("token");
  if (given) {
    sessionStorage.setItem("music_lstm-token", given);
    history.replaceState(null, "", location.pathname);
  }
  return given || sessionStorage.getItem("music_lstm-token") || "";
})();
const NO_TOKEN = "this page needs the server's token: open the address `serve` printed (…/?token=…)";
const withToken = (url) => url && `${url}?token=${encodeURIComponent(TOKEN)}`;
// A setting is sent only when it differs from the default the page shows, so the server applies the run's
// own (its sampling.json) and not a default the page once read.
const changed = (id) => { const el = $(id); return el.value !== el.defaultValue ? el.value : undefined; };
let uploadLimit = 1 << 20;
let busy = false;
const off = {};  // task -> why this run folder cannot do it
const PROGRESS_AFTER = 500;  // ms: a request quicker than this shows no progress line

function show(el, on) { el.classList.toggle("on", on); }

function setBusy(label) {
  busy = Boolean(label);
  for (const task of ["harmonize", "compose"]) $(task).disabled = busy || task in off;
  if (typeof Versions !== "undefined") Versions.updateChoice();
  if (!busy) { show($("status"), false); return; }
  const start = performance.now();
  const tick = () => {
    if (!busy) return;
    const spent = performance.now() - start;
    if (spent >= PROGRESS_AFTER) {
      show($("status"), true);
      $("status-text").textContent = `${label}… ${(spent / 1000).toFixed(1)} s`;
    }
    setTimeout(tick, 100);
  };
  tick();
}

function fail(message) {
  $("error").textContent = message;
  show($("error"), true);
}

function link(id, url) {
  const a = $(id);
  a.hidden = !url;
  if (url) { a.href = withToken(url); a.download = url.split("/").pop(); }
}

async function post(url, body) {
  const answer = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-Token": TOKEN }, body: JSON.stringify(body) });
  let data;
  try { data = await answer.json(); } catch { data = { error: `the server answered ${answer.status} ${answer.statusText}` }; }
  if (!answer.ok && !data.error) data.error = `the server answered ${answer.status}`;
  return data;
}

async function run(url, body, label, retry) {
  if (busy) return;
  show($("error"), false);
  setBusy(label);
  try {
    let data = await post(url, body);
    if (data.error && retry) { const again = retry(data); if (again) data = await post(url, again); }
    if (data.error) fail(data.error);
    else Versions.add(data);
  } catch (e) {
    fail(`no answer from the server (${e.message}): is it still running?`);
  } finally {
    setBusy(null);
  }
}

// --- the piano roll, drawn from the answer's notes ---
const VOICE_COLOURS = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4"];  // soprano to bass, as the package's --plot

function drawRoll(voices) {  // the answer's own notes, four voices soprano to bass
  const canvas = $("roll");
  delete canvas.dataset.notes;
  const tracks = voices.map((notes, i) => ({ name: ["Soprano", "Alto", "Tenor", "Bass"][i], notes: notes.map(([o, d, p]) => [o, d, p]) }));
  const all = tracks.flatMap((t) => t.notes);
  const end = Math.max(4, ...all.map(([o, d]) => o + d));
  const low = Math.min(...all.map((n) => n[2])) - 2, high = Math.max(...all.map((n) => n[2])) + 2;
  const scale = window.devicePixelRatio || 1, width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * scale; canvas.height = height * scale;
  const g = canvas.getContext("2d");
  g.scale(scale, scale);
  const left = 34, x = (q) => left + (q / end) * (width - left - 6), row = (height - 8) / (high - low + 1);
  const y = (pitch) => 4 + (high - pitch) * row;
  g.fillStyle = "#eef0f3";
  for (let k = low; k <= high; k++) if ([1, 3, 6, 8, 10].includes(k % 12)) g.fillRect(left, y(k), width - left, row);
  g.strokeStyle = "#c5cad3"; g.fillStyle = "#5b6475"; g.font = "11px system-ui, sans-serif";
  for (let q = 0; q <= end; q += 4) { g.beginPath(); g.moveTo(x(q), 4); g.lineTo(x(q), height - 4); g.stroke(); }
  for (let k = low; k <= high; k++) if (k % 12 === 0) g.fillText(`C${k / 12 - 1}`, 4, y(k) + row * 0.8);
  tracks.forEach((track, i) => {
    g.fillStyle = tracks.length === 4 ? VOICE_COLOURS[i] : VOICE_COLOURS[3];
    for (const [o, d, k] of track.notes) g.fillRect(x(o), y(k) + 0.1 * row, Math.max(1, x(o + d) - x(o) - 1), 0.8 * row);
  });
  $("legend").replaceChildren(...(tracks.length === 4 ? tracks : []).flatMap((track, i) => {
    const swatch = document.createElement("span");
    swatch.style.background = VOICE_COLOURS[i];
    return [swatch, document.createTextNode(`${track.name || `voice ${i + 1}`} `)];
  }));
  canvas.dataset.notes = all.length;  // what was drawn, for a test to count
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// --- the key and the metre ---
const TONICS = { major: ["C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"],
                 minor: ["A", "E", "B", "F#", "C#", "G#", "D#", "A#", "D", "G", "C", "F", "Bb", "Eb", "Ab"] };
const SHARPS = [0, 1, 2, 3, 4, 5, 6, 7, -1, -2, -3, -4, -5, -6, -7];
const PC = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
const pitchClass = (name) => (PC[name[0]] + (name.includes("#") ? 1 : name.includes("b") ? -1 : 0) + 12) % 12;
let keyChosen = false;  // the user chose the key: the analysis no longer moves it

function keys() {
  const select = $("key");
  for (const mode of ["major", "minor"]) TONICS[mode].forEach((tonic, i) => {
    const o = document.createElement("option");
    o.value = `${tonic} ${mode}`; o.textContent = `${tonic} ${mode}`; o.dataset.sharps = SHARPS[i];
    select.appendChild(o);
  });
  select.addEventListener("change", () => { keyChosen = true; keySet(); });
  $("meter").addEventListener("change", () => Staff.setMeter($("meter").value));
}
function keySet() { Staff.setKey(Number($("key").selectedOptions[0].dataset.sharps)); }
function tuneChanged() {  // the key offered from the notes, while the user has not chosen one
  if (keyChosen) return;
  const found = Staff.suggestKey();
  if (!found) return;
  const option = [...$("key").options].find((o) => o.value.endsWith(found.mode) && pitchClass(o.value) === found.tonic
                                              && Math.abs(Number(o.dataset.sharps)) <= 6);
  if (option && option.value !== $("key").value) { $("key").value = option.value; $("key").dataset.suggested = option.value; keySet(); }
}

$("harmonize").addEventListener("click", async () => {
  const body = { temperature: changed("h-temperature"), seed: $("h-seed").value || undefined };
  const file = $("melody-file").files[0];
  if (file) {
    if (file.size > uploadLimit) { fail(`${file.name}: too large (${(file.size / 1048576).toFixed(1)} MB; at most ${uploadLimit / 1048576} MB)`); return; }
    body.file = { name: file.name, data: await readFile(file) };
    if (keyChosen) body.key = $("key").value;
  } else {
    body.melody = $("melody").value;
    if (keyChosen || Staff.count()) body.key = $("key").value;
  }
  // A server without fermatas in its tinyNotation is sent the tune without them.
  const retry = (data) => body.melody && body.melody.includes("^") && /not tinyNotation|\^/.test(data.error)
    ? { ...body, melody: body.melody.replaceAll("^", "") } : null;
  run("/api/harmonize", body, "Harmonizing", retry);
});

$("play-tune").addEventListener("click", () => {
  if (Synth.playing("tune")) { Synth.stop(); return; }
  const tempo = Versions.current()?.bpm || 90;
  Synth.play([Staff.midiNotes()], tempo, null, null, 0, "tune");
});

$("compose").addEventListener("click", () => {
  run("/api/compose", { bars: changed("length"), temperature: changed("temperature"), seed: $("seed").value || undefined },
      "Composing");
});

$("melody-file").addEventListener("change", () => { $("clear-file").hidden = !$("melody-file").files.length; });
$("clear-file").addEventListener("click", () => { $("melody-file").value = ""; $("clear-file").hidden = true; });
// A file dropped on the tune's card is the melody, as if chosen.
$("tune-card").addEventListener("dragover", (e) => { e.preventDefault(); $("tune-card").classList.add("drop"); });
$("tune-card").addEventListener("dragleave", () => $("tune-card").classList.remove("drop"));
$("tune-card").addEventListener("drop", (e) => {
  e.preventDefault();
  $("tune-card").classList.remove("drop");
  if (!e.dataTransfer.files.length) return;
  $("melody-file").files = e.dataTransfer.files;
  $("clear-file").hidden = false;
});

keys();
Staff.init(tuneChanged);
Versions.init();
tuneChanged();

fetch("/api/info", { headers: { "X-Token": TOKEN } }).then(async (r) => {
  if (r.status === 403) throw new Error(NO_TOKEN);
  return r.json();
}).then((info) => {
  const runs = Object.entries(info.runs).filter(([task]) => !(task in info.unavailable));
  const folders = new Set(runs.map(([, name]) => name));
  $("run").textContent = (folders.size === 1 ? `run folder: ${[...folders][0]}` : runs.map(([task, name]) => `${task}: ${name}`).join(" · "))
    + (info.audio ? "" : ` · no audio: ${info.no_audio}`);
  for (const [task, why] of Object.entries(info.unavailable)) {
    off[task] = why;
    $(task).disabled = true;
    $(`${task}-off`).textContent = why;
  }
  uploadLimit = info.upload_limit;
  // The defaults shown are the ones the server applies when a setting is not sent (`changed`).
  if (info.defaults.temperature !== undefined) $("temperature").defaultValue = info.defaults.temperature;
  if (info.defaults.harmonize_temperature !== undefined) $("h-temperature").defaultValue = info.defaults.harmonize_temperature;
  if (info.defaults.bars !== undefined) { $("length").defaultValue = info.defaults.bars; $("length").max = info.limits.compose_bars; }
  Versions.setOff(info.rewrite);  // why bars cannot be rewritten here, or null
}).catch((e) => {
  $("run").textContent = "the server did not answer";
  if (e.message === NO_TOKEN) { fail(NO_TOKEN); for (const task of ["harmonize", "compose"]) $(task).disabled = true; }
});
