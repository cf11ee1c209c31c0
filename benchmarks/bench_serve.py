"""Time the local page: a 16-bar melody (64 quarter notes) harmonized through `serve`'s JSON API until the
page can play it and show it engraved (the answer, which carries the notes the page plays itself, then the SVG
score and its timemap fetched), against the same harmonization in-process (`music_lstm.harmonize`, the network
alone, and `harmonize_files` writing the same MIDI, MusicXML and SVG), median of 5 each, in the same process.
The WAV is rendered after the answer: its time from the answer to the file is printed, off the critical path.
With `--rewrite-run-dir` (a fill_lstm run folder), a two-bar rewrite of the alto and tenor round trip too.
Then the steps of one harmonization (median of 5 each) and the start-up of `python -m music_lstm serve`.

    python benchmarks/bench_serve.py --run-dir music_lstm/shipped/harmonize_lstm --rewrite-run-dir music_lstm/shipped/harmonize
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
KEY = "G major"  # the page sends the key its staff shows (offered from the notes)


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
        "engrave the SVG and its timemap (Verovio)": lambda: render.render_score(xml, folder / "h.svg",
                                                                          timemap_path=folder / "h.json"),
        "play the WAV (FluidSynth)": lambda: render.render_audio(midi, folder / "h.wav"),
    }
    return dict(zip(steps, median_seconds(list(steps.values()))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=None, help="a satb run folder (default: runs/latest, else the shipped model)")
    ap.add_argument("--rewrite-run-dir", default=None, help="a fill_lstm run folder, for the rewrite's round trip")
    args = ap.parse_args()
    load_before = os.getloadavg()

    from music_lstm.app import api
    from music_lstm.app.studio import resolve_run_dir
    from music_lstm.tasks.harmonize import harmonize_files
    from music_lstm.tasks.outfiles import Outputs

    run_dir = str(resolve_run_dir(args.run_dir, "harmonize", lambda msg: None))
    start_up = start_up_seconds(run_dir)
    with tempfile.TemporaryDirectory() as tmp:
        studio = serve.Studio(run_dir, Path(tmp) / "served", rewrite_run=args.rewrite_run_dir)
        studio.load()
        if studio.no_audio:
            raise SystemExit(f"no audio: {studio.no_audio}")
        serve.Handler.log = staticmethod(lambda msg: None)  # no line per request
        server = serve.make_server(studio, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]

        def call(method, path, body=None):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            headers = {"X-Token": server.token, **({"Content-Type": "application/json"} if body is not None else {})}
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
            if answer.status != 200:
                raise SystemExit(f"the page answered {answer.status} to {path}: {data[:300]!r}")
            return data

        last = {}

        playable, engraved = {}, {}  # path -> seconds until the answer (the page plays it at once), until the score

        def page(path="/api/harmonize", body=None):
            """Until the page can play and show it: the answer (its notes), then the timemap and the score's
            pages (both written after the answer; a request waits for them). Then, not timed, until its WAV is
            written too: a click's work after its answer is not counted against the next path measured."""
            t0 = time.perf_counter()
            answer = json.loads(call("POST", path, body or {"melody": MELODY, "seed": SEED, "key": KEY}))
            playable.setdefault(path, []).append(time.perf_counter() - t0)
            timemap = json.loads(call("GET", answer["files"]["timemap"]))
            for name in timemap["pages"]:
                call("GET", f"/files/{answer['id']}/{name}")
            engraved.setdefault(path, []).append(time.perf_counter() - t0)
            call("GET", answer["files"]["audio"])
            last.update(answer)

        count = [0]

        def direct_files():  # the same files as the page's critical path: MIDI, MusicXML, SVG (no WAV)
            count[0] += 1
            harmonize_files(run_dir, MELODY, Path(tmp) / f"direct{count[0]}" / "harmonized.mid", seed=SEED,
                            outputs=Outputs(fmt="musicxml", score=True), log=lambda msg: None)

        def in_process():
            api.harmonize(MELODY, seed=SEED, run_dir=run_dir, log=lambda msg: None)

        from music_lstm.runs.fill_run import is_fill_run

        paths = [in_process, page] if is_fill_run(run_dir) else [in_process, direct_files, page]  # files: satb only
        for fn in paths:  # warm up every path (first use of each library's code)
            fn()
        playable.clear(), engraved.clear()
        network, *rest = median_seconds(paths)
        files = rest[0] if len(rest) == 2 else float("nan")
        heard, served = (statistics.median(t["/api/harmonize"]) for t in (playable, engraved))
        wav_after = []
        for _ in range(3):  # the WAV: from the answer until it can be fetched (rendered in the recorder's thread)
            answer = json.loads(call("POST", "/api/harmonize", {"melody": MELODY, "seed": SEED}))
            t0 = time.perf_counter()
            call("GET", answer["files"]["audio"])
            wav_after.append(time.perf_counter() - t0)
        rewrite = None
        rewrite_dir = args.rewrite_run_dir or (run_dir if is_fill_run(run_dir) else None)  # the fill run rewrites
        if rewrite_dir:
            page()
            version = last["id"]
            body = {"version": version, "bars": [2, 3], "voices": ["alto", "tenor"], "seed": SEED}
            page("/api/rewrite", body)  # warm up: the fill run loaded on first use
            playable.pop("/api/rewrite", None), engraved.pop("/api/rewrite", None)
            median_seconds([lambda: page("/api/rewrite", body)])
            rewrite = statistics.median(engraved["/api/rewrite"])
            source = studio.versions[version].chorale
            rewrite_direct = median_seconds([lambda: api.rewrite(source, bars=(2, 3), voices=("alto", "tenor"),
                                                                 run_dir=rewrite_dir, seed=SEED,
                                                                 log=lambda msg: None)])[0]
        server.shutdown()
        server.server_close()
        steps = {} if is_fill_run(run_dir) else step_seconds(run_dir, Path(tmp) / "steps")  # the satb steps
    load_after = os.getloadavg()
    print(f"16 bars, 64 quarter notes; {os.cpu_count()} CPUs; median of {RUNS}; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print("| path | seconds |\n|---|---|")
    print(f"| music_lstm.harmonize in-process (the network, a Chorale) | {network:.2f} |")
    if files == files:  # measured (satb runs)
        print(f"| harmonize_files in-process: MIDI, MusicXML, SVG | {files:.2f} |")
    print(f"| the page: POST /api/harmonize until playable (the answer, with its notes) | {heard:.2f} |")
    print(f"| ratio to music_lstm.harmonize (target <= 1.5) | {heard / network:.2f} |")
    print(f"| the page: POST /api/harmonize until playable and engraved (answer, timemap, SVG) | {served:.2f} |")
    print(f"| ratio to music_lstm.harmonize (target <= 1.5) | {served / network:.2f} |")
    if files == files:
        print(f"| ratio to harmonize_files | {served / files:.2f} |")
    print(f"| the WAV, from the answer until it is fetched (off the critical path) | {statistics.median(wav_after):.2f} |")
    if rewrite is not None:
        print(f"| POST /api/rewrite, bars 2-3 of alto and tenor, until playable | "
              f"{statistics.median(playable['/api/rewrite']):.2f} |")
        print(f"| POST /api/rewrite, bars 2-3 of alto and tenor, until playable and engraved (target <= 0.5) | "
              f"{rewrite:.2f} |")
        print(f"| api.rewrite in-process, the same bars | {rewrite_direct:.2f} |")
    else:
        print("| POST /api/rewrite | not measured: give --rewrite-run-dir, a fill_lstm run folder |")
    print(f"| start-up: `python -m music_lstm serve` until it serves | {start_up:.1f} |")
    if steps:  # satb runs: the steps of `harmonize_files`
        print("\n| step of one harmonization | seconds |\n|---|---|")
        for name, seconds in steps.items():
            print(f"| {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
