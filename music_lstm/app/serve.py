"""The local page: compose and harmonize in a browser, `python -m music_lstm serve`.

One static page (`static/serve.html`) and a small JSON API on the standard library's
`ThreadingHTTPServer`, so the page adds no dependency (docs/BENCHMARKS.md, "The local page", has the
measurements against FastAPI and Gradio):

    GET  /                the page
    GET  /api/info        each task's run folder (or why it is off), the defaults, whether audio can be written
    POST /api/compose     {"length", "temperature", "seed"}: a new chorale (generate)
    POST /api/harmonize   {"melody": "tinyNotation: ..."} or {"file": {"name", "data": base64}}, with
                          "temperature", "seed": alto, tenor and bass under the melody (harmonize)
    GET  /files/ID/NAME   a file that one of those wrote

Compose and Harmonize each read a run folder: `--run-dir`, else the one `run_folder.resolve_run` picks for
the task (runs/latest, else the model shipped for it); each is loaded once at start, and a task its folder
cannot do is off on the page, with the reason. A request's files are what `generate` and `harmonize`
write with `--format musicxml --audio --score`; the page draws the piano roll itself, from the MIDI file.

Each request writes into a new folder of its own inside the output folder (a temporary folder, removed
at exit, unless `--output-dir`), and only the files in those folders are served: a name that leaves them,
a hidden file or a symbolic link is refused. A melody is never a path on the server: typed text is read
as tinyNotation, and an upload is saved into the request's folder first. The network runs one request
at a time (a lock: the harmonizer and the stepper keep state between steps); the server answers the
page, files and the queued requests meanwhile.

    python -m music_lstm serve --port 8000          # then open http://127.0.0.1:8000
"""

from __future__ import annotations

import base64
import binascii
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
from urllib.parse import unquote, urlsplit

from ..core.errors import ConfigError, MusicLSTMError
from ..core.files import atomic_path

TASKS = ("compose", "harmonize")  # what the page does, each with its own run folder (run_folder.resolve_run)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
UPLOAD_LIMIT = 1 << 20  # bytes of an uploaded melody file; a chorale melody is a few kB
BODY_LIMIT = UPLOAD_LIMIT * 4 // 3 + 4096  # the upload in base64 and the JSON around it
MELODY_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl")
DEFAULT_LENGTH = 500  # symbols to compose, as `generate`'s --length
MAX_LENGTH = 2000  # the most a page may ask for
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")  # a request folder or a file in it
CONTENT_TYPES = {
    ".mid": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
}
FILE_KINDS = {".mid": "midi", ".musicxml": "musicxml", ".wav": "audio"}  # .svg: "score", a list


def resolve_run_dir(run_dir, task: str, log) -> Path:
    """The run folder a task's requests read: the one given, else runs/latest when it exists, else the
    model shipped for the task (`log` takes one line saying which). The one place it is chosen."""
    from ..runs.run_folder import resolve_run

    return resolve_run(run_dir, task, log)


class RequestError(MusicLSTMError):
    """A request the server refuses, with its HTTP status and a one-line message for the page."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class Studio:
    """What the page asks for, done into `root`: one new folder per request, one job at a time.
    `runs`: the run folder of each task ("compose", "harmonize"), or one folder for both."""

    def __init__(self, runs, root, soundfont=None):
        from ..io.render import audio_problem

        self.runs = {t: Path(runs[t]) for t in TASKS} if isinstance(runs, dict) else {t: Path(runs) for t in TASKS}
        self.unavailable: dict[str, str] = {}  # task -> why the page cannot do it (its button is off)
        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(root).resolve()
        self.soundfont = soundfont
        self.no_audio = audio_problem(soundfont)  # None, or why there is no audio (said on the page)
        self.lock = threading.Lock()
        self.defaults: dict = {}

    def load(self) -> None:
        """Load each task's run folder once, before serving, so the first request does not pay for
        TensorFlow's import. A task whose folder is missing, broken or cannot do it is turned off (its
        reason shown on the page); when neither task is left, the first reason is raised."""
        # What the first request would otherwise import: music21 and Verovio.
        import verovio  # noqa: F401

        from ..io import midi_read  # noqa: F401
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE
        from ..runs.run_folder import load_run

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
                self.unavailable[task] = str(run)
                continue
            if task == "compose":
                self.defaults["temperature"] = run.config.encoder().default_sampling().temperature
                if run.config.task != "compose":
                    self.unavailable[task] = f"{path}: a run that does not compose (it harmonizes, or reads JSB frames)"
            elif run.config.encoder().voices != 4:
                self.unavailable[task] = f"{path}: harmonizing needs a four-voice run (train --encoding satb)"
        self.defaults.update(harmonize_temperature=DEFAULT_TEMPERATURE, length=DEFAULT_LENGTH)
        if all(task in self.unavailable for task in TASKS):
            raise MusicLSTMError(self.unavailable[TASKS[0]])

    def info(self) -> dict:
        return {"runs": {task: str(path) for task, path in self.runs.items()}, "unavailable": self.unavailable,
                "defaults": self.defaults, "audio": self.no_audio is None, "no_audio": self.no_audio,
                "upload_limit": UPLOAD_LIMIT}

    def _available(self, task: str) -> Path:
        if task in self.unavailable:
            raise RequestError(400, self.unavailable[task])
        return self.runs[task]

    # --- the two jobs ----------------------------------------------------------------------------------

    def compose(self, params: dict) -> dict:
        from ..tasks.generate import generate

        settings = Settings.read(params)
        length = DEFAULT_LENGTH if settings.length is None else settings.length
        sampling = None if settings.temperature is None else {"temperature": settings.temperature}
        seed = settings.seed_or_new()
        run_dir = self._available("compose")
        return self._job("compose", seed, lambda folder, log: generate(
            run_dir, "chorale.mid", length=length, sampling=sampling, seed=seed, output_dir=folder,
            **self._outputs(), log=log))

    def harmonize(self, params: dict) -> dict:
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE
        from ..tasks.harmonize import harmonize_files

        settings = Settings.read(params)
        temperature = DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature
        seed = settings.seed_or_new()
        upload = params.get("file")
        text = params.get("melody")
        if upload is None and not (isinstance(text, str) and text.strip()):
            raise RequestError(400, "give a melody: type tinyNotation, or choose a MIDI or MusicXML file")
        run_dir = self._available("harmonize")

        def work(folder: Path, log):
            if upload is not None:
                source = _save_upload(upload, folder)
            else:  # typed text is tinyNotation, never a path on this machine
                from ..io.melody_input import TINY

                source = text.strip() if text.strip().startswith(TINY) else f"{TINY} {text.strip()}"
            return harmonize_files(run_dir, source, folder / "harmonized.mid", temperature=temperature,
                                   seed=seed, **self._outputs(), log=log)

        upload_name = Path(str(upload.get("name") or "")).name[:100] if isinstance(upload, dict) else None
        return self._job("harmonize", seed, work, upload_name)

    def _outputs(self) -> dict:
        """What each request writes beside its MIDI file: the score (MusicXML and SVG) and audio. The page
        draws the piano roll itself from the MIDI file (matplotlib's PNG was a fifth of a request's time)."""
        return {"fmt": "musicxml", "plot": False, "audio": self.no_audio is None, "soundfont": self.soundfont,
                "score": True}

    def _job(self, kind: str, seed: int, work, upload_name: str | None = None) -> dict:
        """Run `work(folder, log)` in a new folder under the lock; the files it wrote as the page's URLs.
        Its messages and errors reach the page without the server's folders in them."""
        folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self.root))
        messages: list[str] = []
        if self.no_audio:
            messages.append(f"no audio: {self.no_audio}")
        start = time.perf_counter()
        try:
            with self.lock:
                paths = work(folder, messages.append)
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)  # a failed request leaves nothing behind
            if isinstance(e, MusicLSTMError) and not isinstance(e, RequestError):
                raise MusicLSTMError(self._public(str(e), folder, upload_name)) from None
            raise
        files: dict = {"score": []}
        for path in map(Path, paths):
            url = f"/files/{folder.name}/{path.name}"
            if path.suffix == ".svg":
                files["score"].append(url)
            elif path.suffix in FILE_KINDS:
                files[FILE_KINDS[path.suffix]] = url
        # keywords, not a literal: the string "seed" is an encoding's old name, spelled only in encodings/
        return dict(id=folder.name, seed=seed, files=files, seconds=round(time.perf_counter() - start, 2),
                    messages=[self._public(m, folder, upload_name) for m in messages])

    def _public(self, message: str, folder: Path, upload_name: str | None = None) -> str:
        """A message without the server's own folders in it; an upload is named by its own name."""
        if upload_name:
            message = re.sub(re.escape(f"{folder}/melody.") + r"\w+", lambda _: upload_name, message)
        return message.replace(f"{folder}/", "").replace(str(self.root), "the output folder")

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
        number = kind(value)
        if kind is int and number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise RequestError(400, f"{key}: {value!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if not low <= number <= high:
        raise RequestError(400, f"{key}: {value} is out of range ({low} to {high})")
    return number


def _save_upload(upload, folder: Path) -> Path:
    """An uploaded melody ({"name", "data": base64}) saved into the request's folder as melody.SUFFIX."""
    if not isinstance(upload, dict) or not isinstance(upload.get("data"), str):
        raise RequestError(400, "file: expected {\"name\": ..., \"data\": base64}")
    name = str(upload.get("name") or "melody.mid")
    suffix = Path(name).suffix.lower()
    if suffix not in MELODY_SUFFIXES:
        raise RequestError(400, f"{Path(name).name}: not a MIDI or MusicXML file (give {', '.join(MELODY_SUFFIXES)})")
    try:
        data = base64.b64decode(upload["data"], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"{Path(name).name}: the upload is damaged (not base64)") from None
    if len(data) > UPLOAD_LIMIT:
        raise RequestError(413, too_large(len(data)))
    path = folder / f"melody{suffix}"
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def too_large(size: int) -> str:
    return f"the melody file is too large ({size / 2**20:.1f} MB; at most {UPLOAD_LIMIT / 2**20:.0f} MB)"


# --- HTTP ------------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "music_lstm"
    studio: Studio  # set on the subclass `make_server` makes
    page: bytes
    log = staticmethod(lambda msg: print(msg, file=sys.stderr, flush=True))

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        jobs = {"/api/compose": self.studio.compose, "/api/harmonize": self.studio.harmonize}
        try:
            if path not in jobs:
                raise RequestError(404, f"no such action: {path}")
            params = self._json_body()
            result = jobs[path](params)
            self.log(f"{path[5:]}: {result['id']} in {result['seconds']:.1f} s")
            self._json(200, result)
        except RequestError as e:
            self._json(e.status, {"error": str(e)})
        except MusicLSTMError as e:  # a bad melody, a setting out of range, a run folder that cannot do it
            self._json(400, {"error": str(e)})
        except Exception as e:  # noqa: BLE001  (a bug: a traceback in the terminal, a line on the page)
            traceback.print_exc()
            self._json(500, {"error": f"internal error ({type(e).__name__}: {e}); the server goes on"})

    def _json_body(self) -> dict:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "the request has no length")
        length = int(length)
        if length > BODY_LIMIT:
            self._discard(length)
            raise RequestError(413, too_large(length * 3 // 4))
        try:
            params = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "the request is not JSON") from None
        if not isinstance(params, dict):
            raise RequestError(400, "the request is not a JSON object")
        return params

    def _discard(self, length: int) -> None:
        """Read a refused body (up to 64 MB) so the client, still sending, gets the answer and not a reset."""
        self.close_connection = True
        left = min(length, 64 << 20)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)

    def _answer(self, head: bool) -> None:
        path = urlsplit(self.path).path
        try:
            if path in ("/", "/index.html"):
                self._send(200, self.page, "text/html; charset=utf-8", head)
            elif path == "/api/info":
                self._json(200, self.studio.info(), head)
            elif path.startswith("/files/"):
                self._file(self.studio.file(path), head)
            else:
                raise RequestError(404, f"not found: {path}")
        except RequestError as e:
            self._json(e.status, {"error": str(e)}, head)

    def _file(self, path: Path, head: bool) -> None:
        """A file, whole or one byte range (the audio player asks for ranges to seek)."""
        data = path.read_bytes()
        kind = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and (match[1] or match[2]):
            size = len(data)
            first, last = match[1], match[2]
            if first:
                start, end = int(first), min(int(last or size - 1), size - 1)
            else:  # the last `last` bytes
                start, end = max(size - int(last), 0), size - 1
            if start > end or start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(206, data[start:end + 1], kind, head, {"Content-Range": f"bytes {start}-{end}/{size}"})
        else:
            self._send(200, data, kind, head)

    def _json(self, status: int, obj: dict, head: bool = False) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", head)

    def _send(self, status: int, body: bytes, kind: str, head: bool = False, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # one line per job is printed instead (do_POST)
        pass


def make_server(studio: Studio, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A threaded HTTP server for `studio` bound to host:port (port 0: any free one); a port in use or an
    address that cannot be had is a one-line MusicLSTMError."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid port: {port} (must be 0 to 65535)")
    page = resources.files("music_lstm.app").joinpath("static").joinpath("serve.html").read_bytes()
    handler = type("PageHandler", (Handler,), {"studio": studio, "page": page})
    server_class = type("PageServer", (ThreadingHTTPServer,), {
        "daemon_threads": True, "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    try:
        return server_class((host, port), handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise MusicLSTMError(f"port {port} is in use on {host} (another server? choose one with --port)") from None
        if e.errno == errno.EACCES:
            raise MusicLSTMError(f"port {port} on {host}: permission denied "
                                 "(ports below 1024 need root; use --port 8000)") from None
        raise MusicLSTMError(f"cannot serve on {host}:{port} ({e.strerror or e})") from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(run_dir=None, port: int = 8000, host: str = "127.0.0.1", output_dir=None, soundfont=None,
          log=lambda msg: print(msg, file=sys.stderr, flush=True)) -> None:
    """`python -m music_lstm serve`: bind, load the run folders, serve until Ctrl-C."""
    if host not in LOCAL_HOSTS:
        log(f"warning: serving on {host}: anyone who can reach this machine can use the page and its files "
            f"(no login); the default 127.0.0.1 keeps it to this machine")
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
        studio = Studio(runs, root, soundfont)
        server = make_server(studio, host, port)  # a port in use is said before the run folders are loaded
        try:
            if threading.current_thread() is threading.main_thread():  # `kill` stops it as Ctrl-C does, tidily
                signal.signal(signal.SIGTERM, _interrupt)
            studio.load()
            for task, why in studio.unavailable.items():
                log(f"no {task} on the page: {why}")
            if studio.no_audio:
                log(f"no audio on the page: {studio.no_audio}")
            shown = f"[{host}]" if ":" in host else host
            where = ", ".join(f"{task} {path}" for task, path in runs.items() if task not in studio.unavailable)
            print(f"serving on http://{shown}:{server.server_address[1]}/ ({where}; files in {root}; Ctrl-C to stop)",
                  flush=True)
            server.serve_forever()
        except KeyboardInterrupt:
            log("stopped")
        finally:
            server.server_close()
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
