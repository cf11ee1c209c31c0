"""What the local page does, apart from HTTP: `Studio` loads each task's run folder once and runs a
request's job in a folder of its own under the network's lock; the request's settings and melody are
read and bounded here (`Settings`, `_check_melody`, `_save_upload`). `serve` puts it behind HTTP.

    python -c "from music_lstm.app.studio import Settings; print(Settings.read({'seed': 3, 'temperature': 0.7}))"
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from ..core.errors import ConfigError, MusicLSTMError
from ..core.files import atomic_path

TASKS = ("compose", "harmonize")  # what the page does, each with its own run folder (run_folder.resolve_run)
UPLOAD_LIMIT = 1 << 20  # bytes of an uploaded melody file; a chorale melody is a few kB
MELODY_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl")
DEFAULT_LENGTH = 500  # symbols to compose, as `generate`'s --length
MAX_LENGTH = 500  # the most a page may ask for: the shipped model composes and engraves 500 in 7 s, 1,000 in 9 to
# 12 (on a busy machine), 2,000 in 35; the command line takes more
MAX_NOTES = 400  # a melody's notes, bars and quarter notes the page harmonizes: each keeps a request's
MAX_BARS = 200  # hold on the network lock within 10 s with the shipped model (a chorale tune has 30 to
MAX_QUARTERS = 800.0  # 80 notes in 10 to 20 bars); the command line takes longer ones
KEEP_REQUESTS = 50  # request folders kept, the newest (--keep-requests)
KEEP_MB = 200  # and at most this many MB in all (--keep-mb); a request's files are about 1.2 MB
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")  # a request folder or a file in it
UPLOAD_STEM = ".melody"  # an upload's name in its folder: hidden, so never served back
FILE_KINDS = {".mid": "midi", ".musicxml": "musicxml", ".wav": "audio"}  # .svg: "score", a list
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^\s/'\"():,;]+)+/([^\s/'\"():,;]+)")  # its last name is kept


def resolve_run_dir(run_dir, task: str, log) -> Path:
    """The run folder a task's requests read: the one given, else runs/latest when it exists, else the
    model shipped for the task (`log` takes one line saying which). The one place it is chosen."""
    from ..runs.run_folder import resolve_run

    return resolve_run(run_dir, task, log)


def run_label(path: Path, task: str) -> str:
    """How the page names a run folder: never by the server's absolute path."""
    from ..runs.run_folder import LATEST, SHIPPED

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
        from ..io.render import audio_problem

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

        from ..io import melody_input  # noqa: F401
        from ..runs.run_folder import load_run, read_sampling
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer

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
                if run.config.task != "compose":
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
        from ..tasks.generate import generate

        settings = Settings.read(params)
        length = DEFAULT_LENGTH if settings.length is None else settings.length
        sampling = None if settings.temperature is None else {"temperature": settings.temperature}
        seed = settings.seed_or_new()
        run = self._available("compose")
        return self._job("compose", seed, lambda folder, log: generate(
            run=run, output="chorale.mid", length=length, sampling=sampling, seed=seed, output_dir=folder,
            outputs=self._outputs(), log=log))

    def harmonize(self, params: dict) -> dict:
        from ..tasks.harmonize import harmonize_files
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE

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
                from ..io.melody_input import TINY

                source = text.strip() if text.strip().startswith(TINY) else f"{TINY} {text.strip()}"
            with self.reading:
                _check_melody(source)
            return source

        def work(source, folder: Path, log):
            return harmonize_files(None, source, folder / "harmonized.mid", temperature=temperature, seed=seed,
                                   outputs=self._outputs(), log=log, run=self._available("harmonize"),
                                   harmonizer=self.harmonizer)

        upload_name = Path(str(upload.get("name") or "")).name[:100] if isinstance(upload, dict) else None
        return self._job("harmonize", seed, work, upload_name, read)

    def _outputs(self):
        """What each request writes beside its MIDI file: the score (MusicXML and SVG) and audio. The page
        draws the piano roll itself from the MIDI file (matplotlib's PNG was a fifth of a request's time)."""
        from ..tasks.outfiles import Outputs

        return Outputs(fmt="musicxml", plot=False, audio=self.no_audio is None, soundfont=self.soundfont, score=True)

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
    """Read the melody (`melody_input.read_melody`: its own limits, a MelodyError each) and refuse one the page
    would hold the network's lock too long for: more than `MAX_NOTES` notes, `MAX_BARS` bars of its time
    signature or `MAX_QUARTERS` quarter notes."""
    from ..core.errors import MelodyError
    from ..io import melody_input

    melody, _ = melody_input.read_melody(source)
    text = str(source)
    name = melody_input.TINY if text.lstrip().startswith(melody_input.TINY) else text
    end = max(o + d for o, d, _ in melody)
    num, den = (int(x) for x in melody_input.melody_time_signature(source).split("/")[:2])
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

