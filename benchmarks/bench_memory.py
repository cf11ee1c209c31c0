"""Peak memory of ingesting (and training on) a generated folder of many small MIDI files.

Compares, in fresh processes, the baseline (every piece's notes kept, then encoded: `load_folder`)
with streaming (`encode_folder`: symbols made in the workers, notes never kept), at two folder sizes,
so the growth per file shows; then trains one epoch of a tiny model on the large folder through the
command line. Peak RSS is the process's own (`ru_maxrss`); parser workers are separate processes
that each hold one file at a time.

    python benchmarks/bench_memory.py --files 10000 --small 1000
    python benchmarks/bench_memory.py --smoke   # 24 and 12 files, no training: seconds
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the synthetic MIDI writer the tests use

from midi_bytes import midi_bytes, track_bytes  # noqa: E402

CHILD = r"""
import json, resource, sys, time
mode, folder, cache, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
quiet = dict(log=lambda m: None, progress=False)
if mode == "notes":  # the baseline: keep every piece's notes, then encode them all
    from music_lstm.io.corpus import load_folder
    from music_lstm.encodings import get
    corpus = load_folder(folder, workers=workers, cache_dir=cache, **quiet)
    seqs = {n: get("chords").encode(p) for n, p in corpus.pieces.items()}
elif mode == "stream":
    from music_lstm.encodings.ingest import encode_folder
    seqs = encode_folder(folder, "chords", workers=workers, cache_dir=cache, **quiet).sequences
else:  # one epoch of a tiny model, through the command line's own entry point
    from music_lstm.app.cli import main
    assert main(["train", "--data-dir", folder, "--run-dir", sys.argv[5], "--cache-dir", cache, "--workers",
                 str(workers), "--epochs", "1", "--units", "16", "--embed-dim", "8", "--seq-len", "32",
                 "--batch-size", "256", "--max-minutes", "0"]) == 0
    seqs = {}
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - start, "symbols": sum(len(s) for s in seqs.values())}))
"""


def small_midi(rng: random.Random) -> bytes:
    """A two-track piece of 8 to 24 notes: a melody and a bass line."""
    tracks = []
    for channel, low in ((0, 60), (1, 40)):
        notes, t = [], 0.0
        for _ in range(rng.randint(4, 12)):
            length = 0.5 * rng.randint(1, 4)
            notes.append((t, length, low + rng.randrange(24)))
            t += length
        tracks.append(track_bytes(notes, channel=channel))
    return midi_bytes(tracks)


def make_folder(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for i in range(n):
        (folder / f"piece{i:05d}.mid").write_bytes(small_midi(rng))


def measure(mode: str, folder: Path, cache: Path, workers: int, run_dir: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = [sys.executable, "-c", CHILD, mode, str(folder), str(cache), str(workers)]
    if run_dir:
        argv.append(str(run_dir))
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"{mode} on {folder} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return "load average %.2f, %.2f, %.2f" % os.getloadavg()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="--files 24 --small 12 --skip-train: checks that it runs")
    args = ap.parse_args(argv)
    if args.smoke:
        args.files, args.small, args.skip_train = 24, 12, True
    print(f"{os.cpu_count()} cores; {load()} before")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for n in (args.small, args.files):
            folder = tmp / f"midi{n}"
            make_folder(folder, n)
            cache = tmp / f"cache{n}"
            stream = measure("stream", folder, cache, args.workers)  # cold: parses, fills the cache
            notes = measure("notes", folder, cache, args.workers)  # warm from the same cache
            stream_warm = measure("stream", folder, cache, args.workers)
            rows.append((n, stream, stream_warm, notes))
        print("\n| files | symbols | streamed, cold: peak MB (s) | streamed, warm: peak MB (s) | "
              "notes kept (baseline), warm: peak MB (s) | baseline / streamed (warm) |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n, s, sw, nk in rows:
            print(f"| {n} | {s['symbols']} | {s['peak_mb']:.0f} ({s['seconds']:.0f}) | {sw['peak_mb']:.0f} "
                  f"({sw['seconds']:.1f}) | {nk['peak_mb']:.0f} ({nk['seconds']:.1f}) | {nk['peak_mb'] / sw['peak_mb']:.2f} |")
        (small, s_small, sw_small, nk_small), (big, s_big, sw_big, nk_big) = rows
        per = lambda a, b: (b["peak_mb"] - a["peak_mb"]) * 1024 / (big - small)  # noqa: E731
        print(f"\ngrowth per extra file, warm: streamed {per(sw_small, sw_big):.1f} KB, "
              f"notes kept {per(nk_small, nk_big):.1f} KB")
        if not args.skip_train:
            tr = measure("train", tmp / f"midi{args.files}", tmp / f"cache{args.files}", args.workers, tmp / "run")
            print(f"train, 1 epoch, {args.files} files (warm cache): peak {tr['peak_mb']:.0f} MB in {tr['seconds']:.0f} s")
    print(f"{load()} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
