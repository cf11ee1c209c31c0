"""`python -m music_lstm serve`: the page's JSON API over real HTTP. Files are served only from the request
folders (parent paths, encoded dots and slashes, absolute paths, hidden names and symbolic links are
refused); an upload over the limit is 413 with a message; a bad melody or setting is a one-line message
and the server goes on; two requests at once each get their own result; a typed path is read as
tinyNotation, never as a file; a port in use is one line and exit 2; no SoundFont is a message, not a
crash; `--help` loads no TensorFlow. The slow tests harmonize and compose with a tiny satb run."""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import midi_bytes
import pytest

from music_lstm.app import serve
from music_lstm.io import midi_read
from music_lstm.core.errors import MusicLSTMError

ROOT = Path(__file__).resolve().parent.parent
TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
TUNE_NOTES = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76),
              (8.0, 4.0, 72)]
OTHER = "tinyNotation: 4/4 e'4 f' g' a' g'2 f'4 e' d'1"
OTHER_NOTES = [(0.0, 1.0, 76), (1.0, 1.0, 77), (2.0, 1.0, 79), (3.0, 1.0, 81), (4.0, 2.0, 79), (6.0, 1.0, 77),
               (7.0, 1.0, 76), (8.0, 4.0, 74)]


def _audio_expected() -> bool:
    """Whether this machine writes audio; CI (MUSIC_LSTM_REQUIRE_AUDIO) must."""
    from music_lstm.io.render import audio_problem

    problem = audio_problem()
    if problem and os.environ.get("MUSIC_LSTM_REQUIRE_AUDIO"):
        pytest.fail(f"MUSIC_LSTM_REQUIRE_AUDIO is set but {problem}")
    return problem is None


TOKEN = "token-for-tests"


class Page:
    """A server in a thread of this process, and raw HTTP requests to it (http.client sends a path as given),
    each with the server's token unless told otherwise (`token=None`)."""

    def __init__(self, studio):
        self.studio = studio
        self.server = serve.make_server(studio, "127.0.0.1", 0, token=TOKEN)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def request(self, method, path, body=None, headers=None, token=TOKEN):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={**({"X-Token": token} if token else {}), **(headers or {})})
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            conn.close()

    def get(self, path, headers=None, token=TOKEN):
        return self.request("GET", path, headers=headers, token=token)

    def post(self, path, obj):
        status, _, body = self.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})
        return status, json.loads(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def page(tmp_path):
    """A page whose run folder does not exist: everything that is refused before the network runs."""
    p = Page(serve.Studio(tmp_path / "no_run", tmp_path / "out"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def run_page(tiny_satb_run, tmp_path_factory):
    """A page on the tiny satb run, loaded as `serve` loads it."""
    studio = serve.Studio(tiny_satb_run, tmp_path_factory.mktemp("out"))
    studio.load()
    p = Page(studio)
    yield p
    p.close()


def _one_line(text: str) -> str:
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


# --- files: only from the request folders ---------------------------------------------------------------

def test_files_outside_the_request_folders_are_refused(page, tmp_path):
    out = tmp_path / "out"
    (out / "harmonize-ab12").mkdir(parents=True)
    (out / "harmonize-ab12" / "harmonized.mid").write_bytes(b"MThd-the-file")
    (out / "harmonize-ab12" / ".harmonized.mid.x.tmp.mid").write_bytes(b"half written")
    (out / "top.txt").write_text("a file of the output folder itself")
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    (out / "harmonize-ab12" / "link.mid").symlink_to(secret)
    (out / "harmonize-ab12" / "inside.mid").symlink_to(out / "harmonize-ab12" / "harmonized.mid")  # a link, even inside
    (out / "linked").symlink_to(tmp_path)
    assert page.get("/files/harmonize-ab12/harmonized.mid")[::2] == (200, b"MThd-the-file")
    refused = [
        "/files/../secret.txt", "/files/../../etc/passwd", "/files/harmonize-ab12/../../secret.txt",
        "/files/%2e%2e/secret.txt", "/files/%2E%2E/%2E%2E/etc/passwd", "/files/harmonize-ab12/%2e%2e",
        "/files/harmonize-ab12/..%2F..%2Fsecret.txt", "/files/..%2fsecret.txt", "/files/%2fetc%2fpasswd",
        "/files/" + quote(str(secret), safe=""), "/files//etc/passwd", "/files/" + str(secret),
        "/files/harmonize-ab12/link.mid", "/files/harmonize-ab12/inside.mid", "/files/linked/secret.txt",
        "/files/top.txt",
        "/files/harmonize-ab12/.harmonized.mid.x.tmp.mid", "/files/harmonize-ab12/harmonized.mid%00.txt",
    ]
    for path in refused:
        status, _, body = page.get(path)
        assert status in (403, 404), path
        assert b"SECRET" not in body and b"root:" not in body and b"half written" not in body, path
        assert b"MThd" not in body, path
        assert "error" in json.loads(body), path
    assert page.get("/files/harmonize-ab12/nothing.mid")[0] == 404
    assert page.get("/files/nothing-here/harmonized.mid")[0] == 404


def test_a_file_is_served_whole_or_by_byte_range_with_its_type(page, tmp_path):
    folder = tmp_path / "out" / "compose-x1"
    folder.mkdir(parents=True)
    (folder / "chorale.wav").write_bytes(b"RIFF0123WAVEdata")
    status, headers, body = page.get("/files/compose-x1/chorale.wav")
    assert (status, headers["Content-Type"], body) == (200, "audio/wav", b"RIFF0123WAVEdata")
    status, headers, body = page.get("/files/compose-x1/chorale.wav", {"Range": "bytes=4-7"})
    assert (status, headers["Content-Range"], body) == (206, "bytes 4-7/16", b"0123")
    assert page.get("/files/compose-x1/chorale.wav", {"Range": "bytes=-4"})[::2] == (206, b"data")
    assert page.get("/files/compose-x1/chorale.wav", {"Range": "bytes=99-"})[0] == 416


def test_the_page_and_info_are_served(page):
    status, headers, body = page.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'id="harmonize"' in body and b'id="compose"' in body and b"<audio" in body
    status, _, body = page.get("/api/info")
    info = json.loads(body)
    assert status == 200 and info["upload_limit"] == serve.UPLOAD_LIMIT
    assert info["runs"]["compose"] == info["runs"]["harmonize"] == "no_run"  # the folder's name, not its path
    assert page.get("/nothing")[0] == 404


# --- uploads and bad requests: a message each, and the server goes on ------------------------------------

def test_an_upload_over_the_limit_is_413_with_a_message(page, tmp_path):
    just_over = base64.b64encode(b"M" * (serve.UPLOAD_LIMIT + 1)).decode()
    status, answer = page.post("/api/harmonize", {"file": {"name": "big.mid", "data": just_over}})
    assert status == 413 and "too large" in _one_line(answer["error"]) and "at most 1 MB" in answer["error"]
    huge = b'{"file": {"name": "big.mid", "data": "' + b"A" * (3 * serve.UPLOAD_LIMIT) + b'"}}'
    status, _, body = page.request("POST", "/api/harmonize", huge, {"Content-Type": "application/json"})
    assert status == 413 and "too large" in json.loads(body)["error"]
    assert page.get("/api/info")[0] == 200  # still serving
    assert list((tmp_path / "out").iterdir()) == []  # a refused request leaves no folder


@pytest.mark.parametrize("body, status, words", [
    ({"length": "many"}, 400, ["length", "'many'", "whole number"]),
    ({"length": 0}, 400, ["length", "out of range"]),
    ({"temperature": "hot"}, 400, ["temperature", "not a number"]),
    ({"seed": -1}, 400, ["seed", "out of range"]),
])
def test_a_bad_compose_setting_is_one_line_naming_it(page, body, status, words):
    code, answer = page.post("/api/compose", body)
    assert code == status
    for w in words:
        assert w in _one_line(answer["error"]), answer


def test_a_bad_melody_is_one_line_and_nothing_is_kept(page, tmp_path):
    for body, words in (({"melody": "tinyNotation: 4/4 zz"}, ["not tinyNotation", "'zz'"]),
                        ({"melody": "   "}, ["give a melody"]),
                        ({}, ["give a melody"]),
                        ({"file": {"name": "tune.txt", "data": ""}}, ["tune.txt", "not a MIDI or MusicXML"]),
                        ({"file": {"name": "tune.mid", "data": "%%%"}}, ["tune.mid", "not base64"]),
                        ({"file": {"name": "empty.mid", "data": ""}}, ["empty.mid", "empty file"])):
        status, answer = page.post("/api/harmonize", body)
        assert status == 400, (body, answer)
        for w in words:
            assert w in _one_line(answer["error"]), answer
        assert str(tmp_path) not in answer["error"]  # the server's folders stay out of the page
    assert list((tmp_path / "out").iterdir()) == []
    status, _, body = page.request("POST", "/api/harmonize", b"not json", {"Content-Type": "application/json"})
    assert status == 400 and "not JSON" in json.loads(body)["error"]


def test_a_typed_path_is_read_as_tinynotation_never_as_a_file(page, tmp_path):
    melody = tmp_path / "tune.mid"
    midi_bytes.write(melody, [midi_bytes.track_bytes([(0, 1, 72), (1, 1, 74)])])
    status, answer = page.post("/api/harmonize", {"melody": str(melody)})
    assert status == 400 and "not tinyNotation" in _one_line(answer["error"])


def test_no_soundfont_is_a_message_not_a_crash(tmp_path):
    studio = serve.Studio(tmp_path / "no_run", tmp_path / "out", soundfont=tmp_path / "none.sf2")
    assert studio.info()["audio"] is False
    assert "none.sf2" in _one_line(studio.info()["no_audio"]) and "SoundFont" in studio.info()["no_audio"]


# --- the command ----------------------------------------------------------------------------------------

def test_each_task_reads_the_run_folder_given_else_the_one_the_package_resolves(tmp_path):
    from music_lstm.runs.run_folder import resolve_run

    for task in serve.TASKS:
        said = []
        assert serve.resolve_run_dir(tmp_path / "mine", task, said.append) == tmp_path / "mine" and said == []
        assert serve.resolve_run_dir(None, task, said.append) == resolve_run(None, task, lambda m: None)
        assert len(said) == 1  # which one it took, in one line


def test_a_run_folder_that_cannot_be_loaded_is_one_line_before_serving(tmp_path):
    studio = serve.Studio(tmp_path / "no_run", tmp_path / "out")
    with pytest.raises(MusicLSTMError, match="no_run"):
        studio.load()
    assert set(studio.unavailable) == set(serve.TASKS)


def test_serve_help_does_not_import_tensorflow():
    code = ("import sys; from music_lstm.app.cli import main\n"
            "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules and 'music21' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "--port" in out.stdout and "--host" in out.stdout and "127.0.0.1" in out.stdout


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "music_lstm", "serve", "--port", str(port), "--run-dir",
                              str(tmp_path / "no_run"), "--output-dir", str(tmp_path / "out")],
                             cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"music_lstm: error: port {port} is in use on 127.0.0.1 (another server? choose one with --port)"]


def test_a_missing_run_folder_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "music_lstm", "serve", "--port", "0", "--run-dir",
                          str(tmp_path / "no_run")], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 2 and out.stdout == ""
    line = _one_line(out.stderr.strip())
    assert line.startswith("music_lstm: error: ") and "no_run" in line


def test_a_host_other_than_this_machine_is_warned_about(tmp_path, monkeypatch):
    def stop(*a, **kw):
        raise MusicLSTMError("stopped here")

    monkeypatch.setattr(serve, "make_server", stop)
    for host, warned in (("0.0.0.0", True), ("127.0.0.1", False)):
        said = []
        with pytest.raises(MusicLSTMError):
            serve.serve(tmp_path / "run", port=0, host=host, log=said.append)
        assert [s.startswith("warning: serving on 0.0.0.0") for s in said] == ([True] if warned else [])


def test_the_temporary_output_folder_is_removed_when_serving_stops(tmp_path, monkeypatch):
    made = []
    real = serve.tempfile.mkdtemp

    def mkdtemp(*a, **kw):
        made.append(Path(real(*a, **kw)))
        return str(made[-1])

    monkeypatch.setattr(serve.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(serve, "make_server", lambda *a, **kw: (_ for _ in ()).throw(MusicLSTMError("stop")))
    with pytest.raises(MusicLSTMError):
        serve.serve(tmp_path / "run", port=0, log=lambda m: None)
    assert len(made) == 1 and not made[0].exists()
    with pytest.raises(MusicLSTMError):
        serve.serve(tmp_path / "run", port=0, output_dir=tmp_path / "kept", log=lambda m: None)
    assert (tmp_path / "kept").is_dir()  # a folder given with --output-dir is the user's: kept


# --- with a tiny satb run -------------------------------------------------------------------------------

def _files(page, answer) -> dict:
    """Each file of an answer, fetched: kind -> bytes (score: a list)."""
    out = {}
    for kind, url in answer["files"].items():
        urls = url if isinstance(url, list) else [url]
        bodies = []
        for u in urls:
            status, _, body = page.get(u)
            assert status == 200, u
            bodies.append(body)
        out[kind] = bodies if isinstance(url, list) else bodies[0]
    return out


@pytest.mark.slow
def test_harmonize_answers_the_score_roll_audio_and_downloads_each_in_its_own_folder(run_page, tmp_path):
    status, answer = run_page.post("/api/harmonize", {"melody": TUNE, "seed": 3})
    assert status == 200, answer
    assert answer["seed"] == 3 and answer["id"].startswith("harmonize-")
    assert answer["messages"][-1].startswith("harmonizing 7 notes in C major")
    assert "with the run folder run" in answer["messages"][-1]  # by its name: no path of the server's
    assert str(run_page.studio.root) not in json.dumps(answer) and "/tmp" not in json.dumps(answer)
    files = _files(run_page, answer)
    assert {"midi", "musicxml", "score"} <= set(files) and "roll" not in files  # the page draws the roll
    assert files["midi"][:4] == b"MThd" and b"<score-partwise" in files["musicxml"]
    assert len(files["score"]) >= 1 and all(b"<svg" in page for page in files["score"])
    if _audio_expected():
        assert files["audio"][:4] == b"RIFF" and files["audio"][8:12] == b"WAVE" and len(files["audio"]) > 44
    midi = tmp_path / "h.mid"
    midi.write_bytes(files["midi"])
    piece = midi_read.read_midi(midi)
    assert piece.voices[0] == TUNE_NOTES and all(piece.voices[1:])
    again = run_page.post("/api/harmonize", {"melody": TUNE, "seed": 3})[1]
    assert again["id"] != answer["id"] and _files(run_page, again)["midi"] == files["midi"]  # the seed repeats it


@pytest.mark.slow
def test_a_melody_typed_without_its_prefix_is_read_as_tinynotation(run_page, tmp_path):
    status, answer = run_page.post("/api/harmonize", {"melody": TUNE.removeprefix("tinyNotation:"), "seed": 1})
    assert status == 200, answer
    (tmp_path / "h.mid").write_bytes(_files(run_page, answer)["midi"])
    assert midi_read.read_midi(tmp_path / "h.mid").voices[0] == TUNE_NOTES


@pytest.mark.slow
def test_an_uploaded_midi_melody_is_harmonized_and_named_by_its_own_name(run_page, tmp_path):
    data = midi_bytes.midi_bytes([midi_bytes.track_bytes([(o, d, p) for o, d, p in TUNE_NOTES])])
    status, answer = run_page.post("/api/harmonize", {"file": {"name": "my tune.mid",
                                                               "data": base64.b64encode(data).decode()}})
    assert status == 200, answer
    (tmp_path / "h.mid").write_bytes(_files(run_page, answer)["midi"])
    assert midi_read.read_midi(tmp_path / "h.mid").voices[0] == TUNE_NOTES
    chords = midi_bytes.midi_bytes([midi_bytes.track_bytes([(t, 1, p) for t in range(4) for p in (60, 64, 67)])])
    status, answer = run_page.post("/api/harmonize", {"file": {"name": "chords.mid",
                                                               "data": base64.b64encode(chords).decode()}})
    assert status == 400 and _one_line(answer["error"]).startswith("chords.mid: chords only")


@pytest.mark.slow
def test_a_bad_melody_is_a_message_and_the_next_request_succeeds(run_page):
    status, answer = run_page.post("/api/harmonize", {"melody": "tinyNotation: 4/4 zz"})
    assert status == 400 and "not tinyNotation" in _one_line(answer["error"])
    status, answer = run_page.post("/api/harmonize", {"melody": TUNE})
    assert status == 200 and answer["files"]["midi"].endswith("/harmonized.mid")


@pytest.mark.slow
def test_two_requests_at_once_both_succeed_with_their_own_results(run_page, tmp_path):
    start = threading.Barrier(2)
    answers = {}

    def ask(name, melody):
        start.wait()
        answers[name] = run_page.post("/api/harmonize", {"melody": melody, "seed": 5})

    threads = [threading.Thread(target=ask, args=a) for a in (("tune", TUNE), ("other", OTHER))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["tune"][0] == answers["other"][0] == 200, answers
    assert answers["tune"][1]["id"] != answers["other"][1]["id"]
    for name, notes in (("tune", TUNE_NOTES), ("other", OTHER_NOTES)):
        path = tmp_path / f"{name}.mid"
        path.write_bytes(_files(run_page, answers[name][1])["midi"])
        assert midi_read.read_midi(path).voices[0] == notes, name


@pytest.mark.slow
def test_compose_writes_a_chorale_and_the_seed_repeats_it(run_page):
    status, answer = run_page.post("/api/compose", {"length": 80, "temperature": 0.8, "seed": 7})
    assert status == 200, answer
    assert answer["id"].startswith("compose-") and answer["files"]["midi"].endswith("/chorale.mid")
    files = _files(run_page, answer)
    assert files["midi"][:4] == b"MThd" and all(b"<svg" in page for page in files["score"])
    assert ("audio" in files) == _audio_expected()
    again = run_page.post("/api/compose", {"length": 80, "temperature": 0.8, "seed": 7})[1]
    assert _files(run_page, again)["midi"] == files["midi"]


@pytest.mark.slow
def test_serve_stops_on_sigterm_and_removes_its_temporary_folder(tiny_satb_run):
    proc = subprocess.Popen([sys.executable, "-m", "music_lstm", "serve", "--port", "0",
                             "--run-dir", str(tiny_satb_run)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        folder = Path(re.search(r"files in (\S+);", line)[1])
        assert folder.is_dir(), line
        assert re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32} \(compose run, harmonize run;", line), line
    finally:
        proc.terminate()
        code = proc.wait(timeout=60)
    assert code == 0 and not folder.exists()


@pytest.mark.slow
def test_a_run_that_cannot_harmonize_turns_harmonize_off_and_still_composes(tiny_satb_run, tmp_path):
    other = tmp_path / "run"
    shutil.copytree(tiny_satb_run, other)
    config = json.loads((other / "config.json").read_text())
    config["encoding"] = "voiced"  # a one-line network: no four voices to harmonize with
    (other / "config.json").write_text(json.dumps(config))
    studio = serve.Studio({"compose": tiny_satb_run, "harmonize": other}, tmp_path / "out")
    studio.load()
    p = Page(studio)
    try:
        info = json.loads(p.get("/api/info")[2])
        harmonized = p.post("/api/harmonize", {"melody": TUNE})
        composed = p.post("/api/compose", {"length": 40, "seed": 1})
    finally:
        p.close()
    assert list(info["unavailable"]) == ["harmonize"] and "four-voice" in info["unavailable"]["harmonize"]
    assert harmonized[0] == 400 and "four-voice" in _one_line(harmonized[1]["error"])
    assert composed[0] == 200 and composed[1]["files"]["midi"].endswith("/chorale.mid")


@pytest.mark.slow
def test_without_a_soundfont_the_page_still_harmonizes_and_says_why_there_is_no_audio(tiny_satb_run, tmp_path):
    studio = serve.Studio(tiny_satb_run, tmp_path / "out", soundfont=tmp_path / "none.sf2")
    studio.load()
    p = Page(studio)
    try:
        status, answer = p.post("/api/harmonize", {"melody": TUNE})
    finally:
        p.close()
    assert status == 200 and "audio" not in answer["files"] and "midi" in answer["files"]
    assert answer["messages"][0].startswith("no audio: ") and "none.sf2" in answer["messages"][0]


@pytest.mark.slow
def test_the_run_folder_is_loaded_once_at_start_not_per_request(tiny_satb_run, tmp_path, monkeypatch):
    from music_lstm.tasks import generate
    from music_lstm.tasks import harmonizer
    from music_lstm.runs import run_folder

    loads, harmonizers = [], []
    real_load, real_from_run = run_folder.load_run, harmonizer.LSTMHarmonizer.from_run.__func__

    def load_run(path):
        loads.append(path)
        return real_load(path)

    def from_run(cls, run, **options):
        harmonizers.append(run.path)
        return real_from_run(cls, run, **options)

    monkeypatch.setattr(run_folder, "load_run", load_run)
    monkeypatch.setattr(generate, "load_run", load_run)
    monkeypatch.setattr(harmonizer.LSTMHarmonizer, "from_run", classmethod(from_run))
    studio = serve.Studio(tiny_satb_run, tmp_path / "out")
    studio.load()
    p = Page(studio)
    try:
        answers = [p.post("/api/compose", {"length": 40, "seed": 1}), p.post("/api/compose", {"length": 40}),
                   p.post("/api/harmonize", {"melody": TUNE, "seed": 1}), p.post("/api/harmonize", {"melody": OTHER})]
    finally:
        p.close()
    assert [a[0] for a in answers[:2]] == [200, 200], answers
    assert all(a[0] in (200, 400) for a in answers[2:]), answers  # harmonized, or the tiny model's one line
    assert loads == [tiny_satb_run] and harmonizers == [tiny_satb_run]  # one folder for both tasks, read once


@pytest.mark.slow
def test_the_default_temperature_shown_is_the_runs_sampling_json_and_none_sent_keeps_it(tiny_satb_run, tmp_path,
                                                                                        monkeypatch):
    from music_lstm.tasks import generate

    run = tmp_path / "run"
    shutil.copytree(tiny_satb_run, run)
    (run / "sampling.json").write_text(json.dumps({"temperature": 0.37}))
    studio = serve.Studio(run, tmp_path / "out")
    studio.load()
    asked = []
    real = generate.compose_pieces
    monkeypatch.setattr(generate, "compose_pieces",
                        lambda run, length, sampling, *rest: asked.append(sampling) or real(run, length, sampling, *rest))
    p = Page(studio)
    try:
        info = json.loads(p.get("/api/info")[2])
        without = p.post("/api/compose", {"length": 40})
        given = p.post("/api/compose", {"length": 40, "temperature": 0.9})
    finally:
        p.close()
    assert info["defaults"]["temperature"] == 0.37  # the run's own, not its encoding's
    assert without[0] == given[0] == 200
    assert asked == [None, {"temperature": 0.9}]  # None: generate takes the run's sampling.json


@pytest.mark.slow
def test_compose_takes_its_length_in_bars_and_cuts_the_music_there(run_page):
    status, answer = run_page.post("/api/compose", {"bars": 2, "seed": 4})
    assert status == 200, answer
    end = max(o + d for v in answer["voices"] for o, d, _ in v)
    assert end <= answer["pickup"] + 8.0 + 1e-9 and answer["bars"] <= 3
    assert run_page.post("/api/compose", {"bars": 17})[0] == 400  # at most 16 bars


def test_serve_passes_the_rewrite_run_to_the_server(monkeypatch, tmp_path):
    from music_lstm.app import cli

    got = {}
    monkeypatch.setattr(serve, "serve", lambda run_dir, **kw: got.update(kw, run_dir=run_dir))
    assert cli.main(["serve", "--run-dir", str(tmp_path / "lr"), "--rewrite-run-dir", str(tmp_path / "fill")]) == 0
    assert got["run_dir"] == str(tmp_path / "lr") and got["rewrite_run"] == str(tmp_path / "fill")
    cli.main(["serve", "--run-dir", str(tmp_path / "lr")])
    assert got["rewrite_run"] is None


def test_a_file_renamed_while_a_request_folder_is_measured_counts_nothing(tmp_path, monkeypatch):
    # an atomic write's temporary file, listed, then renamed by a job still writing there before its size is read
    import pathlib

    from music_lstm.app.studio import folder_bytes

    (tmp_path / "a.mid").write_bytes(b"abc")
    (tmp_path / ".b.musicxml.tmp").write_bytes(b"12345")
    real, seen = pathlib.Path.stat, []

    def stat(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            seen.append(self.name)
            if len(seen) > 1:  # is_file() saw it; it is gone when its size is read
                raise FileNotFoundError(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", stat)
    assert folder_bytes(tmp_path) == 3 and len(seen) == 2
