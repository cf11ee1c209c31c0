"use strict";
// The result and its versions (serve.html #result): the engraved score inline (Verovio's SVG, its <style> left
// out for the page's CSP; serve.css has its rules), a cursor that follows the sound (the score's timemap), bars
// chosen by a click and rewritten (POST /api/rewrite), undo and redo between versions, each one's files.
const Versions = (() => {
  const history = [];  // the chain undo and redo walk
  const all = [];  // every version this tab made, for the list of downloads
  let index = -1, chosen = null;  // chosen: [first bar, last bar]
  let off = null;  // why bars cannot be rewritten here (the server's info), or null
  let timemap = { notes: [], measures: [] }, barOf = new Map(), lit = [], cursor = null;
  const current = () => history[index] || null;

  function add(data) {
    history.splice(index + 1);
    history.push(data);
    all.push(data);
    index = history.length - 1;
    show();
  }
  function move(by) {
    if (!history[index + by]) return;
    Synth.stop();
    index += by;
    show();
  }

  async function show() {
    const data = current();
    chosen = null;
    $("title").textContent = `${data.title} (seed ${data.seed}, ${data.seconds} s)`;
    $("notes").replaceChildren(...data.messages.map((m) => { const li = document.createElement("li"); li.textContent = m; return li; }));
    link("dl-midi", data.files.midi);
    link("dl-musicxml", data.files.musicxml);
    link("dl-wav", data.files.audio);
    const player = $("player");
    if (data.files.audio) { player.src = withToken(data.files.audio); player.hidden = false; }
    else { player.removeAttribute("src"); player.hidden = true; }
    $("undo").disabled = index <= 0;
    $("redo").disabled = index >= history.length - 1;
    $("version-label").textContent = `version ${all.indexOf(data) + 1} of ${all.length}` + (data.change ? ` (${data.change})` : "");
    $("versions").replaceChildren(...all.map((v, k) => {
      const li = document.createElement("li");
      li.textContent = `${v.title}${v.change ? ` — ${v.change}` : ""} `;
      for (const [name, url] of [["MIDI", v.files.midi], ["MusicXML", v.files.musicxml], ["WAV", v.files.audio]]) {
        if (!url) continue;
        const a = document.createElement("a");
        a.href = withToken(url); a.download = `v${k + 1}-${url.split("/").pop()}`; a.textContent = name;
        li.append(a, " ");
      }
      if (v === data) li.className = "current";
      return li;
    }));
    $("result").classList.add("on");
    $("empty").hidden = true;
    drawRoll(data.voices);  // once shown: a hidden canvas has no width
    updateChoice();
    await drawScore(data);
  }

  async function drawScore(data) {
    const score = $("score");
    score.dataset.ready = "";
    const get = (url) => fetch(url, { headers: { "X-Token": TOKEN } }).then((r) => { if (!r.ok) throw new Error(`${r.status}`); return r; });
    try {
      // The timemap comes once the score is engraved (after the answer), and names its pages.
      const map = data.files.timemap ? await get(data.files.timemap).then((r) => r.json()) : { notes: [], measures: [] };
      const folder = data.files.score[0].replace(/[^/]*$/, "");
      const urls = map.pages ? map.pages.map((name) => folder + name) : data.files.score;
      const pages = await Promise.all(urls.map((url) => get(url).then((r) => r.text())));
      if (current() !== data) return;  // another version was chosen meanwhile
      timemap = map;
      barOf = new Map(map.measures.map(([, id], k) => [id, k + 1]));
      score.replaceChildren(...pages.map((text, k) => {
        const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
        for (const bad of svg.querySelectorAll("style, script, foreignObject")) bad.remove();
        for (const e of [svg, ...svg.querySelectorAll("*")]) for (const a of [...e.attributes]) if (/^on/i.test(a.name) || a.name === "style") e.removeAttribute(a.name);
        const page = document.createElement("div");
        page.className = "score-page";
        page.setAttribute("aria-label", `score, page ${k + 1}`);
        page.appendChild(document.importNode(svg, true));
        return page;
      }));
      for (const m of score.querySelectorAll("g.measure")) if (barOf.has(m.id)) m.dataset.bar = barOf.get(m.id);
      score.dataset.ready = "1";
      score.dataset.bars = barOf.size;
    } catch (e) {
      score.textContent = `no score (${e.message})`;
    }
  }

  // --- the cursor ---
  function follow(q) {
    let k = -1;
    for (let i = 0; i < timemap.notes.length && timemap.notes[i][0] <= q + 1e-6; i++) k = i;
    const ids = k >= 0 ? timemap.notes[k][1] : [];
    for (const e of lit) e.classList.remove("playing");
    lit = ids.map((id) => document.getElementById(id)).filter(Boolean);
    for (const e of lit) e.classList.add("playing");
    if (cursor) cursor.remove();
    cursor = null;
    const first = lit[0];
    const measure = first && first.closest("g.measure");
    if (measure) {
      const note = first.getBBox(), box = measure.getBBox();
      cursor = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      for (const [a, v] of Object.entries({ x: note.x + note.width / 2 - 12, y: box.y - 40, width: 24, height: box.height + 80, class: "cursor-line" })) cursor.setAttribute(a, v);
      measure.insertBefore(cursor, measure.firstChild);
    }
    $("score").dataset.cursor = q.toFixed(2);
    $("clock").textContent = `${Math.floor(q / (current()?.bar_length || 4)) + 1}`;
  }
  function clearCursor() {
    for (const e of lit) e.classList.remove("playing");
    lit = [];
    if (cursor) cursor.remove();
    cursor = null;
    $("play").textContent = "▶ Play";
    $("clock").textContent = "";
  }
  function play() {
    const data = current();
    if (!data) return;
    if (Synth.playing("score")) { Synth.stop(); return; }
    $("play").textContent = "■ Stop";
    const from = chosen ? Math.max(0, data.pickup + (chosen[0] - 1 - (data.pickup > 0 ? 1 : 0)) * data.bar_length) : 0;
    Synth.play(data.voices, data.bpm, follow, clearCursor, from, "score");
  }

  // --- choosing bars and voices, rewriting ---
  function pick(event) {
    const measure = event.target.closest("g.measure[data-bar]");
    if (!measure) return;
    const bar = Number(measure.dataset.bar);
    chosen = event.shiftKey && chosen ? [Math.min(chosen[0], bar), Math.max(chosen[1], bar)] : [bar, bar];
    updateChoice();
  }
  function voices() { return [...document.querySelectorAll("#edit [data-voice]")].filter((b) => b.checked).map((b) => b.dataset.voice); }
  function updateChoice() {
    for (const r of document.querySelectorAll("#score .bar-chosen")) r.remove();
    const data = current();
    $("bars-label").textContent = !chosen ? "click a bar of the score (Shift: several)"
      : chosen[0] === chosen[1] ? `bar ${chosen[0]}` : `bars ${chosen[0]}–${chosen[1]}`;
    $("rewrite").disabled = Boolean(off) || !chosen || !voices().length || !data || busy;
    $("reharmonize").disabled = Boolean(off) || !voices().length || !data || busy;
    $("edit").dataset.off = off || "";
    if (!chosen) return;
    for (const m of document.querySelectorAll("#score g.measure[data-bar]")) {
      const bar = Number(m.dataset.bar);
      if (bar < chosen[0] || bar > chosen[1]) continue;
      const box = m.getBBox(), r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      for (const [a, v] of Object.entries({ x: box.x, y: box.y - 30, width: box.width, height: box.height + 60, class: "bar-chosen" })) r.setAttribute(a, v);
      m.insertBefore(r, m.firstChild);
    }
  }
  function rewrite(bars) {
    const data = current();
    if (!data) return;
    const body = { version: data.id, bars, voices: voices(), temperature: changed("h-temperature") };
    const what = bars[0] === bars[1] ? `bar ${bars[0]}` : `bars ${bars[0]}–${bars[1]}`;
    run("/api/rewrite", body, `Rewriting ${what}`);
  }

  function init() {
    $("undo").addEventListener("click", () => move(-1));
    $("redo").addEventListener("click", () => move(1));
    $("play").addEventListener("click", play);
    $("score").addEventListener("click", pick);
    $("rewrite").addEventListener("click", () => chosen && rewrite(chosen));
    $("reharmonize").addEventListener("click", () => current() && rewrite([1, current().bars]));
    for (const b of document.querySelectorAll("#edit [data-voice]")) b.addEventListener("change", updateChoice);
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea, #staff") || !current()) return;
      const z = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z";
      if (z) { move(event.shiftKey ? 1 : -1); event.preventDefault(); }
      else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "y") { move(1); event.preventDefault(); }
    });
  }

  function setOff(why) {
    off = why || null;
    for (const id of ["rewrite", "reharmonize"]) $(id).title = off || "";
    $("edit-off").textContent = off ? `Rewriting is off: ${off}` : "";
    updateChoice();
  }

  return { add, init, current, updateChoice, setOff, choose: (a, b) => { chosen = [a, b]; updateChoice(); } };
})();
