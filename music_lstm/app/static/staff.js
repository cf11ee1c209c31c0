"use strict";
// The tune's staff (serve.html #staff): notes placed by a click (the height is the pitch, the palette the length),
// by the computer keyboard (a-g, digits, arrows, backspace, Ctrl+Z), the on-screen piano or a MIDI keyboard; drawn
// as SVG with the Leipzig glyphs (vendor/leipzig.js). The tune is kept as tinyNotation in #melody, both ways.
const Staff = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const LETTERS = "cdefgab", SEMITONES = [0, 2, 4, 5, 7, 9, 11];
  const SHARP_ORDER = "fcgdaeb", FLAT_ORDER = "beadgcf";
  const GAP = 8, ROW = 96, TOP = 30, LEFT = 64;  // staff space, row height, first line's y in a row, clef room
  const STEP_TOP = 5 * 7 + 3;  // F5, the top line
  const NAMES = { 4: "1", 2: "2", 1: "4", 0.5: "8", 0.25: "16" };
  let notes = [];  // {step (octave * 7 + letter), alter (-1, 0, 1), rest, d (quarters), tie, fermata}
  let at = 0;  // where the next note goes (the note before it is the selected one)
  let picked = false;  // a note was chosen (a click, an arrow): the palette changes it
  let len = 1, dotted = false, meter = "4/4", sharps = 0;
  const history = [];
  let onChange = () => {};

  const keyAlter = (letter) => {
    if (sharps > 0) return SHARP_ORDER.slice(0, sharps).includes(letter) ? 1 : 0;
    if (sharps < 0) return FLAT_ORDER.slice(0, -sharps).includes(letter) ? -1 : 0;
    return 0;
  };
  const midiOf = (n) => 12 * (Math.floor(n.step / 7) + 1) + SEMITONES[n.step % 7] + n.alter;
  const barLength = () => { const [a, b] = meter.split("/").map(Number); return (4 * a) / b; };
  const clampStep = (s) => Math.max(3 * 7 + 5, Math.min(6 * 7 + 2, s));  // A3 to E6

  function save() { history.push(JSON.stringify({ notes, at })); if (history.length > 200) history.shift(); }
  function undo() { const last = history.pop(); if (last) ({ notes, at } = JSON.parse(last)); changed(); }
  function changed(fromText = false) {
    draw();
    if (!fromText && document.activeElement !== $("melody")) $("melody").value = tiny();  // never under the typing
    onChange();
  }

  function nearest(letter, from) {  // the step of `letter` nearest the step `from`
    const i = LETTERS.indexOf(letter);
    let best = null;
    for (let octave = 3; octave <= 6; octave++) {
      const s = octave * 7 + i;
      if (s !== clampStep(s)) continue;  // out of the staff's reach
      if (best === null || Math.abs(s - from) < Math.abs(best - from)) best = s;
    }
    return best;
  }
  const lastPitched = () => { for (let k = at - 1; k >= 0; k--) if (!notes[k].rest) return notes[k].step; return 5 * 7; };

  function place(step, alter = null, rest = false) {
    save();
    step = clampStep(step);
    const n = { step, alter: alter === null ? keyAlter(LETTERS[step % 7]) : alter, rest, d: len * (dotted ? 1.5 : 1),
                tie: false, fermata: false };
    notes.splice(at, 0, n);
    at += 1;
    picked = false;
    changed();
    if (!rest) Synth.play([[[0, Math.min(n.d, 1), midiOf(n)]]], 90, null, null, 0, "note");
  }
  function placeMidi(midi) {  // a key of a piano: spelled in the key's direction
    const pc = ((midi % 12) + 12) % 12, octave = Math.floor(midi / 12) - 1;
    let i = SEMITONES.indexOf(pc), alter = 0;
    if (i < 0) { if (sharps < 0) { i = SEMITONES.indexOf(pc + 1); alter = -1; } else { i = SEMITONES.indexOf(pc - 1); alter = 1; } }
    place(octave * 7 + i, alter);
  }
  function modify(fn) {
    const n = notes[at - 1];
    if (!n) return;
    save();
    fn(n);
    changed();
    if (!n.rest) Synth.play([[[0, Math.min(n.d, 1), midiOf(n)]]], 90, null, null, 0, "note");
  }

  // --- tinyNotation, both ways ---
  function pitchText(n) {
    const letter = LETTERS[n.step % 7], octave = Math.floor(n.step / 7);
    const acc = n.alter > 0 ? "#" : n.alter < 0 ? "-" : "";  // tinyNotation's pitches are absolute: no key applies
    if (octave >= 4) return letter + acc + "'".repeat(octave - 4);
    return letter.toUpperCase().repeat(4 - octave) + acc;
  }
  function durText(d) {
    for (const [q, name] of Object.entries(NAMES)) {
      if (Math.abs(d - q) < 1e-6) return name;
      if (Math.abs(d - 1.5 * q) < 1e-6) return name + ".";
    }
    return "4";
  }
  function tiny() {
    const body = notes.map((n) => (n.rest ? "r" : pitchText(n)) + durText(n.d) + (n.tie && !n.rest ? "~" : "") + (n.fermata ? "^" : ""));
    return `tinyNotation: ${meter} ${body.join(" ")}`.trim();
  }
  function readTiny(text) {  // the subset the staff writes (and most typed tunes); null when it is not that
    let body = text.trim().replace(/^tinyNotation:\s*/, "");
    const m = body.match(/^(\d+)\/(\d+)\s*/);
    let given = null;
    if (m) { given = `${m[1]}/${m[2]}`; body = body.slice(m[0].length); }
    const out = [];
    let last = 4;
    for (const token of body.split(/\s+/).filter(Boolean)) {
      const t = token.match(/^(?:(r)|([A-G]+|[a-g])(#|-|n)?('*))(\d+)?(\.?)(~?)(\^?)$/);
      if (!t) return null;
      if (t[5]) { const d = { 1: 4, 2: 2, 4: 1, 8: 0.5, 16: 0.25 }[t[5]]; if (!d) return null; last = d; }
      const d = last * (t[6] ? 1.5 : 1);
      if (t[1]) { out.push({ step: 4 * 7 + 6, alter: 0, rest: true, d, tie: false, fermata: Boolean(t[8]) }); continue; }
      const name = t[2], letter = name[0].toLowerCase();
      const octave = name === name.toLowerCase() ? 4 + t[4].length : 4 - name.length;
      const alter = t[3] === "#" ? 1 : t[3] === "-" ? -1 : t[3] === "n" ? 0 : null;
      out.push({ step: octave * 7 + LETTERS.indexOf(letter), alter, rest: false, d, tie: Boolean(t[7]), fermata: Boolean(t[8]) });
    }
    return { notes: out, meter: given };
  }
  function fromText() {
    const read = readTiny($("melody").value);
    $("staff").classList.toggle("stale", !read);
    if (!read) return;
    if (read.meter) { meter = read.meter; if ([...$("meter").options].some((o) => o.value === meter)) $("meter").value = meter; }
    notes = read.notes.map((n) => ({ ...n, alter: n.alter === null ? keyAlter(LETTERS[n.step % 7]) : n.alter }));
    at = notes.length;
    changed(true);
  }

  // --- drawing ---
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  };
  const glyph = (name, x, y, parent, cls = "", size = 1) =>
    el("path", { d: LEIPZIG[name], class: cls, transform: `translate(${x},${y}) scale(${(size * 4 * GAP) / 1000},${(-size * 4 * GAP) / 1000})` }, parent);
  let layout = [];  // per note: {row, x, y}; per row: {y, bars: [[x0, x1, bar]]}
  let rows = [];

  function draw() {
    const box = $("staff"), width = Math.max(300, box.clientWidth || 420);
    const bar = barLength(), perRow = Math.max(1, Math.floor((width - LEFT) / 125));
    const onsets = [];
    let t = 0;
    for (const n of notes) { onsets.push(t); t += n.d; }
    const bars = Math.max(1, Math.ceil((t + 1e-9) / bar) + (Math.abs(t / bar - Math.round(t / bar)) < 1e-9 ? 1 : 0));
    const rowCount = Math.ceil(bars / perRow), barWidth = (width - LEFT - 6) / perRow;
    const svg = el("svg", { width, height: rowCount * ROW + 10, viewBox: `0 0 ${width} ${rowCount * ROW + 10}`, class: "staff-svg" });
    rows = [];
    for (let r = 0; r < rowCount; r++) {
      const y0 = r * ROW + TOP;
      for (let k = 0; k < 5; k++) el("line", { x1: 4, x2: width - 4, y1: y0 + k * GAP, y2: y0 + k * GAP, class: "line" }, svg);
      glyph("gClef", 8, y0 + 3 * GAP, svg, "ink");
      const order = sharps >= 0 ? SHARP_ORDER : FLAT_ORDER;
      for (let k = 0; k < Math.abs(sharps); k++) {
        const letter = order[k], base = sharps > 0 ? (letter === "a" || letter === "b" ? 4 : 5) : (letter === "c" || letter === "f" ? 5 : 4);
        const step = base * 7 + LETTERS.indexOf(letter);
        glyph(sharps > 0 ? "sharp" : "flat", 34 + k * 7, y0 + ((STEP_TOP - step) * GAP) / 2, svg, "ink");
      }
      if (r === 0) {
        const [a, b] = meter.split("/");
        [...a].forEach((c, i) => glyph(`t${c}`, 38 + Math.abs(sharps) * 7 + i * 10, y0 + GAP, svg, "ink"));
        [...b].forEach((c, i) => glyph(`t${c}`, 38 + Math.abs(sharps) * 7 + i * 10, y0 + 3 * GAP, svg, "ink"));
      }
      const spans = [];
      for (let k = 0; k < perRow && r * perRow + k < bars; k++) {
        const x0 = LEFT + Math.abs(sharps) * 7 + k * (barWidth - (Math.abs(sharps) * 7) / perRow);
        const x1 = x0 + barWidth - (Math.abs(sharps) * 7) / perRow;
        spans.push([x0, x1, r * perRow + k]);
        el("line", { x1, x2: x1, y1: y0, y2: y0 + 4 * GAP, class: "line" }, svg);
      }
      rows.push({ y: y0, spans });
    }
    layout = notes.map((n, i) => {
      const b = Math.floor(onsets[i] / bar + 1e-9), row = Math.floor(b / perRow), span = rows[row].spans[b % perRow];
      const x = span[0] + 14 + ((onsets[i] - b * bar) / bar) * (span[1] - span[0] - 22);
      const y = rows[row].y + ((STEP_TOP - n.step) * GAP) / 2;
      return { row, x, y };
    });
    notes.forEach((n, i) => drawNote(svg, n, layout[i], i));
    // the insertion point: after the selected note
    const cur = at > 0 ? layout[at - 1] : null;
    const cx = cur ? cur.x + 12 : rows[0].spans[0][0] + 6, cy = cur ? rows[cur.row].y : rows[0].y;
    el("line", { x1: cx, x2: cx, y1: cy - 10, y2: cy + 4 * GAP + 10, class: "insert" }, svg);
    svg.addEventListener("click", click);
    box.replaceChildren(svg);
    box.dataset.notes = notes.length;
  }

  function drawNote(svg, n, p, i) {
    const g = el("g", { class: "note" + (i === at - 1 ? " selected" : ""), "data-index": i }, svg);
    const base = isDotted(n.d) ? n.d / 1.5 : n.d;
    const y0 = rows[p.row].y;
    if (n.rest) {
      const name = { 4: "restWhole", 2: "restHalf", 1: "restQuarter", 0.5: "rest8", 0.25: "rest16" }[base] || "restQuarter";
      glyph(name, p.x - 4, y0 + (name === "restWhole" ? GAP : 2 * GAP), g, "ink");
    } else {
      for (let s = 28; s >= n.step; s -= 2) el("line", { x1: p.x - 8, x2: p.x + 8, y1: y0 + ((STEP_TOP - s) * GAP) / 2, y2: y0 + ((STEP_TOP - s) * GAP) / 2, class: "line" }, g);
      for (let s = 40; s <= n.step; s += 2) el("line", { x1: p.x - 8, x2: p.x + 8, y1: y0 + ((STEP_TOP - s) * GAP) / 2, y2: y0 + ((STEP_TOP - s) * GAP) / 2, class: "line" }, g);
      const head = base >= 4 ? "whole" : base >= 2 ? "half" : "black";
      glyph(head, p.x - 5, p.y, g, "ink");
      if (n.alter !== keyAlter(LETTERS[n.step % 7])) glyph(n.alter > 0 ? "sharp" : n.alter < 0 ? "flat" : "natural", p.x - 15, p.y, g, "ink");
      if (base < 4) {
        const up = n.step < 5 * 7 - 1;  // below the middle line (B4): stem up
        const sx = up ? p.x + 4.4 : p.x - 4.6, sy = up ? p.y - 3.5 * GAP : p.y + 3.5 * GAP;
        el("line", { x1: sx, x2: sx, y1: p.y, y2: sy, class: "stem" }, g);
        if (base <= 0.5) glyph(base <= 0.25 ? (up ? "flag16Up" : "flag16Down") : (up ? "flag8Up" : "flag8Down"), sx - 0.5, sy, g, "ink");
      }
    }
    if (isDotted(n.d)) el("circle", { cx: p.x + 10, cy: p.y - ((STEP_TOP - n.step) % 2 === 0 ? GAP / 2 : 0), r: 1.6, class: "ink" }, g);
    if (n.tie && !n.rest) el("path", { d: `M ${p.x + 4} ${p.y + 6} q 14 8 28 0`, class: "tie" }, g);
    if (n.fermata) glyph("fermata", p.x - 8, y0 - GAP * 1.2, g, "ink");
    el("rect", { x: p.x - 9, y: Math.min(p.y, y0) - 10, width: 18, height: Math.abs(p.y - y0) + 4 * GAP + 20, class: "hit" }, g);
  }
  function isDotted(d) { return Object.keys(NAMES).some((q) => Math.abs(d - 1.5 * q) < 1e-6); }

  function click(event) {
    const svg = event.currentTarget, pt = svg.getBoundingClientRect();
    const x = event.clientX - pt.left, y = event.clientY - pt.top;
    const hit = event.target.closest("g.note");
    $("staff").focus();
    if (hit) { at = Number(hit.dataset.index) + 1; picked = true; draw(); return; }
    const row = Math.max(0, Math.min(rows.length - 1, Math.floor((y - TOP + ROW / 2 - 2 * GAP) / ROW)));
    const step = Math.round(STEP_TOP - ((y - rows[row].y) * 2) / GAP);
    // A click in a row before the end inserts there; else the note goes at the end.
    const before = layout.findIndex((p) => p.row > row || (p.row === row && p.x > x));
    at = before < 0 ? notes.length : before;
    if (mark === "rest") { place(5 * 7 - 1, 0, true); return; }
    place(step, accidental);
    accidental = null;
    setTools();
  }

  let mark = null, accidental = null;  // the palette's one-shot marks for the next click
  function setTools() {
    for (const b of document.querySelectorAll("#palette .tool")) {
      if (b.dataset.len) b.classList.toggle("on", Number(b.dataset.len) === len);
      if (b.dataset.mark === "dot") b.classList.toggle("on", dotted);
      if (b.dataset.mark === "rest") b.classList.toggle("on", mark === "rest");
      if (["sharp", "flat", "natural"].includes(b.dataset.mark)) b.classList.toggle("on", accidental === { sharp: 1, flat: -1, natural: 0 }[b.dataset.mark]);
    }
  }
  function setLength(q) {
    len = q;
    if (picked) modify((n) => { n.d = q * (isDotted(n.d) ? 1.5 : 1); });
    setTools();
  }
  function tool(b) {
    if (b.dataset.len) { setLength(Number(b.dataset.len)); return; }
    const m = b.dataset.mark, act = b.dataset.do;
    if (act === "undo") undo();
    else if (act === "clear") { save(); notes = []; at = 0; changed(); }
    else if (m === "dot") { dotted = !dotted; if (picked) modify((n) => { n.d = isDotted(n.d) ? n.d / 1.5 : n.d * 1.5; }); }
    else if (m === "rest") { mark = mark === "rest" ? null : "rest"; }
    else if (m === "tie") modify((n) => { n.tie = !n.tie; });
    else if (m === "fermata") modify((n) => { n.fermata = !n.fermata; });
    else {
      const alter = { sharp: 1, flat: -1, natural: 0 }[m];
      if (picked) modify((n) => { n.alter = alter; });
      else accidental = accidental === alter ? null : alter;
    }
    setTools();
  }

  function key(event) {
    const k = event.key;
    if ((event.ctrlKey || event.metaKey) && k.toLowerCase() === "z") { undo(); event.preventDefault(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[a-g]$/.test(k)) place(nearest(k, lastPitched()), accidental);
    else if (k === "r") place(5 * 7 - 1, 0, true);
    else if ({ 1: 4, 2: 2, 4: 1, 8: 0.5, 6: 0.25 }[k]) setLength({ 1: 4, 2: 2, 4: 1, 8: 0.5, 6: 0.25 }[k]);
    else if (k === ".") tool(document.querySelector('#palette [data-mark="dot"]'));
    else if (k === "t" || k === "~") modify((n) => { n.tie = !n.tie; });
    else if (k === "^") modify((n) => { n.fermata = !n.fermata; });
    else if (k === "#" || k === "-" || k === "n") modify((n) => { n.alter = { "#": 1, "-": -1, n: 0 }[k]; });
    else if (k === "ArrowUp" || k === "ArrowDown") {
      const by = (k === "ArrowUp" ? 1 : -1) * (event.shiftKey ? 7 : 1);
      modify((n) => { n.step = clampStep(n.step + by); n.alter = keyAlter(LETTERS[n.step % 7]); });
    } else if (k === "ArrowLeft") { at = Math.max(0, at - 1); picked = true; draw(); }
    else if (k === "ArrowRight") { at = Math.min(notes.length, at + 1); picked = true; draw(); }
    else if (k === "Backspace" || k === "Delete") { if (at > 0) { save(); notes.splice(at - 1, 1); at -= 1; changed(); } }
    else return;
    event.preventDefault();
  }

  function piano() {
    const box = $("piano");
    for (let midi = 60; midi <= 84; midi++) {
      const black = [1, 3, 6, 8, 10].includes(midi % 12);
      const b = document.createElement("button");
      b.type = "button"; b.className = black ? "key black" : "key white"; b.dataset.midi = midi;
      b.title = `${"C C# D D# E F F# G G# A A# B".split(" ")[midi % 12]}${Math.floor(midi / 12) - 1}`;
      b.addEventListener("click", () => placeMidi(midi));
      box.appendChild(b);
    }
  }
  function webMidi() {
    if (!navigator.requestMIDIAccess) return;
    const button = $("midi-in");
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        const access = await navigator.requestMIDIAccess();
        const listen = () => { for (const input of access.inputs.values()) input.onmidimessage = (m) => {
          const [status, note, velocity] = m.data;
          if ((status & 0xf0) === 0x90 && velocity > 0) placeMidi(note);
        }; };
        listen();
        access.onstatechange = listen;
        button.textContent = `MIDI keyboard: ${access.inputs.size} connected`;
      } catch (e) { button.textContent = "no MIDI keyboard allowed"; }
    });
  }

  // The key offered from the notes: Krumhansl-Kessler profiles against the durations of each pitch class; between
  // a key and its relative one, the one whose tonic the tune ends on (as the server's melody_key chooses).
  const MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
  const MINOR = [6.33, 2.68, 3.52, 5.38, 2.6, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];
  function suggestKey() {
    const pitched = notes.filter((n) => !n.rest);
    if (!pitched.length) return null;
    const weight = new Array(12).fill(0);
    for (const n of pitched) weight[((midiOf(n) % 12) + 12) % 12] += n.d;
    const corr = (profile, tonic) => {
      const xs = weight, ys = xs.map((_, i) => profile[(i - tonic + 12) % 12]);
      const mx = xs.reduce((a, b) => a + b) / 12, my = ys.reduce((a, b) => a + b) / 12;
      let num = 0, dx = 0, dy = 0;
      for (let i = 0; i < 12; i++) { num += (xs[i] - mx) * (ys[i] - my); dx += (xs[i] - mx) ** 2; dy += (ys[i] - my) ** 2; }
      return num / Math.sqrt(dx * dy || 1);
    };
    let best = null;
    for (let t = 0; t < 12; t++) for (const [mode, p] of [["major", MAJOR], ["minor", MINOR]]) {
      const c = corr(p, t);
      if (!best || c > best.c) best = { t, mode, c };
    }
    const last = ((midiOf(pitched[pitched.length - 1]) % 12) + 12) % 12;
    if (best.t !== last) {
      const rel = best.mode === "major" ? { t: (best.t + 9) % 12, mode: "minor" } : { t: (best.t + 3) % 12, mode: "major" };
      if (rel.t === last) best = rel;
    }
    return { tonic: best.t, mode: best.mode };
  }

  function setKey(s) { sharps = s; draw(); }  // the notes keep their pitches, and the text with them
  function setMeter(m) { meter = m; changed(); }

  function init(listener) {
    onChange = listener;
    for (const b of document.querySelectorAll("#palette .tool")) b.addEventListener("click", () => { tool(b); $("staff").focus(); });
    $("staff").addEventListener("keydown", key);
    $("melody").addEventListener("input", fromText);
    piano();
    webMidi();
    fromText();
    at = notes.length;
    window.addEventListener("resize", draw);
  }

  function midiNotes() {  // the tune as [offset, duration, pitch], tied notes joined
    const out = [];
    let t = 0;
    notes.forEach((n, i) => {
      if (!n.rest) {
        if (i > 0 && notes[i - 1].tie && !notes[i - 1].rest && out.length) out[out.length - 1][1] += n.d;
        else out.push([t, n.d, midiOf(n)]);
      }
      t += n.d;
    });
    return out;
  }

  return { init, tiny, suggestKey, setKey, setMeter, undo, midiNotes, count: () => notes.length };
})();
