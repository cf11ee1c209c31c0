"""`serve` against a web page that would abuse it and against malformed requests: a foreign Host header
(DNS rebinding) and a request without the token are refused, a POST must be JSON, unknown methods are
405 JSON, deep nesting, bad lengths, short bodies and odd ranges are 4xx, connections are capped, a
client that hangs up is one quiet line, files go back as downloads and the page under a strict CSP,
request folders stay within their limits, no answer names the server's folders by absolute path, the run
folder is loaded once and its sampling.json is the default the page shows. A fuzz test sends random
requests and checks every answer is JSON under 500 and the server keeps answering."""

import http.client
import json
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from music_lstm.app import serve, studio
from music_lstm.runs.run_folder import SHIPPED
from test_serve import TOKEN, TUNE, Page

JSON = {"Content-Type": "application/json"}


def raw(port: int, data: bytes, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send `data` as it is; the status, headers (lower-case names) and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(1 << 16):
                chunks.append(chunk)
        except ConnectionResetError:  # after the answer: what was read is the answer
            assert chunks
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def post_raw(port: int, body: bytes, headers: dict, path: str = "/api/harmonize") -> tuple[int, dict, bytes]:
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", **headers}.items())
    return raw(port, f"POST {path} HTTP/1.1\r\n{head}\r\n".encode("utf-8") + body)


def _error(body: bytes) -> str:
    error = json.loads(body)["error"]
    assert error and "\n" not in error and "Traceback" not in error, error
    return error


@pytest.fixture
def page(tmp_path):
    p = Page(serve.Studio(tmp_path / "no_run", tmp_path / "out"))
    yield p
    p.close()


def _request_folder(page, tmp_path, name="compose-ab12", data=b"RIFF0123WAVEdata", file="chorale.wav"):
    folder = tmp_path / "out" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_bytes(data)
    return f"/files/{name}/{file}"


# --- who may ask ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1.evil.example:{port}",
                                  "localhost:1", "127.0.0.1", "", "localhost:{port}.evil"])
def test_a_foreign_host_header_is_refused_for_every_path(page, host):
    host = host.format(port=page.port)
    for method, path, body in (("GET", "/", None), ("GET", "/api/info", None), ("GET", "/static/serve.js", None),
                               ("POST", "/api/harmonize", b'{"melody": "c4"}')):
        status, headers, answer = page.request(method, path, body, {"Host": host, **JSON})
        assert status == 403, (host, path)
        assert headers["Content-Type"] == "application/json" and "Host" in _error(answer)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST:{port}"])
def test_this_machines_names_with_the_port_are_answered(page, host):
    status, _, body = page.request("GET", "/api/info", headers={"Host": host.format(port=page.port)})
    assert status == 200 and "runs" in json.loads(body)


def test_the_host_given_with_host_is_answered():
    hosts = serve.allowed_hosts("192.168.1.5", 8080)
    assert "192.168.1.5:8080" in hosts and "localhost:8080" in hosts and "evil.example:8080" not in hosts
    assert "[fe80::1]:8000" in serve.allowed_hosts("fe80::1", 8000)


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                  "", "application/jsonp", "text/json"])
def test_a_post_that_is_not_json_is_refused_even_with_the_token(page, kind):
    headers = {"Content-Type": kind} if kind else {}
    status, _, body = page.request("POST", "/api/harmonize", b'{"melody": "c4"}', headers)
    assert status == 415 and "application/json" in _error(body)


def test_json_with_a_charset_is_taken(page):
    status, _, body = page.request("POST", "/api/compose", b'{"length": 0}',
                                   {"Content-Type": "application/json; charset=utf-8"})
    assert status == 400 and "length" in _error(body)  # past the checks, refused for its setting


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1]])
def test_a_post_without_the_right_token_is_refused(page, token, tmp_path):
    status, _, body = page.request("POST", "/api/harmonize", json.dumps({"melody": TUNE}).encode(), JSON, token=token)
    assert status == 403 and "token" in _error(body)
    assert list((tmp_path / "out").iterdir()) == []  # no work begun


def test_info_and_files_need_the_token_the_page_and_its_assets_do_not(page, tmp_path):
    url = _request_folder(page, tmp_path)
    for path in ("/api/info", url, f"{url}?token=wrong"):
        status, _, body = page.request("GET", path, token=None)
        assert status == 403 and "token" in _error(body), path
        assert b"runs" not in body and b"RIFF" not in body
    assert page.request("GET", f"{url}?token={TOKEN}", token=None)[::2] == (200, b"RIFF0123WAVEdata")
    assert page.request("GET", url)[0] == 200  # the X-Token header
    for path in ("/", "/static/serve.js", "/static/serve.css"):
        assert page.request("GET", path, token=None)[0] == 200, path


def test_the_right_token_is_accepted(page):
    status, _, body = page.request("POST", "/api/compose", b'{"seed": -1}', JSON)
    assert status == 400 and "seed" in _error(body)  # the request was read: its setting is what is refused


def test_the_token_can_be_given_else_each_server_makes_its_own(tmp_path, monkeypatch):
    made = {}

    def stop(studio, host, port, token):
        made["server"] = real(studio, host, 0, token)
        made["server"].server_close()
        raise serve.MusicLSTMError("stopped")

    real = serve.make_server
    monkeypatch.setattr(serve, "make_server", stop)
    with pytest.raises(serve.MusicLSTMError):
        serve.serve(tmp_path / "run", port=0, token="given-token", log=lambda m: None)
    assert made["server"].token == "given-token"
    first = real(serve.Studio(tmp_path / "run", tmp_path / "o"), "127.0.0.1", 0)
    second = real(serve.Studio(tmp_path / "run", tmp_path / "o"), "127.0.0.1", 0)
    first.server_close(), second.server_close()
    assert first.token != second.token and len(first.token) >= 24  # secrets.token_urlsafe, one per server
    for bad in ("", "has space", "a/b", "x" * 300):
        with pytest.raises(serve.ConfigError, match="invalid token"):
            real(serve.Studio(tmp_path / "run", tmp_path / "o"), "127.0.0.1", 0, token=bad)


# --- malformed requests: a 4xx JSON answer each ---------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "BREW", "get"])
def test_unknown_methods_are_405_json_with_allow(page, method):
    status, headers, body = raw(page.port, f"{method} /api/info HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n\r\n".encode())
    assert status == 405 and headers["allow"] == "GET, HEAD, POST"
    assert headers["content-type"] == "application/json" and method in _error(body)


def test_deeply_nested_json_is_400(page):
    for body in (b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        status, _, answer = page.request("POST", "/api/compose", body, JSON)
        assert status == 400 and "nested" in _error(answer)


@pytest.mark.parametrize("length", ["9" * 5000, "\u0661\u0662", "\u00b2", "-1", "12abc", "0x10", "1e3", " "])
def test_a_bad_content_length_is_400(page, length):
    status, _, body = post_raw(page.port, b"{}", {"X-Token": TOKEN, **JSON, "Content-Length": length})
    assert status == 400 and "Content-Length" in _error(body)


def test_a_missing_length_is_411_and_a_huge_one_413(page):
    assert post_raw(page.port, b"", {"X-Token": TOKEN, **JSON})[0] == 411
    status, _, body = post_raw(page.port, b"{}", {"X-Token": TOKEN, **JSON, "Content-Length": "99999999999"})
    assert status == 413 and "too large" in _error(body)


def test_a_body_shorter_than_its_length_does_not_hold_a_thread(page, monkeypatch):
    monkeypatch.setattr(page.server.RequestHandlerClass, "timeout", 1.0)
    start = time.monotonic()
    status, _, body = post_raw(page.port, b'{"a": 1}', {"X-Token": TOKEN, **JSON, "Content-Length": "100"})
    assert status == 408 and "did not arrive" in _error(body)
    assert time.monotonic() - start < 30  # let go after the socket's timeout, not when the client gives up
    assert page.get("/api/info")[0] == 200
    assert serve.Handler.timeout == serve.SOCKET_TIMEOUT == 10


def test_a_silent_connection_is_let_go(page, monkeypatch):
    monkeypatch.setattr(page.server.RequestHandlerClass, "timeout", 0.5)
    with socket.create_connection(("127.0.0.1", page.port), timeout=30) as s:
        s.sendall(b"GET /api/info HTTP/1.1\r\n")  # and nothing more
        assert s.recv(100) == b""  # the server closed it


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=0-1,3-4",
                                    "bytes=\u0661-\u0662", "items=0-1", "bytes=-", "bytes=5-2"])
def test_odd_range_headers_never_raise(page, tmp_path, header):
    url = _request_folder(page, tmp_path)
    status, _, body = raw(page.port, f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\nX-Token: {TOKEN}\r\n"
                                     f"Range: {header}\r\n\r\n".encode())
    assert status in (200, 206, 416) and (status != 200 or body == b"RIFF0123WAVEdata")
    assert page.get("/api/info")[0] == 200


def test_connections_beyond_the_cap_are_503_json_and_the_server_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "MAX_CONNECTIONS", 2)
    p = Page(serve.Studio(tmp_path / "no_run", tmp_path / "out"))
    monkeypatch.setattr(p.server.RequestHandlerClass, "timeout", 2.0)
    try:
        idle = [socket.create_connection(("127.0.0.1", p.port)) for _ in range(2)]
        time.sleep(0.3)  # both accepted and waiting for their request line
        status, headers, body = raw(p.port, f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{p.port}\r\n\r\n".encode())
        assert status == 503 and "busy" in _error(body) and headers["content-type"] == "application/json"
        for s in idle:
            s.close()
        time.sleep(0.3)
        assert p.get("/api/info")[0] == 200
    finally:
        p.close()


def test_a_client_that_hangs_up_is_one_quiet_line(page, tmp_path, capfd):
    url = _request_folder(page, tmp_path, data=b"\0" * (64 << 20))  # more than the socket buffers hold
    said = []
    page.server.log = said.append
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", page.port))
        s.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\nX-Token: {TOKEN}\r\n\r\n".encode())
        s.recv(10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # a reset, not a goodbye
        s.close()
    deadline = time.monotonic() + 30
    while len(said) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(said) == 3 and all(line.startswith("a client went away") for line in said), said
    assert "Traceback" not in capfd.readouterr().err
    assert page.get("/api/info")[0] == 200


# --- what goes back ------------------------------------------------------------------------------------

def test_files_are_downloads_that_nothing_sniffs_or_runs(page, tmp_path):
    url = _request_folder(page, tmp_path, "harmonize-x1", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>",
                          "harmonized-1.svg")
    status, headers, _ = page.get(url)
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="harmonized-1.svg"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"] and "default-src 'none'" in headers["Content-Security-Policy"]
    status, headers, _ = page.get(_request_folder(page, tmp_path, "harmonize-x1", b"MThd", "h.mid"), {"Range": "bytes=0-1"})
    assert status == 206 and headers["Content-Disposition"].startswith("attachment")


def test_the_page_runs_under_a_csp_that_allows_no_other_origin_and_no_inline_script(page):
    status, headers, body = page.get("/", token=None)
    csp = headers["Content-Security-Policy"]
    assert status == 200 and "default-src 'self'" in csp and "unsafe-inline" not in csp and "*" not in csp
    assert "frame-ancestors 'none'" in csp and headers["X-Content-Type-Options"] == "nosniff"
    html = body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html  # all in files of their own
    assert not re.search(r"\son\w+=|\sstyle=|javascript:", html)
    assert '<script src="/static/serve.js">' in html and 'href="/static/serve.css"' in html
    status, headers, js = page.get("/static/serve.js", token=None)
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and b"X-Token" in js
    assert page.get("/static/serve.css", token=None)[1]["Content-Type"].startswith("text/css")
    assert page.get("/static/../serve.py", token=None)[0] == 404


def test_a_saved_upload_is_hidden_and_never_served_back(page, tmp_path):
    url = _request_folder(page, tmp_path, "harmonize-up", b"<html><script>alert(1)</script>", ".melody.musicxml")
    assert page.get(url)[0] == 403
    folder = tmp_path / "x"
    folder.mkdir()
    import base64

    saved = studio._save_upload({"name": "../../evil.musicxml", "data": base64.b64encode(b"<x/>").decode()}, folder)
    assert saved == folder / ".melody.musicxml" and saved.read_bytes() == b"<x/>"


def test_no_absolute_path_in_info_or_in_an_error(tmp_path):
    soundfont = tmp_path / "deep" / "none.sf2"
    p = Page(serve.Studio(tmp_path / "no_run", tmp_path / "out", soundfont=soundfont))
    try:
        with pytest.raises(serve.MusicLSTMError):
            p.studio.load()
        body = p.get("/api/info")[2].decode()
        info = json.loads(body)
        refused = p.request("POST", "/api/harmonize", json.dumps({"melody": "tinyNotation: 4/4 zz"}).encode(), JSON)[2]
    finally:
        p.close()
    assert str(tmp_path) not in body and "/tmp" not in body and str(tmp_path) not in refused.decode()
    assert "no_run" in info["unavailable"]["harmonize"] and "none.sf2" in info["no_audio"]
    assert info["runs"] == {"compose": "no_run", "harmonize": "no_run"}
    assert studio.run_label(SHIPPED / "harmonize", "harmonize") == "shipped harmonize model"


def test_messages_lose_every_absolute_path(tmp_path):
    studio = serve.Studio(tmp_path / "runs" / "long", tmp_path / "out")
    folder = studio.root / "harmonize-ab"
    message = (f"harmonizing 7 notes in C major with the run folder {tmp_path / 'runs' / 'long'}; "
               f"{folder}/.melody.mid: bad; {tmp_path}/a/b.sf2: not a SoundFont; 4/4 and 1/1024 stay")
    public = studio.public(message, folder, "my tune.mid")
    assert str(tmp_path) not in public and "/tmp" not in public
    assert "run folder long;" in public and "my tune.mid: bad" in public and "b.sf2: not" in public
    assert "4/4 and 1/1024 stay" in public


# --- bounded work and disk -------------------------------------------------------------------------------

def _fake_job(studio, n, size=1000):
    def work(folder, log):
        (folder / "chorale.mid").write_bytes(b"M" * size)
        return [folder / "chorale.mid"]

    return [studio._job("compose", k, work)["id"] for k in range(n)]


def test_request_folders_are_kept_to_their_number_oldest_removed_first(tmp_path):
    studio = serve.Studio(tmp_path / "run", tmp_path / "out", keep_requests=3)
    ids = _fake_job(studio, 6)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ids[-3:])


def test_request_folders_are_kept_to_their_size_oldest_removed_first(tmp_path):
    studio = serve.Studio(tmp_path / "run", tmp_path / "out", keep_requests=50, keep_mb=2500 / 2**20)
    ids = _fake_job(studio, 5, size=1000)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ids[-2:])
    assert _fake_job(studio, 1, size=10_000) and len(list((tmp_path / "out").iterdir())) == 1  # the newest stays


def test_the_limits_are_checked_and_the_flags_default_to_them(tmp_path):
    from music_lstm.app.cli import build_parser

    with pytest.raises(serve.ConfigError, match="keep-requests"):
        serve.Studio(tmp_path / "run", tmp_path / "out", keep_requests=0)
    args = build_parser().parse_args(["serve"])
    assert (args.keep_requests, args.keep_mb, args.token) == (serve.KEEP_REQUESTS, serve.KEEP_MB, None)


def test_a_melody_too_long_for_the_page_is_400_before_the_network(page, tmp_path):
    for melody in ("tinyNotation: 1/1024 c'4 d'", "tinyNotation: 4/4 " + "c'4 " * (studio.MAX_NOTES + 1)):
        status, _, body = page.request("POST", "/api/harmonize", json.dumps({"melody": melody}).encode(), JSON)
        assert status == 400, melody
        assert page.studio.jobs["count"] == 0  # the network's lock was never taken
    assert list((tmp_path / "out").iterdir()) == []


def test_the_lock_is_timed(tmp_path):
    studio = serve.Studio(tmp_path / "run", tmp_path / "out")

    def work(folder, log):
        time.sleep(0.2)
        return []

    answer = studio._job("compose", 1, work)
    assert answer["lock_seconds"] >= 0.2 and studio.jobs == {"count": 1, "longest_lock_s": pytest.approx(0.2, abs=0.5)}
    assert studio.info()["jobs"]["count"] == 1


# --- a fuzz test of the front door ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    p = Page(serve.Studio(tmp / "no_run", tmp / "out"))
    p.server.RequestHandlerClass.timeout = 0.5  # a body shorter than its length costs half a second here
    (tmp / "out" / "compose-ab12").mkdir(parents=True)
    (tmp / "out" / "compose-ab12" / "chorale.wav").write_bytes(b"RIFF0123WAVEdata")
    yield p
    p.close()


METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "X" * 300]) | st.from_regex(
    r"[A-Z]{1,8}", fullmatch=True)
PATHS = st.sampled_from(["/", "/api/info", "/api/compose", "/api/harmonize", "/files/compose-ab12/chorale.wav",
                         "/files/../etc/passwd", "/files/%2e%2e/x", "/static/serve.js", "/nothing", "//", "/?token=" +
                         TOKEN, "/api/info?token=" + TOKEN + "&token=x", "/files/compose-ab12/chorale.wav?" + "a=1&" * 50,
                         "/" + "a" * 70_000]) | st.from_regex(r"/[!-~]{0,40}", fullmatch=True)
BODIES = st.sampled_from([b"", b"{}", b"[]", b"null", b'{"melody": 5}', b'{"length": "9999999999999999999999"}',
                          b'{"temperature": NaN}', b'{"seed": 1e400}', b"[" * 5000, b'{"file": {"name": 1}}',
                          b'{"file": {"name": "a.exe", "data": "AA=="}}', b'{"melody": "tinyNotation: 1/1024 c\'4 d\'"}',
                          b"\xff\xfe\x00"]) | st.binary(max_size=200)


@st.composite
def requests(draw):
    method, path, body = draw(METHODS), draw(PATHS), draw(BODIES)
    headers = {}
    host = draw(st.sampled_from(["ok", "evil.example", None, "localhost:{port}", "\u00e9:{port}"]))
    if host:
        headers["Host"] = "127.0.0.1:{port}" if host == "ok" else host
    token = draw(st.sampled_from([TOKEN, None, "wrong", "\u00e9"]))
    if token:
        headers["X-Token"] = token
    kind = draw(st.sampled_from(["application/json", None, "text/plain", "application/json; charset=x", "\u00e9"]))
    if kind:
        headers["Content-Type"] = kind
    length = draw(st.sampled_from(["right", None, "9" * 5000, "-1", "\u0661", "99999999", "0", "short"]))
    if length == "right":
        headers["Content-Length"] = str(len(body))
    elif length == "short":
        headers["Content-Length"] = str(len(body) + 5)
    elif length:
        headers["Content-Length"] = length
    if draw(st.booleans()):
        headers["Range"] = draw(st.sampled_from(["bytes=0-3", "bytes=-" + "9" * 5000, "bytes=a-b", "bytes=2-1,"]))
    if draw(st.booleans()):
        headers[draw(st.from_regex(r"[A-Za-z-]{1,20}", fullmatch=True))] = draw(st.text(max_size=30).map(
            lambda t: t.replace("\r", "").replace("\n", "")))
    return method, path, headers, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(requests())
def test_any_request_gets_a_json_answer_under_500_and_the_server_goes_on(fuzz_page, request_):
    method, path, headers, body = request_
    port = fuzz_page.port
    head = "".join(f"{k}: {v.replace('{port}', str(port))}\r\n" for k, v in headers.items())
    data = f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode("utf-8") + body
    status, answer_headers, answer = raw(port, data)
    assert 200 <= status < 500, (status, answer[:200])
    kind = answer_headers.get("content-type", "")
    if status >= 300 and method != "HEAD":
        assert kind == "application/json", (status, kind)
        assert json.loads(answer)["error"]
    assert "traceback" not in answer.decode("latin-1").lower()
    assert fuzz_page.get("/api/info")[0] == 200  # and it keeps answering
