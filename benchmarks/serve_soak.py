"""Soak the local page: `python -m music_lstm serve` with the shipped models, 200 requests (sequential and
concurrent batches mixed; bad requests, zip bombs, the `tinyNotation: 1/1024 c'4 d'` tune, a 2,000-symbol
compose, slow and vanishing clients among them), then whether it still answers, its memory (the peak
against its size after the first request; goal within 20%), the longest time any request held the
network's lock (goal at most 10 s), and its output folder against its limits.

The server runs in a subprocess, from a temporary folder (so without --run-dir it takes the shipped
models, as `serve` does where there is no runs/latest), with TensorFlow's start-up lines off.

    nice python benchmarks/serve_soak.py            # 200 requests, a few minutes
    python benchmarks/serve_soak.py --smoke         # 10 requests
"""

from __future__ import annotations

import argparse
import base64
import collections
import http.client
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "soak-token"
TUNES = ["tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1", "tinyNotation: 4/4 e'4 f' g' a' g'2 f'4 e' d'1",
         "tinyNotation: 3/4 g4 a b c'2 d'4 e'2 d'4 c'2.", "tinyNotation: 4/4 g'4 g' a' b' c''2 b'4 a' g'1",
         "tinyNotation: 4/4 d'4 e' f#' g' a'2 g'4 f#' e'4 d' e'2 d'1"]


def zip_bomb(member: str, size: int, filler: bytes) -> bytes:
    """An .mxl (a zip) whose `member` unpacks to `size` bytes of `filler` after a MusicXML start."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container><rootfiles><rootfile full-path="'
                   f'{member}"/></rootfiles></container>')
        with z.open(member, "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0"?><score-partwise version="3.1">')
            chunk = filler * (1 << 20)
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.write(b"<part-list><score-part id='P1'><part-name>S</part-name></score-part></part-list><part id='P1'>"
                    b"<measure number='1'><attributes><divisions>1</divisions></attributes><note><pitch><step>C"
                    b"</step><octave>5</octave></pitch><duration>4</duration></note></measure></part></score-partwise>")
    return out.getvalue()


class Client:
    def __init__(self, port: int):
        self.port = port

    def send(self, method, path, body=None, headers=None, token=True, host=True, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = {**({"X-Token": TOKEN} if token else {}), **(headers or {})}
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{self.port}" if host is True else host)
            for k, v in h.items():
                conn.putheader(k, v)
            if body is not None and "Content-Length" not in h:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            answer = conn.getresponse()
            return answer.status, answer.read()
        except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
            return f"no answer ({type(e).__name__})", b""
        finally:
            conn.close()

    def post(self, path, obj, **kw):
        return self.send("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"}, **kw)

    def raw(self, data: bytes, read: bool = True, timeout: float = 60):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            if not read:  # gone before the answer, with a reset
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                return "hung up", b""
            chunks = []
            try:
                while chunk := s.recv(1 << 16):
                    chunks.append(chunk)
            except ConnectionResetError:
                pass
        answer = b"".join(chunks)
        match = re.match(rb"HTTP/1\.\d (\d+)", answer)
        return (int(match[1]) if match else "no status"), answer.partition(b"\r\n\r\n")[2]


def requests(n: int, rng: random.Random, bombs: dict) -> list[tuple[str, object]]:
    """`n` (label, function of a Client) requests: about half good, the rest bad or hostile."""
    def upload(name, data):
        return lambda c: c.post("/api/harmonize", {"file": {"name": name, "data": base64.b64encode(data).decode()}})

    hostile = [
        ("zip bomb .mxl (900 MB of zeros)", upload("bomb.mxl", bombs["zeros"])),
        ("zip bomb .mxl (300 MB of whitespace)", upload("spaces.mxl", bombs["spaces"])),
        ("tinyNotation 1/1024", lambda c: c.post("/api/harmonize", {"melody": "tinyNotation: 1/1024 c'4 d'"})),
        ("2,000-note tune", lambda c: c.post("/api/harmonize", {"melody": "tinyNotation: 4/4 " + "c'8 d' " * 1000})),
        ("compose at the most", lambda c: c.post("/api/compose", {"length": c.limits["length"], "seed": 3})),
        ("foreign Host", lambda c: c.post("/api/harmonize", {"melody": TUNES[0]}, host="evil.example:8000")),
        ("no token", lambda c: c.post("/api/harmonize", {"melody": TUNES[0]}, token=False)),
        ("text/plain", lambda c: c.send("POST", "/api/harmonize", b'{"melody": "c4"}', {"Content-Type": "text/plain"})),
        ("PUT", lambda c: c.send("PUT", "/api/info")),
        ("nested JSON", lambda c: c.send("POST", "/api/compose", b"[" * 100_000, {"Content-Type": "application/json"})),
        ("5,000-digit Content-Length", lambda c: c.send("POST", "/api/compose", b"{}", {
            "Content-Type": "application/json", "Content-Length": "9" * 5000})),
        ("5,000-digit Range", lambda c: c.send("GET", "/api/info", headers={"Range": "bytes=-" + "9" * 5000})),
        ("bad setting", lambda c: c.post("/api/compose", {"length": "many"})),
        ("path traversal", lambda c: c.send("GET", "/files/%2e%2e/%2e%2e/etc/passwd")),
        ("MIDI named .xml", upload("tune.xml", b"MThd\0\0\0\6\0\0\0\1\1\xe0MTrk\0\0\0\4\0\xff\x2f\0")),
        ("body shorter than its length", lambda c: c.raw(
            f"POST /api/compose HTTP/1.1\r\nHost: 127.0.0.1:{c.port}\r\nX-Token: {TOKEN}\r\nContent-Type: "
            f"application/json\r\nContent-Length: 100\r\n\r\n{{}}".encode())),
        ("hangs up before its answer", lambda c: c.raw(
            f"POST /api/harmonize HTTP/1.1\r\nHost: 127.0.0.1:{c.port}\r\nX-Token: {TOKEN}\r\nContent-Type: "
            f"application/json\r\nContent-Length: 2\r\n\r\n{{}}".encode(), read=False)),
    ]
    good = [
        ("harmonize", lambda c: c.post("/api/harmonize", {"melody": rng.choice(TUNES), "seed": rng.randrange(1000)})),
        ("compose 200", lambda c: c.post("/api/compose", {"length": 200, "seed": rng.randrange(1000)})),
        ("info", lambda c: c.send("GET", "/api/info")),
        ("page", lambda c: c.send("GET", "/", token=False)),
    ]
    picked = list(hostile) + [hostile[k % 4] for k in range(4)]  # the bombs and the long ones twice
    while len(picked) < n:
        picked.append(rng.choice(good) if rng.random() < 0.6 else rng.choice(hostile[5:]))
    rng.shuffle(picked)
    return picked[:n]


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="how many requests (default: 200)")
    ap.add_argument("--smoke", action="store_true", help="10 requests, small bombs: that it runs")
    ap.add_argument("--concurrency", type=int, default=8, help="requests at once in a concurrent batch (default: 8)")
    ap.add_argument("--keep-requests", type=int, default=50, help="the server's --keep-requests (default: 50)")
    ap.add_argument("--keep-mb", type=float, default=200.0, help="the server's --keep-mb (default: 200)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    n = 10 if args.smoke else args.requests
    rng = random.Random(args.seed)
    mb = 1 << 20
    bombs = {"zeros": zip_bomb("score.xml", (20 if args.smoke else 900) * mb, b"\0"),
             "spaces": zip_bomb("score.xml", (20 if args.smoke else 300) * mb, b" ")}
    print(f"bombs: {len(bombs['zeros']) / 1024:.0f} KB and {len(bombs['spaces']) / 1024:.0f} KB zipped", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out, log = Path(tmp) / "out", Path(tmp) / "stderr.txt"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        with open(log, "w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "music_lstm", "serve", "--port", "0", "--token", TOKEN,
                                     "--output-dir", str(out), "--keep-requests", str(args.keep_requests),
                                     "--keep-mb", str(args.keep_mb)],
                                    cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if not match:
                raise SystemExit(f"serve did not start: {line!r} {log.read_text()[-2000:]}")
            client = Client(int(match[1]))
            client.limits = json.loads(client.send("GET", "/api/info")[1])["limits"]
            start = time.perf_counter()
            first = client.post("/api/harmonize", {"melody": TUNES[0], "seed": 1})
            if first[0] != 200:
                raise SystemExit(f"the first request failed: {first}")
            after_first = rss_kb(proc.pid)
            peak = [after_first]
            done = threading.Event()

            def watch():
                while not done.is_set():
                    try:
                        peak[0] = max(peak[0], rss_kb(proc.pid))
                    except (OSError, StopIteration):
                        return
                    time.sleep(0.05)

            threading.Thread(target=watch, daemon=True).start()
            statuses: collections.Counter = collections.Counter()
            held: dict[str, float] = {}  # label -> the longest its requests held the network's lock
            by_label: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            plan = requests(n - 1, rng, bombs)
            k = 0
            while k < len(plan):
                size = rng.choice([1, 1, args.concurrency])  # sequential runs and concurrent batches
                batch = plan[k:k + size]
                with ThreadPoolExecutor(len(batch)) as pool:
                    answers = list(pool.map(lambda item: item[1](client), batch))
                for (label, _), (status, body) in zip(batch, answers):
                    statuses[status] += 1
                    by_label[label][status] += 1
                    if status == 200 and body[:1] == b"{" and b'"lock_seconds"' in body:
                        held[label] = max(held.get(label, 0.0), json.loads(body)["lock_seconds"])
                k += size
            done.set()
            seconds = time.perf_counter() - start
            info_status, info = client.send("GET", "/api/info")
            alive = proc.poll() is None and info_status == 200
            jobs = json.loads(info)["jobs"] if info_status == 200 else {}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
                stopped = "stopped on SIGTERM"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                stopped = "DID NOT STOP within 60 s of SIGTERM (killed)"
            folders = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
            size = sum(f.stat().st_size for p in folders for f in p.rglob("*") if f.is_file())
        text = log.read_text()
    server_errors = sum(v for s, v in statuses.items() if isinstance(s, int) and s >= 500 and s != 503)
    tf_lines = [ln for ln in text.splitlines() if re.search(r"tensorflow|cuInit|^[EWI]\d{4} ", ln)]
    print(f"requests: {n} ({seconds:.0f} s), answers: "
          + ", ".join(f"{s}: {v}" for s, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
    for label in sorted(by_label):
        print(f"  {label:<36} " + ", ".join(f"{s}: {v}" for s, v in sorted(by_label[label].items(), key=str))
              + (f" (lock held at most {held[label]:.2f} s)" if label in held else ""))
    print(f"server still answering: {'yes' if alive else 'NO'}; 5xx other than 503: {server_errors}; "
          f"tracebacks in its log: {text.count('Traceback')}; TensorFlow lines: {len(tf_lines)}; {stopped}")
    if "Traceback" in text or not stopped.startswith("stopped"):
        print(text[-3000:])
    print(f"memory: {after_first / 1024:.0f} MB after the first request, peak {peak[0] / 1024:.0f} MB "
          f"({peak[0] / after_first - 1:+.1%}; goal within 20%)")
    print(f"network lock: longest hold {jobs.get('longest_lock_s', float('nan')):.2f} s over {jobs.get('count', 0)} "
          f"jobs (goal <= 10 s)")
    print(f"output folder: {len(folders)} request folders, {size / mb:.1f} MB "
          f"(limits {args.keep_requests} and {args.keep_mb:g} MB)")
    ok = alive and not server_errors and peak[0] <= 1.2 * after_first and jobs.get("longest_lock_s", 99) <= 10 \
        and len(folders) <= args.keep_requests and size <= args.keep_mb * mb and not tf_lines and stopped.startswith("s")
    print("all goals met" if ok else "a goal missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
