"""Time the local page: a 16-bar melody (64 quarter notes) harmonized through `serve`'s JSON API, with
everything the page is sent (MIDI, the chorale score as MusicXML and SVG, a WAV; the page draws the piano
roll itself), against the same harmonization through `harmonize.harmonize_files` called directly, median
of 5 each, in the same process; then where the time goes, step by step (median of 5 each).

Also times the start-up of `python -m music_lstm serve` (from launch to the line saying where it serves).
The server runs in a thread of this process; requests go over HTTP on 127.0.0.1.

    python benchmarks/bench_serve.py --run-dir runs/latest
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from music_lstm.app import serve  # noqa: E402

# Sixteen bars of quarter notes in G major, in a soprano's range.
BARS = ("g4 g a b", "b a g a", "b b c' d'", "d' c' b a", "g a b g", "a b c' a", "b a g f#", "g a g g",
        "d' d' b c'", "d' e' d' c'", "b c' d' b", "a b a g", "e f# g a", "b c' b a", "g a f# g", "a f# g g")
MELODY = "tinyNotation: 4/4 " + " ".join(BARS)
RUNS = 5
SEED = 1


def median_seconds(fns, runs: int = RUNS) -> list[float]:
    """The median time of each function, run in turn `runs` times, the order reversed every other round:
    in a fixed order, whichever ran second was measured faster, whichever it was."""
    times = [[] for _ in fns]
    for r in range(runs):
        order = list(zip(fns, times))
        for fn, spent in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def start_up_seconds(run_dir: str) -> float:
    """Launch `python -m music_lstm serve --port 0` and time it until it says where it serves."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "music_lstm", "serve", "--port", "0", "--run-dir", run_dir],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        seconds = time.perf_counter() - t0
        if not line.startswith("serving"):
            raise SystemExit(f"serve did not start: {line!r}")
        return seconds
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def step_seconds(run_dir: str, folder: Path) -> dict[str, float]:
    """The steps of `harmonize_files` one by one, median of `RUNS` each."""
    import numpy as np

    from music_lstm.io import render
    from music_lstm.io import melody_input
    from music_lstm.io import midi_write
    from music_lstm.io import musicxml
    from music_lstm.tasks.harmonizer import LSTMHarmonizer
    from music_lstm.runs.run_folder import load_run

    folder.mkdir(parents=True)
    melody, _ = melody_input.read_melody(MELODY)
    run = load_run(run_dir)
    voices = LSTMHarmonizer.from_run(run).harmonize(melody, seed=np.random.default_rng(SEED))[0].voices
    midi, xml = folder / "h.mid", folder / "h.musicxml"
    steps = {
        "read the melody (tinyNotation)": lambda: melody_input.read_melody(MELODY),
        "load the run folder": lambda: load_run(run_dir),
        "harmonize (the network, 1 sample)": lambda: LSTMHarmonizer.from_run(run).harmonize(
            melody, seed=np.random.default_rng(SEED)),
        "write the MIDI file": lambda: midi_write.write_voices_midi(voices, midi, bpm=90.0),
        "write the MusicXML score": lambda: musicxml.write_chorale_musicxml(voices, xml, bpm=90.0, title="bench"),
        "engrave the SVG (Verovio)": lambda: render.render_score(xml, folder / "h.svg"),
        "play the WAV (FluidSynth)": lambda: render.render_audio(midi, folder / "h.wav"),
    }
    return dict(zip(steps, median_seconds(list(steps.values()))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default="runs/latest", help="a satb run folder (default: runs/latest)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    start_up = start_up_seconds(args.run_dir)

    from music_lstm.tasks.harmonize import harmonize_files

    with tempfile.TemporaryDirectory() as tmp:
        studio = serve.Studio(args.run_dir, Path(tmp) / "served")
        studio.load()
        if studio.no_audio:
            raise SystemExit(f"no audio: {studio.no_audio}")
        serve.Handler.log = staticmethod(lambda msg: None)  # no line per request
        server = serve.make_server(studio, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]

        def page():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            conn.request("POST", "/api/harmonize", json.dumps({"melody": MELODY, "seed": SEED}),
                         {"Content-Type": "application/json", "X-Token": server.token})
            answer = conn.getresponse()
            body = json.loads(answer.read())
            conn.close()
            if answer.status != 200 or "audio" not in body["files"] or not body["files"]["score"]:
                raise SystemExit(f"the page answered {answer.status}: {body}")

        count = [0]

        def direct():
            count[0] += 1
            harmonize_files(args.run_dir, MELODY, Path(tmp) / f"direct{count[0]}" / "harmonized.mid", seed=SEED,
                            outputs=studio._outputs(), log=lambda msg: None)

        page()  # warm up both paths (first use of each library's code)
        direct()
        baseline, served = median_seconds([direct, page])
        server.shutdown()
        server.server_close()
        steps = step_seconds(args.run_dir, Path(tmp) / "steps")
    load_after = os.getloadavg()
    print(f"16 bars, 64 quarter notes; MIDI, score (MusicXML + SVG) and WAV written; {os.cpu_count()} CPUs; "
          f"median of {RUNS}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print("| path | seconds |\n|---|---|")
    print(f"| harmonize_files, called directly (baseline) | {baseline:.2f} |")
    print(f"| POST /api/harmonize through serve | {served:.2f} |")
    print(f"| ratio | {served / baseline:.2f} |")
    print(f"| start-up: `python -m music_lstm serve` until it serves | {start_up:.1f} |")
    print("\n| step of one harmonization | seconds |\n|---|---|")
    for name, seconds in steps.items():
        print(f"| {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
