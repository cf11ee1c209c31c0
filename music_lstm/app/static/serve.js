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

function show(el, on) { el.classList.toggle("on", on); }

function setBusy(label) {
  busy = Boolean(label);
  for (const task of ["harmonize", "compose"]) $(task).disabled = busy || task in off;
  show($("status"), busy);
  if (!busy) return;
  const start = performance.now();
  const tick = () => {
    if (!busy) return;
    $("status-text").textContent = `${label}… ${((performance.now() - start) / 1000).toFixed(0)} s`;
    setTimeout(tick, 250);
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

function display(data, title) {
  $("title").textContent = title + ` (seed ${data.seed}, ${data.seconds} s)`;
  const notes = $("notes");
  notes.replaceChildren(...data.messages.map((m) => { const li = document.createElement("li"); li.textContent = m; return li; }));
  const score = $("score");
  score.replaceChildren(...data.files.score.map((url, k) => {
    const img = document.createElement("img");
    img.src = withToken(url); img.alt = `score, page ${k + 1}`; img.className = "score-page";
    return img;
  }));
  drawRoll(data.files.midi);
  const player = $("player");
  if (data.files.audio) { player.src = withToken(data.files.audio); player.hidden = false; player.load(); }
  else { player.removeAttribute("src"); player.hidden = true; }
  link("dl-midi", data.files.midi);
  link("dl-musicxml", data.files.musicxml);
  link("dl-wav", data.files.audio);
  show($("result"), true);
  $("empty").hidden = true;
}

async function run(url, body, label, title) {
  if (busy) return;
  show($("error"), false);
  setBusy(label);
  try {
    const answer = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-Token": TOKEN }, body: JSON.stringify(body) });
    let data;
    try { data = await answer.json(); } catch { data = { error: `the server answered ${answer.status} ${answer.statusText}` }; }
    if (!answer.ok || data.error) fail(data.error || `the server answered ${answer.status}`);
    else display(data, title);
  } catch (e) {
    fail(`no answer from the server (${e.message}): is it still running?`);
  } finally {
    setBusy(null);
  }
}

// --- the piano roll, drawn from the MIDI file itself (a Standard MIDI File: one track per voice) ---
const VOICE_COLOURS = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4"];  // soprano to bass, as the package's --plot

function parseMidi(buffer) {
  const d = new DataView(buffer);
  let p = 0;
  const text = (n) => { let s = ""; for (let i = 0; i < n; i++) s += String.fromCharCode(d.getUint8(p + i)); p += n; return s; };
  const vlq = () => { let n = 0, b; do { b = d.getUint8(p++); n = n * 128 + (b & 0x7f); } while (b & 0x80); return n; };
  if (text(4) !== "MThd") throw new Error("not a MIDI file");
  const headerEnd = p + 4 + d.getUint32(p);
  const count = d.getUint16(p + 6), division = d.getUint16(p + 8);
  p = headerEnd;
  const tracks = [];
  for (let t = 0; t < count && p + 8 <= d.byteLength; t++) {
    const id = text(4), end = p + 4 + d.getUint32(p);
    p += 4;
    const notes = [], open = new Map();
    let tick = 0, status = 0, name = "";
    while (id === "MTrk" && p < end) {
      tick += vlq();
      if (d.getUint8(p) & 0x80) status = d.getUint8(p++);  // else: running status
      if (status === 0xff) {
        const type = d.getUint8(p++), n = vlq();
        if (type === 3) name = text(n); else p += n;
      } else if (status === 0xf0 || status === 0xf7) {
        p += vlq();
      } else {
        const kind = status & 0xf0, key = d.getUint8(p++);
        const velocity = kind === 0xc0 || kind === 0xd0 ? 0 : d.getUint8(p++);
        if (kind === 0x90 && velocity > 0) {
          open.set(key, [...(open.get(key) || []), tick]);
        } else if ((kind === 0x80 || kind === 0x90) && (open.get(key) || []).length) {
          const start = open.get(key).shift();
          if (tick > start) notes.push([start / division, (tick - start) / division, key]);
        }
      }
    }
    p = end;
    if (notes.length) tracks.push({ name, notes });
  }
  return tracks;
}

async function drawRoll(url) {
  const canvas = $("roll");
  delete canvas.dataset.notes;
  let tracks;
  try {
    const answer = await fetch(url, { headers: { "X-Token": TOKEN } });
    tracks = parseMidi(await answer.arrayBuffer());
  } catch (e) {
    $("legend").textContent = `no piano roll (${e.message})`;
    return;
  }
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

$("harmonize").addEventListener("click", async () => {
  const body = { temperature: changed("h-temperature"), seed: $("h-seed").value || undefined };
  const file = $("melody-file").files[0];
  let title = "Harmonization";
  if (file) {
    if (file.size > uploadLimit) { fail(`${file.name}: too large (${(file.size / 1048576).toFixed(1)} MB; at most ${uploadLimit / 1048576} MB)`); return; }
    body.file = { name: file.name, data: await readFile(file) };
    title = `Harmonization of ${file.name}`;
  } else {
    body.melody = $("melody").value;
  }
  run("/api/harmonize", body, "Harmonizing", title);
});

$("compose").addEventListener("click", () => {
  run("/api/compose", { length: changed("length"), temperature: changed("temperature"), seed: $("seed").value || undefined },
      "Composing", "A new chorale");
});

$("melody-file").addEventListener("change", () => { $("clear-file").hidden = !$("melody-file").files.length; });
$("clear-file").addEventListener("click", () => { $("melody-file").value = ""; $("clear-file").hidden = true; });

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
  if (info.defaults.length !== undefined) $("length").defaultValue = info.defaults.length;
}).catch((e) => {
  $("run").textContent = "the server did not answer";
  if (e.message === NO_TOKEN) { fail(NO_TOKEN); for (const task of ["harmonize", "compose"]) $(task).disabled = true; }
});
