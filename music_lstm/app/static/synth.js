"use strict";
// The page's own sound: the notes it was answered with, played at once by WebAudio (no server WAV waited for).
// Each note is one oscillator on a small organ-like wave (a few harmonics) under an envelope; the four voices
// are panned a little apart. `Synth.play(voices, bpm, onTime, onEnd, from, kind)` calls onTime(quarter notes)
// every frame while it plays, for the score's cursor; `kind` names what plays ("score", "tune", "note"), so that
// a button stops only its own sound (`Synth.playing(kind)`) and starts its own over a note's preview. A play ends
// by a timer at its last note, not by animation frames, which a hidden page does not draw.
const Synth = (() => {
  let ctx = null, wave = null, running = null;
  const PAN = [-0.25, -0.1, 0.1, 0.25];  // soprano to bass
  const GAIN = [0.16, 0.11, 0.11, 0.13];

  function context() {
    if (!ctx) {
      ctx = new (window.AudioContext || window.webkitAudioContext)();
      const real = new Float32Array([0, 1, 0.45, 0.22, 0.12, 0.06, 0.03]);  // an organ's flue pipe, roughly
      wave = ctx.createPeriodicWave(real, new Float32Array(real.length));
    }
    return ctx;
  }

  function note(ac, out, start, seconds, pitch, gain) {
    const osc = ac.createOscillator(), env = ac.createGain();
    osc.setPeriodicWave(wave);
    osc.frequency.value = 440 * 2 ** ((pitch - 69) / 12);
    const end = start + Math.max(0.05, seconds - 0.02);
    env.gain.setValueAtTime(0, start);
    env.gain.linearRampToValueAtTime(gain, start + 0.015);
    env.gain.setTargetAtTime(gain * 0.75, start + 0.015, 0.15);
    env.gain.setTargetAtTime(0, end, 0.04);
    osc.connect(env).connect(out);
    osc.start(start);
    osc.stop(end + 0.3);
  }

  function stop() {
    if (!running) return;
    const r = running;
    running = null;
    cancelAnimationFrame(r.frame);
    clearTimeout(r.timer);
    r.out.gain.setTargetAtTime(0, ctx.currentTime, 0.02);
    setTimeout(() => r.out.disconnect(), 200);
    if (r.onEnd) r.onEnd();
  }

  // voices: [[[offset, duration, pitch], ...], ...] in quarter notes; from: the quarter note to start at.
  async function play(voices, bpm, onTime, onEnd, from = 0, kind = "score") {
    stop();
    const ac = context();
    if (ac.state !== "running") await ac.resume();
    const out = ac.createGain();
    out.gain.value = 1;
    out.connect(ac.destination);
    const beat = 60 / bpm, t0 = ac.currentTime + 0.08;
    let end = 0;
    voices.forEach((voice, v) => {
      const pan = ac.createStereoPanner ? ac.createStereoPanner() : null;
      const bus = pan || out;
      if (pan) { pan.pan.value = voices.length === 4 ? PAN[v] : 0; pan.connect(out); }
      for (const [o, d, p] of voice) {
        end = Math.max(end, o + d);
        if (o + d <= from) continue;
        const start = Math.max(o, from);
        note(ac, bus, t0 + (start - from) * beat, (o + d - start) * beat, p, voices.length === 4 ? GAIN[v] : 0.2);
      }
    });
    const r = { out, onEnd, kind, frame: 0, timer: 0 };
    running = r;
    r.timer = setTimeout(() => { if (running === r) stop(); }, ((end + 0.25 - from) * beat + 0.08) * 1000);
    const tick = () => {
      if (running !== r) return;
      const q = from + Math.max(0, ac.currentTime - t0) / beat;
      window.synthState = { state: ac.state, quarter: q, end, kind };  // what a test reads
      if (onTime) onTime(q);
      if (q >= end + 0.25) { stop(); return; }
      r.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  const playing = (kind) => running !== null && (kind === undefined || running.kind === kind);
  return { play, stop, playing, state: () => (ctx ? ctx.state : "none") };
})();
