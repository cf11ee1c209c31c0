"""The local page: compose and harmonize in a browser, `python -m music_lstm serve`.

One static page (`static/serve.html`, its script and style beside it) and a small JSON API on the
standard library's `ThreadingHTTPServer`, so the page adds no dependency (docs/BENCHMARKS.md, "The local
page", has the measurements against FastAPI and Gradio):

    GET  /                the page (and /static/serve.js, /static/serve.css)
    GET  /api/info        each task's run folder by a short name (or why it is off), the defaults, audio
    POST /api/compose     {"length", "temperature", "seed"}: a new chorale (generate)
    POST /api/harmonize   {"melody": "tinyNotation: ..."} or {"file": {"name", "data": base64}}, with
                          "temperature", "seed": alto, tenor and bass under the melody (harmonize)
    GET  /files/ID/NAME   a file that one of those wrote, as a download

Compose and Harmonize each read a run folder: `--run-dir`, else the one `run_folder.resolve_run` picks for
the task (runs/latest, else the model shipped for it). Each folder is loaded once at start (network,
vocabulary and harmonizer) and reused by every request; a task its folder cannot do is off on the page,
with the reason. A request's files are what `generate` and `harmonize` write with `--format musicxml
--audio --score`; the page draws the piano roll itself, from the MIDI file.

A web page from another site must not drive the server (as Jupyter keeps it): every request must name
this server in its `Host` header (no DNS rebinding); everything but the page and its two static files
needs the server's token (made at start and printed in the page's address, or `--token`): a POST in an
`X-Token` header with `Content-Type: application/json`, a GET in the header or as `?token=`. Refusals are
403/415 JSON. Every malformed request is a 4xx JSON answer; sockets time out (`SOCKET_TIMEOUT`), open
connections are capped (`MAX_CONNECTIONS`, then 503), a melody is read and bounded before the network
runs, a compose length is bounded, and no answer names a folder of the server by its absolute path.
Files go back as downloads (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP), the page
under a Content-Security-Policy that allows nothing from other origins.

Each request writes into a new folder of its own inside the output folder (a temporary folder, removed
at exit, unless `--output-dir`); the newest `--keep-requests` folders, within `--keep-mb` in all, are
kept and older ones removed. Only the files in those folders are served: a name that leaves them, a
hidden file (the saved upload is one) or a symbolic link is refused. A melody is never a path on the
server: typed text is read as tinyNotation, and an upload is saved into the request's folder first. The
network runs one request at a time (a lock: the harmonizer and the stepper keep state between steps);
the server answers the page, files and the queued requests meanwhile.

    python -m music_lstm serve --port 8000          # then open the address it prints (with ?token=...)
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import errno
import json
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ConfigError, MusicLSTMError
from .run_folder import atomic_path

TASKS = ("compose", "harmonize")  # what the page does, each with its own run folder (run_folder.resolve_run)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
UPLOAD_LIMIT = 1 << 20  # bytes of an uploaded melody file; a chorale melody is a few kB
BODY_LIMIT = UPLOAD_LIMIT * 4 // 3 + 4096  # the upload in base64 and the JSON around it
MELODY_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl")
DEFAULT_LENGTH = 500  # symbols to compose, as `generate`'s --length
MAX_LENGTH = 500  # the most a page may ask for: the shipped model composes and engraves 500 in 7 s, 1,000 in 9 to
# 12 (on a busy machine), 2,000 in 35; the command line takes more
MAX_NOTES = 400  # a melody's notes, bars and quarter notes the page harmonizes: each keeps a request's
MAX_BARS = 200  # hold on the network lock within 10 s with the shipped model (a chorale tune has 30 to
MAX_QUARTERS = 800.0  # 80 notes in 10 to 20 bars); the command line takes longer ones
SOCKET_TIMEOUT = 10.0  # seconds a connection may stay silent (a body shorter than its length, a slow client)
MAX_CONNECTIONS = 32  # open at once; more are answered 503
KEEP_REQUESTS = 50  # request folders kept, the newest (--keep-requests)
KEEP_MB = 200  # and at most this many MB in all (--keep-mb); a request's files are about 1.2 MB
TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,256}\Z")  # what --token may be: it goes into the page's address as is
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")  # a request folder or a file in it
UPLOAD_STEM = ".melody"  # an upload's name in its folder: hidden, so never served back
CONTENT_TYPES = {
    ".mid": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
}
STATIC = {"/static/serve.js": ("serve.js", "text/javascript; charset=utf-8"),
          "/static/serve.css": ("serve.css", "text/css; charset=utf-8")}
FILE_KINDS = {".mid": "midi", ".musicxml": "musicxml", ".wav": "audio"}  # .svg: "score", a list
ALLOW = "GET, HEAD, POST"
PAGE_CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"  # an SVG opened alone draws, runs nothing
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^\s/'\"():,;]+)+/([^\s/'\"():,;]+)")  # its last name is kept


def resolve_run_dir(run_dir, task: str, log) -> Path:
    """The run folder a task's requests read: the one given, else runs/latest when it exists, else the
    model shipped for the task (`log` takes one line saying which). The one place it is chosen."""
    from .run_folder import resolve_run

    return resolve_run(run_dir, task, log)


def run_label(path: Path, task: str) -> str:
    """How the page names a run folder: never by the server's absolute path."""
    from .run_folder import LATEST, SHIPPED

    path = Path(path)
    if path.resolve() == (SHIPPED / task).resolve():
        return f"shipped {task} model"
    if path == LATEST:
        return str(LATEST)
    return path.resolve().name or str(path)


class RequestError(MusicLSTMError):
    """A request the server refuses, with its HTTP status and a one-line message for the page."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        self.status, self.headers = status, headers or {}
        super().__init__(message)


class Studio:
    """What the page asks for, done into `root`: one new folder per request, one job at a time.
    `runs`: the run folder of each task ("compose", "harmonize"), or one folder for both."""

    def __init__(self, runs, root, soundfont=None, keep_requests: int = KEEP_REQUESTS, keep_mb: float = KEEP_MB):
        from .render import audio_problem

        if keep_requests < 1 or not keep_mb > 0:
            raise ConfigError(f"invalid request limits: --keep-requests {keep_requests} (at least 1) and "
                              f"--keep-mb {keep_mb} (more than 0)")
        self.runs = {t: Path(runs[t]) for t in TASKS} if isinstance(runs, dict) else {t: Path(runs) for t in TASKS}
        self.labels = {t: run_label(p, t) for t, p in self.runs.items()}
        self.unavailable: dict[str, str] = {}  # task -> why the page cannot do it (its button is off)
        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(root).resolve()
        self.soundfont = soundfont
        self.no_audio = audio_problem(soundfont)  # None, or why there is no audio (said on the page)
        self.lock = threading.Lock()  # the network: one job at a time
        self.reading = threading.Lock()  # music21 reads one melody at a time, outside the network's lock
        self.defaults: dict = {}
        self.loaded: dict[str, object] = {}  # task -> its run_folder.Run, loaded once
        self.harmonizer = None  # the harmonize task's LSTMHarmonizer, made once
        self.keep_requests, self.keep_bytes = keep_requests, int(keep_mb * 2**20)
        self.kept: collections.OrderedDict[Path, int] = collections.OrderedDict()  # request folder -> bytes
        self.kept_lock = threading.Lock()
        self.jobs = {"count": 0, "longest_lock_s": 0.0}  # what the network lock was held for (the soak reads it)

    def load(self) -> None:
        """Load each task's run folder once, before serving (network, vocabulary, harmonizer), so no
        request pays for it or for TensorFlow's import. A task whose folder is missing, broken or cannot do
        it is turned off (its reason shown on the page); when neither task is left, the first is raised."""
        # What the first request would otherwise import: music21 and Verovio.
        import verovio  # noqa: F401

        from . import midi_io  # noqa: F401
        from .harmonize import DEFAULT_TEMPERATURE, LSTMHarmonizer
        from .run_folder import load_run, read_sampling

        loaded: dict[Path, object] = {}  # a folder read by both tasks is loaded once: its Run, or its error
        for task in TASKS:
            path = self.runs[task]
            if path not in loaded:
                try:
                    loaded[path] = load_run(path)
                except MusicLSTMError as e:
                    loaded[path] = e
            run = loaded[path]
            if isinstance(run, MusicLSTMError):
                self.unavailable[task] = self.public(str(run))
                continue
            label = self.labels[task]
            if task == "compose":
                if run.config.melody_context or run.config.jsb:
                    self.unavailable[task] = f"{label}: a run that does not compose (it harmonizes, or reads JSB frames)"
                    continue
                try:  # what a request without a temperature gets: the encoding's, then the run's sampling.json
                    sampling = {"temperature": run.config.encoder().default_sampling().temperature,
                                **read_sampling(run.path)}
                except MusicLSTMError as e:
                    self.unavailable[task] = self.public(str(e))
                    continue
                self.defaults["temperature"] = sampling["temperature"]
            elif run.config.encoder().voices != 4:
                self.unavailable[task] = f"{label}: harmonizing needs a four-voice run (train --encoding satb)"
                continue
            else:
                try:
                    self.harmonizer = LSTMHarmonizer.from_run(run)
                except MusicLSTMError as e:
                    self.unavailable[task] = self.public(str(e))
                    continue
            self.loaded[task] = run
        self.defaults.update(harmonize_temperature=DEFAULT_TEMPERATURE, length=DEFAULT_LENGTH)
        if all(task in self.unavailable for task in TASKS):
            raise MusicLSTMError(self.unavailable[TASKS[0]])

    def info(self) -> dict:
        return {"runs": dict(self.labels), "unavailable": self.unavailable, "defaults": self.defaults,
                "audio": self.no_audio is None, "no_audio": self.public(self.no_audio or "") or None,
                "upload_limit": UPLOAD_LIMIT, "limits": {"length": MAX_LENGTH, "notes": MAX_NOTES, "bars": MAX_BARS},
                "jobs": dict(self.jobs)}

    def _available(self, task: str):
        if task in self.unavailable or task not in self.loaded:
            raise RequestError(400, self.unavailable.get(task, f"no {task}: the run folders are not loaded"))
        return self.loaded[task]

    # --- the two jobs ----------------------------------------------------------------------------------

    def compose(self, params: dict) -> dict:
        from .generate import generate

        settings = Settings.read(params)
        length = DEFAULT_LENGTH if settings.length is None else settings.length
        sampling = None if settings.temperature is None else {"temperature": settings.temperature}
        seed = settings.seed_or_new()
        run = self._available("compose")
        return self._job("compose", seed, lambda folder, log: generate(
            run=run, output="chorale.mid", length=length, sampling=sampling, seed=seed, output_dir=folder,
            **self._outputs(), log=log))

    def harmonize(self, params: dict) -> dict:
        from .harmonize import DEFAULT_TEMPERATURE, harmonize_files

        settings = Settings.read(params)
        temperature = DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature
        seed = settings.seed_or_new()
        upload = params.get("file")
        text = params.get("melody")
        if upload is None and not (isinstance(text, str) and text.strip()):
            raise RequestError(400, "give a melody: type tinyNotation, or choose a MIDI or MusicXML file")

        def read(folder: Path):
            """The melody's source, read and bounded before the network's lock is taken."""
            if upload is not None:
                source = _save_upload(upload, folder)
            else:  # typed text is tinyNotation, never a path on this machine
                from .midi_io import TINY

                source = text.strip() if text.strip().startswith(TINY) else f"{TINY} {text.strip()}"
            with self.reading:
                _check_melody(source)
            return source

        def work(source, folder: Path, log):
            return harmonize_files(None, source, folder / "harmonized.mid", temperature=temperature, seed=seed,
                                   **self._outputs(), log=log, run=self._available("harmonize"),
                                   harmonizer=self.harmonizer)

        upload_name = Path(str(upload.get("name") or "")).name[:100] if isinstance(upload, dict) else None
        return self._job("harmonize", seed, work, upload_name, read)

    def _outputs(self) -> dict:
        """What each request writes beside its MIDI file: the score (MusicXML and SVG) and audio. The page
        draws the piano roll itself from the MIDI file (matplotlib's PNG was a fifth of a request's time)."""
        return {"fmt": "musicxml", "plot": False, "audio": self.no_audio is None, "soundfont": self.soundfont,
                "score": True}

    def _job(self, kind: str, seed: int, work, upload_name: str | None = None, read=None) -> dict:
        """`read(folder)` (the melody's checks) and then `work([source,] folder, log)` under the lock, in a new
        folder; the files it wrote as the page's URLs. Messages and errors reach the page without the
        server's folders in them; the oldest folders past the limits are removed."""
        folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self.root))
        messages: list[str] = []
        if self.no_audio:
            messages.append(f"no audio: {self.no_audio}")
        start = time.perf_counter()
        try:
            args = () if read is None else (read(folder),)
            with self.lock:
                held = time.perf_counter()
                try:
                    paths = work(*args, folder, messages.append)
                finally:
                    held = time.perf_counter() - held
                    self.jobs["count"] += 1
                    self.jobs["longest_lock_s"] = round(max(self.jobs["longest_lock_s"], held), 3)
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)  # a failed request leaves nothing behind
            if isinstance(e, MusicLSTMError) and not isinstance(e, RequestError):
                raise MusicLSTMError(self.public(str(e), folder, upload_name)) from None
            raise
        self._keep(folder)
        files: dict = {"score": []}
        for path in map(Path, paths):
            url = f"/files/{folder.name}/{path.name}"
            if path.suffix == ".svg":
                files["score"].append(url)
            elif path.suffix in FILE_KINDS:
                files[FILE_KINDS[path.suffix]] = url
        # keywords, not a literal: the string "seed" is an encoding's old name, spelled only in encodings/
        return dict(id=folder.name, seed=seed, files=files, seconds=round(time.perf_counter() - start, 2),
                    lock_seconds=round(held, 2), messages=[self.public(m, folder, upload_name) for m in messages])

    def _keep(self, folder: Path) -> None:
        """Count `folder` among the kept ones; remove the oldest while there are more than `keep_requests`
        or they hold more than `keep_bytes` (the newest is always kept)."""
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        with self.kept_lock:
            self.kept[folder] = size
            while len(self.kept) > 1 and (len(self.kept) > self.keep_requests
                                          or sum(self.kept.values()) > self.keep_bytes):
                old, _ = self.kept.popitem(last=False)
                shutil.rmtree(old, ignore_errors=True)

    def public(self, message: str, folder: Path | None = None, upload_name: str | None = None) -> str:
        """A message without the server's own folders in it: an upload named by its own name, a request's
        files by theirs, a run folder by its label, any other absolute path by its last name."""
        if folder is not None:
            if upload_name:
                message = re.sub(re.escape(f"{folder}/{UPLOAD_STEM}.") + r"\w+", lambda _: upload_name, message)
            message = message.replace(f"{folder}/", "")
        for task, path in self.runs.items():
            for spelled in dict.fromkeys((str(path.resolve()), str(path))):
                if len(spelled) > 1:
                    message = message.replace(spelled, self.labels[task])
        message = message.replace(str(self.root), "the output folder")
        return ABSOLUTE_PATH.sub(lambda m: m[1], message)

    # --- files ---------------------------------------------------------------------------------------

    def file(self, url_path: str) -> Path:
        """The file `/files/ID/NAME` names, inside a request folder of `root`; RequestError 403 for any other
        path (parent folders, absolute paths, encoded slashes or dots, hidden names, symbolic links), 404
        when the name is fine but there is no such file."""
        parts = url_path.split("/")
        if len(parts) != 4 or parts[:2] != ["", "files"]:
            raise RequestError(403, "refused: files are served only from the request folders")
        folder, name = unquote(parts[2]), unquote(parts[3])
        if not (SAFE_NAME.match(folder) and SAFE_NAME.match(name)):
            raise RequestError(403, "refused: files are served only from the request folders")
        path = self.root / folder / name
        if (self.root / folder).is_symlink() or path.is_symlink():
            raise RequestError(403, "refused: a symbolic link")
        real = path.resolve()
        if real.parent.parent != self.root:
            raise RequestError(403, "refused: files are served only from the request folders")
        if not real.is_file():
            raise RequestError(404, f"no such file: {folder}/{name}")
        return real


@dataclasses.dataclass(frozen=True)
class Settings:
    """The settings a request may give, each optional (None: the default), checked against `RANGES`."""

    length: int | None = None  # symbols to compose
    temperature: float | None = None
    seed: int | None = None

    @classmethod
    def read(cls, params: dict) -> Settings:
        """The settings in a request's JSON; a value of the wrong kind or out of range is a RequestError."""
        return cls(**{f.name: _number(params, f.name, *RANGES[f.name]) for f in dataclasses.fields(cls)})

    def seed_or_new(self) -> int:
        """The seed asked for, else a new one (given back to the page, so a result can be made again)."""
        return secrets.randbelow(2**31) if self.seed is None else self.seed


RANGES = dict(length=(int, 1, MAX_LENGTH), temperature=(float, 0.0, 10.0), seed=(int, 0, 2**32 - 1))  # kind, low, high


def _number(params: dict, key: str, kind, low, high):
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and len(value) > 40:  # int() of thousands of digits is slow, then refused
            raise ValueError
        number = kind(value)
        if kind is int and number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise RequestError(400, f"{key}: {shown} is not {'a whole number' if kind is int else 'a number'}") from None
    if not low <= number <= high:  # NaN is out of every range
        raise RequestError(400, f"{key}: {value} is out of range ({low} to {high})")
    return number


def _check_melody(source) -> None:
    """Read the melody (`midi_io.read_melody`: its own limits, a MelodyError each) and refuse one the page
    would hold the network's lock too long for: more than `MAX_NOTES` notes, `MAX_BARS` bars of its time
    signature or `MAX_QUARTERS` quarter notes."""
    from . import midi_io
    from .errors import MelodyError

    melody, _ = midi_io.read_melody(source)
    text = str(source)
    name = midi_io.TINY if text.lstrip().startswith(midi_io.TINY) else text
    end = max(o + d for o, d, _ in melody)
    num, den = (int(x) for x in midi_io.melody_time_signature(source).split("/")[:2])
    bars = end / (4 * num / den) if num > 0 and den > 0 else 0
    if len(melody) > MAX_NOTES or end > MAX_QUARTERS or bars > MAX_BARS:
        raise MelodyError(name, f"too long for the page ({len(melody)} notes, {bars:.0f} bars of "
                                f"{num}/{den}, {end:g} quarter notes; at most {MAX_NOTES} notes, {MAX_BARS} "
                                f"bars and {MAX_QUARTERS:g} quarter notes): harmonize it on the command line")


def _save_upload(upload, folder: Path) -> Path:
    """An uploaded melody ({"name", "data": base64}) saved into the request's folder under a hidden name
    (never served back). Its suffix only chooses which reader `read_melody` tries; what is written out
    is the harmonization, never the upload."""
    if not isinstance(upload, dict) or not isinstance(upload.get("data"), str):
        raise RequestError(400, "file: expected {\"name\": ..., \"data\": base64}")
    name = Path(str(upload.get("name") or "melody.mid")).name[:100]
    suffix = Path(name).suffix.lower()
    if suffix not in MELODY_SUFFIXES:
        raise RequestError(400, f"{name}: not a MIDI or MusicXML file (give {', '.join(MELODY_SUFFIXES)})")
    try:
        data = base64.b64decode(upload["data"], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"{name}: the upload is damaged (not base64)") from None
    if len(data) > UPLOAD_LIMIT:
        raise RequestError(413, too_large(len(data)))
    path = folder / f"{UPLOAD_STEM}{suffix}"
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def too_large(size: int) -> str:
    return f"the melody file is too large ({size / 2**20:.1f} MB; at most {UPLOAD_LIMIT / 2**20:.0f} MB)"


# --- HTTP ------------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "music_lstm"
    protocol_version = "HTTP/1.0"  # one request per connection: a connection's slot is free once it is answered
    timeout = SOCKET_TIMEOUT  # a client silent this long (a body shorter than its Content-Length) is let go
    studio: Studio  # set on the subclass `make_server` makes
    page: bytes
    static: dict  # URL -> (bytes, content type)
    token: str
    hosts: frozenset  # the Host headers this server answers
    log = staticmethod(lambda msg: print(msg, file=sys.stderr, flush=True))

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        jobs = {"/api/compose": self.studio.compose, "/api/harmonize": self.studio.harmonize}
        try:
            self._check_host()
            if path not in jobs:
                raise RequestError(404, f"no such action: {path}")
            self._check_token(self.headers.get("X-Token"))
            kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise RequestError(415, "a request must be sent as Content-Type: application/json")
            params = self._json_body()
            result = jobs[path](params)
            self.log(f"{path[5:]}: {result['id']} in {result['seconds']:.1f} s "
                     f"(the network's lock held {result['lock_seconds']:.2f} s)")
            self._json(200, result)
        except RequestError as e:
            self._drain()
            self._json(e.status, {"error": str(e)}, headers=e.headers)
        except MusicLSTMError as e:  # a bad melody, a setting out of range, a run folder that cannot do it
            self._json(400, {"error": self.studio.public(str(e))})
        except (ConnectionError, TimeoutError):
            raise  # the client went away or went silent: `PageServer.handle_error` says so in one line
        except Exception as e:  # noqa: BLE001  (a bug: a traceback in the terminal, a line on the page)
            traceback.print_exc()
            self._json(500, {"error": self.studio.public(f"internal error ({type(e).__name__}: {e}); the server goes on")})

    def _refuse_method(self) -> None:
        self._drain()
        self._json(405, {"error": f"method {self.command} not allowed (only {ALLOW})"}, headers={"Allow": ALLOW})

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_TRACE = do_CONNECT = _refuse_method

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line or header, an unknown method),
        as the API's JSON rather than an HTML page."""
        self.close_connection = True
        if code == 501:  # a method the server has no do_ for
            self._refuse_method()
            return
        if not hasattr(self, "headers"):  # refused before its headers were read
            self.headers = {}
        self._json(code, {"error": f"{code} {message or self.responses.get(code, ('',))[0]}"})

    def _check_host(self) -> None:
        """A Host header naming another name than this server's is a DNS-rebinding page: refused."""
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.hosts and host not in self._local_address():
            raise RequestError(403, "refused: the Host header does not name this server "
                                    "(open the address the server printed)")

    def _local_address(self) -> tuple[str, ...]:
        """The address this connection reached, as a Host header names it (an IP: not a DNS name)."""
        try:
            ip, port = self.connection.getsockname()[:2]
        except OSError:
            return ()
        return (f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}",)

    def _check_token(self, given: str | None) -> None:
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            raise RequestError(403, "refused: no token, or not this server's (open the address with ?token= "
                                    "that the server printed)")

    def _json_body(self) -> dict:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(411, "the request has no length")
        if not re.fullmatch(r"[0-9]{1,15}", length.strip()):
            raise RequestError(400, "the request's Content-Length is not a length in bytes")
        length = int(length)
        if length > BODY_LIMIT:
            self.body_read = True
            self._discard(length)
            raise RequestError(413, too_large(length * 3 // 4))
        self.body_read = True
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(408, f"the request's body did not arrive within {SOCKET_TIMEOUT:g} s") from None
        if len(body) < length:
            raise RequestError(400, f"the request's body is shorter ({len(body)} bytes) than its Content-Length")
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "the request is not JSON") from None
        except RecursionError:
            raise RequestError(400, "the request's JSON is nested too deeply") from None
        if not isinstance(params, dict):
            raise RequestError(400, "the request is not a JSON object")
        return params

    def _drain(self) -> None:
        """Before a refusal, read the body not read yet (a socket closed with bytes unread is reset, and the
        client may lose the answer)."""
        self.close_connection = True
        length = (getattr(self, "headers", None) or {}).get("Content-Length", "")
        if not getattr(self, "body_read", False) and re.fullmatch(r"[0-9]{1,15}", length.strip()):
            self.body_read = True
            self._discard(min(int(length), BODY_LIMIT))

    def _discard(self, length: int) -> None:
        """Read a refused body (up to 64 MB) so the client, still sending, gets the answer and not a reset."""
        self.close_connection = True
        left = min(length, 64 << 20)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except TimeoutError:
            pass

    def _answer(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = url.path
        try:
            self._check_host()
            if path in ("/", "/index.html"):
                self._send(200, self.page, "text/html; charset=utf-8", head, {"Content-Security-Policy": PAGE_CSP})
            elif path in self.static:
                self._send(200, *self.static[path], head)
            elif path == "/api/info" or path.startswith("/files/"):
                query = parse_qs(url.query, max_num_fields=4).get("token", [None])[0]
                self._check_token(self.headers.get("X-Token") or query)
                if path == "/api/info":
                    self._json(200, self.studio.info(), head)
                else:
                    self._file(self.studio.file(path), head)
            else:
                raise RequestError(404, f"not found: {path[:100]}")
        except RequestError as e:
            self._drain()
            self._json(e.status, {"error": str(e)}, head, e.headers)
        except ValueError:  # parse_qs: more fields than allowed
            self._json(400, {"error": "the request's address is malformed"}, head)

    def _file(self, path: Path, head: bool) -> None:
        """A file, whole or one byte range (the audio player asks for ranges to seek), as a download."""
        data = path.read_bytes()
        kind = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        extra = {"Content-Disposition": f'attachment; filename="{path.name}"', "Content-Security-Policy": FILE_CSP}
        match = re.fullmatch(r"bytes=([0-9]{0,15})-([0-9]{0,15})", self.headers.get("Range", "").strip())
        if match and (match[1] or match[2]):  # else (none, malformed, several ranges): the whole file
            size = len(data)
            first, last = match[1], match[2]
            if first:
                start, end = int(first), min(int(last or size - 1), size - 1)
            else:  # the last `last` bytes
                start, end = max(size - int(last), 0), size - 1
            if start > end or start >= size:
                self._send(416, b"", kind, head, {**extra, "Content-Range": f"bytes */{size}"})
                return
            self._send(206, data[start:end + 1], kind, head, {**extra, "Content-Range": f"bytes {start}-{end}/{size}"})
        else:
            self._send(200, data, kind, head, extra)

    def _json(self, status: int, obj: dict, head: bool = False, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", head,
                   {"Content-Security-Policy": "default-src 'none'", **(headers or {})})

    def _send(self, status: int, body: bytes, kind: str, head: bool = False, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the token in the page's address stays here
        self.send_header("X-Frame-Options", "DENY")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # one line per job is printed instead (do_POST)
        pass


class PageServer(ThreadingHTTPServer):
    """A thread per connection, at most `MAX_CONNECTIONS` at once (503 JSON beyond); a client that
    hangs up or goes silent is one line in the log, not a traceback."""

    daemon_threads = True
    log = staticmethod(lambda msg: print(msg, file=sys.stderr, flush=True))

    def __init__(self, *args, **kwargs):
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            body = json.dumps({"error": f"the server is busy ({MAX_CONNECTIONS} connections open): try again"}).encode()
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            self.log(f"a client went away before its answer ({type(error).__name__})")
        else:  # a bug: its traceback, and the server goes on
            super().handle_error(request, client_address)


def allowed_hosts(host: str, port: int) -> frozenset:
    """The Host headers a page on this server sends: this machine's names, and `--host`'s, with the port."""
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
    with_port = {f"{n}:{port}".lower() for n in names}
    return frozenset(with_port | ({n.lower() for n in names} if port == 80 else set()))


def make_server(studio: Studio, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> PageServer:
    """A threaded HTTP server for `studio` bound to host:port (port 0: any free one) that answers requests
    carrying `token` (None: a new random one; `server.token`); a port in use or an address that cannot
    be had is a one-line MusicLSTMError."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid port: {port} (must be 0 to 65535)")
    if token is not None and not TOKEN.match(token):
        raise ConfigError("invalid token: 1 to 256 letters, digits and . _ ~ - (it goes into the page's address)")
    token = token or secrets.token_urlsafe(24)
    static = resources.files("music_lstm").joinpath("static")
    page = static.joinpath("serve.html").read_bytes()
    assets = {url: (static.joinpath(name).read_bytes(), kind) for url, (name, kind) in STATIC.items()}
    server_class = type("PageServer", (PageServer,), {
        "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    handler = type("PageHandler", (Handler,), {"studio": studio, "page": page, "static": assets, "token": token,
                                                "hosts": frozenset()})
    try:
        server = server_class((host, port), handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise MusicLSTMError(f"port {port} is in use on {host} (another server? choose one with --port)") from None
        if e.errno == errno.EACCES:
            raise MusicLSTMError(f"port {port} on {host}: permission denied "
                                 "(ports below 1024 need root; use --port 8000)") from None
        raise MusicLSTMError(f"cannot serve on {host}:{port} ({e.strerror or e})") from None
    handler.hosts = allowed_hosts(host, server.server_address[1])
    server.token = token
    return server


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(run_dir=None, port: int = 8000, host: str = "127.0.0.1", output_dir=None, soundfont=None,
          token: str | None = None, keep_requests: int = KEEP_REQUESTS, keep_mb: float = KEEP_MB,
          log=lambda msg: print(msg, file=sys.stderr, flush=True)) -> None:
    """`python -m music_lstm serve`: bind, load the run folders, serve until Ctrl-C."""
    if host not in LOCAL_HOSTS:
        log(f"warning: serving on {host}: anyone who can reach this machine and has the token can use the page "
            f"and its files; the default 127.0.0.1 keeps it to this machine")
    said: list[str] = []
    runs = {task: resolve_run_dir(run_dir, task, said.append) for task in TASKS}
    for line in dict.fromkeys(said):  # the same choice for both tasks is said once
        log(line)
    if output_dir is None:
        root, temporary = Path(tempfile.mkdtemp(prefix="music_lstm-serve-")), True
    else:
        root, temporary = Path(output_dir), False
        root.mkdir(parents=True, exist_ok=True)
    try:
        studio = Studio(runs, root, soundfont, keep_requests=keep_requests, keep_mb=keep_mb)
        server = make_server(studio, host, port, token)  # a port in use is said before the run folders are loaded
        try:
            if threading.current_thread() is threading.main_thread():  # `kill` stops it as Ctrl-C does, tidily
                signal.signal(signal.SIGTERM, _interrupt)
            studio.load()
            for task, why in studio.unavailable.items():
                log(f"no {task} on the page: {why}")
            if studio.no_audio:
                log(f"no audio on the page: {studio.no_audio}")
            shown = f"[{host}]" if ":" in host else host
            where = ", ".join(f"{task} {studio.labels[task]}" for task in TASKS if task not in studio.unavailable)
            print(f"serving on http://{shown}:{server.server_address[1]}/?token={server.token} "
                  f"({where}; files in {root}; Ctrl-C to stop)", flush=True)
            server.serve_forever()
        except KeyboardInterrupt:
            log("stopped")
        finally:
            server.server_close()
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
