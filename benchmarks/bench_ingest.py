"""Corpus ingestion speed: a cold parse with one worker (the baseline), a cold parse with every core,
and a warm re-run from the parse cache; files per second each, and the ratios the targets are set in.

Each measurement runs in a fresh Python process with its own empty (or, for the warm run, filled)
cache folder, and times `encode_folder` alone, the call `train` makes before it builds the model.

    python benchmarks/bench_ingest.py --data-dir bach
    python benchmarks/bench_ingest.py --smoke   # the first 4 files of bach/: seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
from music_lstm.encodings.ingest import encode_folder
def cpu():
    return sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
cpu0 = cpu()
start = time.perf_counter()
corpus = encode_folder(sys.argv[1], "seed", workers=int(sys.argv[2]), cache_dir=sys.argv[3], log=lambda m: None,
                       progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "cpu": cpu() - cpu0, "files": len(corpus.sequences) + len(corpus.skipped), "parsed": corpus.parsed}))
"""


def measure(data_dir: str, workers: int, cache_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", CHILD, data_dir, str(workers), cache_dir],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


SPIN = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
def spin(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
if __name__ == "__main__":
    n = int(sys.argv[1])
    with ProcessPoolExecutor(n) as pool:
        list(pool.map(spin, [0.01] * n))  # workers started before the clock runs
        start = time.perf_counter()
        list(pool.map(spin, [2.0] * n))
    print(time.perf_counter() - start)
"""


def spare_cores(n: int) -> float:
    """Control: n processes each burning 2 s of CPU; 2 s of wall time means n free cores."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(SPIN)
    try:
        out = subprocess.run([sys.executable, f.name, str(n)], capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    return n * 2.0 / float(out.stdout.strip())


def load() -> str:
    return "load average %.2f, %.2f, %.2f" % os.getloadavg()


def smoke(args) -> int:
    """The benchmark on a copy of the first few files of the folder."""
    import shutil

    with tempfile.TemporaryDirectory() as folder:
        for f in sorted(Path(args.data_dir).glob("*.mid"))[:4]:
            shutil.copy(f, folder)
        return main(["--data-dir", folder, "--workers", str(args.workers)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT / "bach"))
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="the 'all cores' run (default: all)")
    ap.add_argument("--smoke", action="store_true", help="only the first 4 files of --data-dir: checks that it runs")
    args = ap.parse_args(argv)
    if args.smoke:
        return smoke(args)
    cores = args.workers
    print(f"{args.data_dir}; {os.cpu_count()} cores; {load()} before")
    free_before = spare_cores(cores)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        cold1 = measure(args.data_dir, 1, one)
        coldn = measure(args.data_dir, cores, many)
        warm = measure(args.data_dir, cores, many)
    free_after = spare_cores(cores)
    rows = [("cold, 1 worker (baseline)", 1, cold1), (f"cold, {cores} workers", cores, coldn),
            (f"warm (cache), {cores} workers", cores, warm)]
    print("\n| run | workers | files | parsed | seconds | files/s | CPU seconds (all processes) | cores busy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, w, r in rows:
        print(f"| {name} | {w} | {r['files']} | {r['parsed']} | {r['seconds']:.2f} | {r['files'] / r['seconds']:.1f} | "
              f"{r['cpu']:.1f} | {r['cpu'] / r['seconds']:.2f} |")
    ideal = cold1["seconds"] / cores
    ratio = coldn["seconds"] / ideal
    print(f"\ncold {cores} workers / (1-worker time / {cores} cores) = {coldn['seconds']:.2f} / {ideal:.2f} = "
          f"{ratio:.3f}  (target <= 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")
    print(f"speed-up over 1 worker: {cold1['seconds'] / coldn['seconds']:.2f}x; CPU spent on parallelism (start-up, "
          f"transfers): {coldn['cpu'] - cold1['cpu']:+.1f} s = {(coldn['cpu'] / cold1['cpu'] - 1) * 100:+.1f}%")
    print("(cores busy = CPU seconds / wall seconds: below the worker count, the run was short of CPU, e.g. other load)")
    print(f"control, pure CPU work in {cores} processes: {free_before:.2f} cores' worth before, {free_after:.2f} after "
          f"(other load on the machine shows here)")
    print(f"warm re-run: {warm['seconds']:.2f} s  (target <= 2 s: {'met' if warm['seconds'] <= 2 else 'MISSED'})")
    print(f"{load()} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
