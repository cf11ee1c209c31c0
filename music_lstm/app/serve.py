"""The local page: compose and harmonize in a browser, `python -m music_lstm serve`.

One static page (`static/serve.html`, its script and style beside it) and a small JSON API on the
standard library's `ThreadingHTTPServer`, so the page adds no dependency (docs/BENCHMARKS.md, "The local
page", has the measurements against FastAPI and Gradio):

    GET  /                the page (and its scripts, style and font under /static/)
    GET  /api/info        each task's run folder by a short name (or why it is off), the defaults, audio
    POST /api/compose     {"bars" (or "length" in symbols), "temperature", "seed"}: a new chorale
    POST /api/harmonize   {"melody": "tinyNotation: ..."} or {"file": {"name", "data": base64}}, with
                          "temperature", "seed", "key" ("G major"): alto, tenor and bass under the melody
    POST /api/rewrite     {"version": id, "bars": [A, B], "voices": ["alto", "tenor"], "seed"?}: those bars of
                          those voices of a version written again (api.rewrite), every other note kept
    GET  /files/ID/NAME   a file that one of those wrote, as a download

Compose and Harmonize each read a run folder: `--run-dir`, else the one `run_folder.resolve_run` picks for
the task (runs/latest, else the model shipped for it). Each folder is loaded once at start (network,
vocabulary and harmonizer) and reused by every request; a task its folder cannot do is off on the page,
with the reason. A request's answer holds its notes, key, metre and bars (the page plays them itself, with
WebAudio, and draws the piano roll) and its files: MIDI, MusicXML, the SVG score and its timemap (when each
note begins: the page's cursor) and a WAV, the score and the WAV written after the answer (a request for
one waits until it is). Each result is a version the page may rewrite (with `rewrite_run`, a fill_lstm run
folder; /api/info says why not otherwise), kept as long as its folder is.

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
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..core.errors import ConfigError, MusicLSTMError
from .studio import KEEP_MB, KEEP_REQUESTS, TASKS, UPLOAD_LIMIT, RequestError, Studio, resolve_run_dir, too_large

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
BODY_LIMIT = UPLOAD_LIMIT * 4 // 3 + 4096  # the upload in base64 and the JSON around it
SOCKET_TIMEOUT = 10.0  # seconds a connection may stay silent (a body shorter than its length, a slow client)
MAX_CONNECTIONS = 32  # open at once; more are answered 503
TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,256}\Z")  # what --token may be: it goes into the page's address as is
CONTENT_TYPES = {
    ".mid": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
    ".json": "application/json",
}
SCRIPTS = ("serve.js", "synth.js", "staff.js", "edit.js", "vendor/leipzig.js")  # the page's scripts, a job each
STATIC = {**{f"/static/{name}": (name, "text/javascript; charset=utf-8") for name in SCRIPTS},
          "/static/serve.css": ("serve.css", "text/css; charset=utf-8"),
          "/static/vendor/Leipzig.woff2": ("vendor/Leipzig.woff2", "font/woff2")}  # the score's text glyphs
ALLOW = "GET, HEAD, POST"
PAGE_CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"  # an SVG opened alone draws, runs nothing


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
        jobs = {"/api/compose": self.studio.compose, "/api/harmonize": self.studio.harmonize,
                "/api/rewrite": self.studio.rewrite}
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
            elif path == "/favicon.ico":  # the browser asks; the page has none
                self._send(204, b"", "image/x-icon", head)
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
    static = resources.files("music_lstm.app").joinpath("static")
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
          log=lambda msg: print(msg, file=sys.stderr, flush=True), rewrite_run=None) -> None:
    """`python -m music_lstm serve`: bind, load the run folders, serve until Ctrl-C. `rewrite_run`: the
    fill_lstm run folder that rewrites bars (None: the harmonize task's folder)."""
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
        studio = Studio(runs, root, soundfont, keep_requests=keep_requests, keep_mb=keep_mb, rewrite_run=rewrite_run)
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
