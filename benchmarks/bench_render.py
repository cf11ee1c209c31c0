"""Time writing a chorale's WAV: the SoundFont loaded once into FluidSynth's library (`io.synth.LoadedSynth`,
what `serve` uses) against FluidSynth's command-line program run per file (`io.render.render_audio`, the
baseline, which loads the SoundFont each time), median of 5 each, in one run; the load itself printed too.

    python benchmarks/bench_render.py                                   # the SoundFont `render` finds
    python benchmarks/bench_render.py --soundfont /usr/share/sounds/sf2/TimGM6mb.sf2
    python benchmarks/bench_render.py --smoke                           # one run each: checks that it runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--midi", default=str(ROOT / "bach" / "bwv1.6.mid"), help="the MIDI file (default: bach/bwv1.6.mid)")
    ap.add_argument("--soundfont", default=None, help="a .sf2/.sf3 file (default: the one `render` finds)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each, the median shown (default: 5)")
    ap.add_argument("--smoke", action="store_true", help="one run each")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
    from music_lstm.core.errors import RenderError
    from music_lstm.io import render
    from music_lstm.io.synth import LoadedSynth

    try:
        t0 = time.perf_counter()
        synth = LoadedSynth(args.soundfont)
        load = time.perf_counter() - t0
    except RenderError as e:
        print(f"bench_render.py: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"

        def median(fn) -> float:
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        loaded = median(lambda: synth.render(args.midi, out))
        program = median(lambda: render.render_audio(args.midi, out, synth.soundfont))
        seconds = os.path.getsize(out) / (44100 * 4)
    print(f"{Path(args.midi).name} ({seconds:.1f} s of sound), SoundFont {synth.soundfont.name} "
          f"({synth.soundfont.stat().st_size / 2**20:.0f} MB); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"median of {args.runs}")
    print("| step | seconds | x baseline |\n|---|---|---|")
    print(f"| the fluidsynth program per file (baseline) | {program:.3f} | 1.00 |")
    print(f"| the SoundFont loaded once, per file | {loaded:.3f} | {loaded / program:.2f} |")
    print(f"| loading it, once at start | {load:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
