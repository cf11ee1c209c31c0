"""What the local page does, apart from HTTP: `Studio` loads each task's run folder once and runs a
request's job in a folder of its own under the network's lock; each result is a `Version` (its Chorale,
files, parent) that `rewrite` writes bars of again (`api.rewrite`), kept while its folder is; the score and
the WAV are written after the answer, in one thread (`_later`), and a request for them waits. The request's
settings, key and melody are read and bounded here (`Settings`, `versions.parse_key`, `_check_melody`, `_save_upload`).
`serve` puts it behind HTTP.

    python -c "from music_lstm.app.studio import Settings; print(Settings.read({'seed': 3, 'temperature': 0.7}))"
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import math
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from ..core.errors import ConfigError, MusicLSTMError, RenderError
from ..core.files import atomic_path
from .versions import BadKey, Version, accepted, cut, key_signature, parse_key

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
FILL = "fill_lstm"  # what `load` records for a fill_lstm run folder, which `api` loads
WARM_UP = "tinyNotation: 4/4 c'2 d' e'1"  # harmonized once at start, so no request pays for the loading
DEFAULT_BARS = 8  # bars the page composes unless told
MAX_COMPOSE_BARS = 16  # bars of 4/4 the page composes: about MAX_LENGTH symbols
SYMBOLS_PER_QUARTER = 7.5  # what the satb encoding spends on a quarter note of the chorales (docs/ENCODINGS.md)
PENDING_WAIT = 60.0  # seconds a request for a file still being written (score, WAV) waits for it
VOICES = ("soprano", "alto", "tenor", "bass")  # as a rewrite names them
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")  # a request folder or a file in it
UPLOAD_STEM = ".melody"  # an upload's name in its folder: hidden, so never served back
FILE_KINDS = {".mid": "midi", ".musicxml": "musicxml", ".wav": "audio"}  # .svg: "score", a list; .timemap.json
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


def folder_bytes(folder: Path) -> int:
    """The bytes of the files in `folder`; a file gone between the listing and its size (a temporary file
    of an atomic write, renamed meanwhile by a job still writing there) counts nothing."""
    total = 0
    for f in folder.iterdir():
        try:
            total += f.stat().st_size if f.is_file() else 0
        except FileNotFoundError:
            pass
    return total


class Studio:
    """What the page asks for, done into `root`: one new folder per request, one job at a time.
    `runs`: the run folder of each task ("compose", "harmonize"), or one folder for both."""

    def __init__(self, runs, root, soundfont=None, keep_requests: int = KEEP_REQUESTS, keep_mb: float = KEEP_MB,
                 rewrite_run=None):
        from ..io.render import audio_problem

        if keep_requests < 1 or not keep_mb > 0:
            raise ConfigError(f"invalid request limits: --keep-requests {keep_requests} (at least 1) and "
                              f"--keep-mb {keep_mb} (more than 0)")
        self.runs = {t: Path(runs[t]) for t in TASKS} if isinstance(runs, dict) else {t: Path(runs) for t in TASKS}
        self.labels = {t: run_label(p, t) for t, p in self.runs.items()}
        # What rewrites a passage (`api.rewrite`: a fill_lstm run folder); None: the harmonize task's folder
        self.rewrite_run = None if rewrite_run is None else Path(rewrite_run)
        self.unavailable: dict[str, str] = {}  # task -> why the page cannot do it (its button is off)
        Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(root).resolve()
        self.soundfont = soundfont
        self.no_audio = audio_problem(soundfont)  # None, or why there is no audio (said on the page)
        self.synth = None  # the SoundFont loaded once (`io.synth`); else each WAV through the fluidsynth program
        if self.no_audio is None:
            from ..io.synth import LoadedSynth

            try:
                self.synth = LoadedSynth(soundfont)
            except RenderError:
                pass
        self.lock = threading.Lock()  # the network: one job at a time
        self.reading = threading.Lock()  # music21 reads one melody at a time, outside the network's lock
        self.defaults: dict = {}
        self.loaded: dict[str, object] = {}  # task -> its run_folder.Run, loaded once
        self.harmonizer = None  # the harmonize task's LSTMHarmonizer, made once
        self.fill = False  # the harmonize task's folder is a fill_lstm run: `api.harmonize` runs it (loaded once)
        self.keep_requests, self.keep_bytes = keep_requests, int(keep_mb * 2**20)
        self.kept: collections.OrderedDict[Path, int] = collections.OrderedDict()  # request folder -> bytes
        self.kept_lock = threading.Lock()
        self.jobs = {"count": 0, "longest_lock_s": 0.0}  # what the network lock was held for (the soak reads it)
        self.versions: dict[str, Version] = {}  # request id -> what it wrote, while its folder is kept
        self.pending: dict[Path, threading.Event] = {}  # files written after their answer (score, WAV)
        self.failed: dict[Path, str] = {}  # those that could not be written, and why
        self.later: queue.Queue = queue.Queue()
        self.finisher: threading.Thread | None = None  # writes them one job at a time, off the requests' path

    def load(self) -> None:
        """Load each task's run folder once, before serving (network, vocabulary, harmonizer), so no
        request pays for it or for TensorFlow's import. A task whose folder is missing, broken or cannot do
        it is turned off (its reason shown on the page); when neither task is left, the first is raised."""
        # What the first request would otherwise import: music21 and Verovio.
        import verovio  # noqa: F401

        from ..io import musicxml  # noqa: F401

        from ..io import melody_input  # noqa: F401
        from . import api
        from ..runs.fill_run import is_fill_run
        from ..runs.run_folder import load_run, read_sampling
        from ..tasks.fill import TEMPERATURE as FILL_TEMPERATURE
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer

        loaded: dict[Path, object] = {}  # a folder read by both tasks is loaded once: its Run, or its error
        for task in TASKS:
            path = self.runs[task]
            fill = is_fill_run(path)  # api loads it (for harmonizing); it composes nothing
            if path not in loaded and not fill:
                try:
                    loaded[path] = load_run(path)
                except MusicLSTMError as e:
                    loaded[path] = e
            run = FILL if fill else loaded[path]
            if isinstance(run, MusicLSTMError):
                self.unavailable[task] = self.public(str(run))
                continue
            label = self.labels[task]
            if task == "compose":
                if run == FILL:
                    self.unavailable[task] = f"{label}: a fill_lstm run harmonizes and rewrites; it does not compose"
                    continue
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
            elif run == FILL:  # a fill_lstm run (the shipped harmonizer): `api` loads and runs it, once
                try:
                    api.harmonize(WARM_UP, run_dir=path, log=lambda line: None)
                except MusicLSTMError as e:
                    self.unavailable[task] = self.public(str(e))
                    continue
                self.fill = True
                self.defaults["harmonize_temperature"] = FILL_TEMPERATURE
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
        self.defaults.setdefault("harmonize_temperature", DEFAULT_TEMPERATURE)
        self.defaults.update(length=DEFAULT_LENGTH, bars=DEFAULT_BARS)
        if all(task in self.unavailable for task in TASKS):
            raise MusicLSTMError(self.unavailable[TASKS[0]])

    def info(self) -> dict:
        from . import api

        return {"runs": dict(self.labels), "unavailable": self.unavailable, "defaults": self.defaults,
                "audio": self.no_audio is None, "no_audio": self.public(self.no_audio or "") or None,
                "upload_limit": UPLOAD_LIMIT, "limits": {"length": MAX_LENGTH, "notes": MAX_NOTES, "bars": MAX_BARS,
                                                         "compose_bars": MAX_COMPOSE_BARS},
                "rewrite": self.rewrite_problem(api), "jobs": dict(self.jobs)}

    def rewrite_problem(self, api) -> str | None:
        """Why bars cannot be rewritten here (no `api.rewrite`, or a run folder that rewrites no passage), as
        one line for the page; None when they can."""
        from ..runs.fill_run import is_fill_run

        if not hasattr(api, "rewrite"):
            return "rewriting is not in this version of music_lstm"
        folder = self.rewrite_run or self.runs["harmonize"]
        if not is_fill_run(folder):
            return (f"{self.rewrite_label()}: a left-to-right run rewrites no passage (serve a fill_lstm run "
                    "folder, or give serve --rewrite-run-dir)")
        return None

    def rewrite_label(self) -> str:
        return self.labels["harmonize"] if self.rewrite_run is None else run_label(self.rewrite_run, "harmonize")

    def _available(self, task: str):
        if task in self.unavailable or task not in self.loaded:
            raise RequestError(400, self.unavailable.get(task, f"no {task}: the run folders are not loaded"))
        return self.loaded[task]

    # --- the jobs ---------------------------------------------------------------------------------------

    def compose(self, params: dict) -> dict:
        """A new chorale of `bars` bars (or `length` symbols, as `generate`'s --length)."""
        from ..io.melody_input import melody_key
        from ..tasks.generate import compose_pieces
        from ..tasks.outfiles import DEFAULT_BPM
        from ..tasks.result import Chorale

        settings = Settings.read(params)
        bars = _number(params, "bars", int, 1, MAX_COMPOSE_BARS)
        if bars is not None:  # enough symbols for the bars asked, the music after them cut
            length = min(MAX_LENGTH, math.ceil(bars * 4 * SYMBOLS_PER_QUARTER * 1.15) + 8)
        else:
            length = DEFAULT_LENGTH if settings.length is None else settings.length
        sampling = None if settings.temperature is None else {"temperature": settings.temperature}
        seed = settings.seed_or_new()
        run = self._available("compose")

        def work(folder: Path, log):
            piece = compose_pieces(run, length, sampling, None, False, seed, 1, log)[0]
            if not piece.decoded.notes or piece.voices is None:
                raise MusicLSTMError("the generated symbols hold no note (try more bars)")
            voices = tuple(list(v) for v in piece.voices)
            if bars is not None:
                voices = tuple(cut(v, piece.pickup + 4.0 * bars) for v in voices)
            chorale = Chorale(voices, melody_key(sorted(n for v in voices for n in v)), "4/4", piece.log_prob,
                              "compose", run.path, run.bpm or DEFAULT_BPM, piece.pickup)
            return self._write_version(chorale, folder, "chorale", title="A new chorale")

        return self._job("compose", seed, work)

    def harmonize(self, params: dict) -> dict:
        from ..tasks.harmonizer import DEFAULT_TEMPERATURE

        settings = Settings.read(params)
        temperature = DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature
        if self.fill:  # the fill sampler's own default unless one is asked
            temperature = settings.temperature
        seed = settings.seed_or_new()
        try:
            key = parse_key(params.get("key"))
        except BadKey as e:
            raise RequestError(400, str(e)) from None
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
                return source, *_check_melody(source)

        def work(read, folder: Path, log):
            import numpy as np

            from ..io import melody_input
            from ..tasks.outfiles import DEFAULT_BPM
            from ..tasks.result import Chorale

            source, melody, message, meter = read
            fermatas = ()
            if hasattr(melody_input, "read_tune"):  # the tune's fermatas (`c'2^`), which a rewrite reads
                with self.reading:
                    fermatas = tuple(melody_input.read_tune(source).fermatas)
            run = self._available("harmonize")
            if key is None:
                with self.reading:
                    found = melody_input.melody_key(melody)
            else:
                found = key
            if message:
                log(message)
            name = melody_input.TINY if melody_input.is_tune(source) else str(source)
            if self.fill:
                from . import api

                made = api.harmonize(source, run_dir=self.runs["harmonize"], seed=seed, temperature=temperature,
                                     log=lambda line: None)
                voices, log_prob = made.voices, made.log_prob
            else:
                out = self.harmonizer.harmonize(melody, temperature=temperature, seed=np.random.default_rng(seed),
                                                name=name)[0]
                voices, log_prob = out.voices, out.log_prob
            folder_used = self.runs["harmonize"] if self.fill else run.path
            where = f"the run folder {folder_used}"
            if not self.fill and not self.harmonizer.reads_melody:  # a compose run harmonizes, hearing none ahead
                where += (" (a run trained to compose: it reads the tune only up to the chord it writes; "
                          "train --melody-context for one that reads the whole tune)")
            log(f"harmonizing {len(melody)} notes in {found}{'' if key else ' (as its notes suggest)'} with {where}")
            bpm = made.bpm if self.fill else (run.bpm or DEFAULT_BPM)
            chorale = Chorale(tuple(list(v) for v in voices), found, meter, log_prob, "harmonize",
                              folder_used, bpm, remark=message,
                              **accepted(Chorale, {"fermatas": fermatas, **dict(zip(("sharps", "minor"),
                                                                                     key_signature(found)))}))
            shown = f"Harmonization of {upload_name}" if upload_name else "Harmonization"
            return self._write_version(chorale, folder, "harmonized", title=shown)

        upload_name = Path(str(upload.get("name") or "")).name[:100] if isinstance(upload, dict) else None
        return self._job("harmonize", seed, work, upload_name, read)

    def rewrite(self, params: dict) -> dict:
        """Bars A to B of some voices of a version written again (`api.rewrite`), every other note kept: a
        new version, its parent the one given. Every bar and the other voices: those voices kept, the rest
        harmonized again."""
        from . import api

        parent = self._version(params.get("version"))
        settings = Settings.read(params)
        seed = settings.seed_or_new()
        count = parent.bars
        bars = params.get("bars")
        if not (isinstance(bars, list) and len(bars) == 2 and all(type(b) is int for b in bars)
                and 1 <= bars[0] <= bars[1] <= count):
            raise RequestError(400, f"bars: give [first, last], whole numbers from 1 to {count} (this version's bars)")
        voices = params.get("voices")
        if not (isinstance(voices, list) and voices and all(v in VOICES for v in voices)
                and len(set(voices)) == len(voices)):
            raise RequestError(400, f"voices: give a list of one or more of {', '.join(VOICES)}")
        rewrite = getattr(api, "rewrite", None)
        if rewrite is None:
            raise RequestError(501, "rewriting is not in this version of music_lstm")
        self._available("harmonize")
        ordered = tuple(v for v in VOICES if v in voices)

        def work(folder: Path, log):
            options = dict(bars=(bars[0], bars[1]), voices=ordered, seed=seed, log=log,
                           run_dir=self.rewrite_run or self.runs["harmonize"])
            if settings.temperature is not None:
                options["temperature"] = settings.temperature
            chorale = rewrite(parent.chorale, **options)
            chorale = dataclasses.replace(chorale, key=parent.chorale.key, time_signature=parent.chorale.time_signature)
            span = f"bar {bars[0]}" if bars[0] == bars[1] else f"bars {bars[0]}-{bars[1]}"
            log(f"{' and '.join(ordered)} of {span} written again")
            return self._write_version(chorale, folder, parent.stem, title=parent.title, parent=parent.id,
                                       change=f"{span}: {', '.join(ordered)}")

        return self._job("rewrite", seed, work)

    def _version(self, given) -> Version:
        with self.kept_lock:
            version = self.versions.get(given) if isinstance(given, str) else None
        if version is None:
            raise RequestError(404, "version: no such version kept on the server (it may be among the oldest "
                                    "removed); harmonize again")
        return version

    def _write_version(self, chorale, folder: Path, stem: str, title: str, parent: str | None = None,
                       change: str | None = None) -> Version:
        """`chorale` as the page's files in `folder`: the MIDI file now; the score (MusicXML, the SVG pages and
        their timemap), then the WAV, after the answer (`_later`). The page plays the answer's notes at once and
        fetches the score, which waits until it is engraved (`file`)."""
        from ..io import midi_write, musicxml, render

        midi, xml = folder / f"{stem}.mid", folder / f"{stem}.musicxml"
        svg, timemap, wav = folder / f"{stem}.svg", folder / f"{stem}.timemap.json", folder / f"{stem}.wav"
        sharps, minor = key_signature(chorale.key)
        signed = {"sharps": sharps, "minor": minor}
        marks = {"fermatas": tuple(chorale.fermatas)} if getattr(chorale, "fermatas_written", False) else {}
        midi_write.write_voices_midi(chorale.voices, midi, bpm=chorale.bpm,
                                     **accepted(midi_write.write_voices_midi, signed))

        def engrave():
            with self.reading:  # music21
                musicxml.write_chorale_musicxml(chorale.voices, xml, bpm=chorale.bpm, title=f"{title} in {chorale.key}",
                                               pickup=chorale.pickup, time_signature=chorale.time_signature,
                                               **accepted(musicxml.write_chorale_musicxml, {**signed, **marks}))
            render.render_score(xml, svg, timemap_path=timemap)

        self._later([xml, svg, timemap], engrave)
        paths = [midi, xml, svg, timemap]
        if self.no_audio is None:
            if self.synth is not None:
                self._later([wav], lambda: self.synth.render(midi, wav))
            else:
                self._later([wav], lambda: render.render_audio(midi, wav, self.soundfont))
            paths.append(wav)
        return Version(folder.name, chorale, paths, stem, title, parent, change)

    def _later(self, paths: list, make) -> None:
        """`make()` (which writes `paths`) in the finisher's thread, one job at a time in order; a request for
        one of the paths meanwhile waits for it (`file`), and one that failed is told why."""
        done = threading.Event()
        with self.kept_lock:
            for path in paths:
                self.pending[path] = done
            if self.finisher is None:
                self.finisher = threading.Thread(target=self._finish, name="finisher", daemon=True)
                self.finisher.start()
        self.later.put((paths, make, done))

    def _finish(self) -> None:
        while True:
            paths, make, done = self.later.get()
            folder = paths[0].parent
            try:
                make()
                with self.kept_lock:
                    if folder in self.kept:
                        self.kept[folder] = folder_bytes(folder)
            except Exception as e:  # noqa: BLE001  (said when the page asks for the file)
                with self.kept_lock:
                    for path in paths:
                        self.failed[path] = self.public(str(e), folder)
            finally:
                with self.kept_lock:
                    for path in paths:
                        self.pending.pop(path, None)
                done.set()

    def _job(self, kind: str, seed: int, work, upload_name: str | None = None, read=None) -> dict:
        """`read(folder)` (the melody's checks) and then `work([source,] folder, log)` under the lock, in a new
        folder; the files it wrote as the page's URLs (and, when it returns a `Version`, the version's notes,
        bars and key). Messages and errors reach the page without the server's folders in them; the oldest
        folders past the limits are removed."""
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
                    done = work(*args, folder, messages.append)
                finally:
                    held = time.perf_counter() - held
                    self.jobs["count"] += 1
                    self.jobs["longest_lock_s"] = round(max(self.jobs["longest_lock_s"], held), 3)
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)  # a failed request leaves nothing behind
            if isinstance(e, MusicLSTMError) and not isinstance(e, RequestError):
                raise MusicLSTMError(self.public(str(e), folder, upload_name)) from None
            raise
        version = done if isinstance(done, Version) else None
        self._keep(folder, version)
        files: dict = {"score": []}
        for path in map(Path, version.paths if version else done):
            url = f"/files/{folder.name}/{path.name}"
            if path.suffix == ".svg":
                files["score"].append(url)
            elif path.name.endswith(".timemap.json"):
                files["timemap"] = url
            elif path.suffix in FILE_KINDS:
                files[FILE_KINDS[path.suffix]] = url
        # keywords, not a literal: the string "seed" is an encoding's old name, spelled only in encodings/
        answer = dict(id=folder.name, seed=seed, files=files, seconds=round(time.perf_counter() - start, 2),
                      lock_seconds=round(held, 2), messages=[self.public(m, folder, upload_name) for m in messages])
        if version is not None:
            answer.update(version.summary())
        return answer

    def _keep(self, folder: Path, version: Version | None = None) -> None:
        """Count `folder` (and its version) among the kept ones; remove the oldest while there are more than
        `keep_requests` or they hold more than `keep_bytes` (the newest is always kept)."""
        size = folder_bytes(folder)
        with self.kept_lock:
            self.kept[folder] = size
            if version is not None:
                self.versions[folder.name] = version
            while len(self.kept) > 1 and (len(self.kept) > self.keep_requests
                                          or sum(self.kept.values()) > self.keep_bytes):
                old, _ = self.kept.popitem(last=False)
                self.versions.pop(old.name, None)
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
        with self.kept_lock:
            pending = self.pending.get(path)
        if pending is not None and not pending.wait(PENDING_WAIT):  # being written after its answer: soon here
            raise RequestError(503, f"{name}: not written yet, try again", {"Retry-After": "2"})
        with self.kept_lock:
            failed = self.failed.get(path)
        if failed:
            raise RequestError(404, f"{name} could not be written: {failed}")
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


def _check_melody(source) -> tuple:
    """Read the melody (`melody_input.read_melody`: its own limits, a MelodyError each) and refuse one the page
    would hold the network's lock too long for: more than `MAX_NOTES` notes, `MAX_BARS` bars of its time
    signature or `MAX_QUARTERS` quarter notes. Returns (notes, message, time signature), read once."""
    from ..core.errors import MelodyError
    from ..io import melody_input

    melody, message = melody_input.read_melody(source)
    text = str(source)
    name = melody_input.TINY if text.lstrip().startswith(melody_input.TINY) else text
    end = max(o + d for o, d, _ in melody)
    meter = melody_input.melody_time_signature(source)
    num, den = (int(x) for x in meter.split("/")[:2])
    bars = end / (4 * num / den) if num > 0 and den > 0 else 0
    if len(melody) > MAX_NOTES or end > MAX_QUARTERS or bars > MAX_BARS:
        raise MelodyError(name, f"too long for the page ({len(melody)} notes, {bars:.0f} bars of "
                                f"{num}/{den}, {end:g} quarter notes; at most {MAX_NOTES} notes, {MAX_BARS} "
                                f"bars and {MAX_QUARTERS:g} quarter notes): harmonize it on the command line")
    return melody, message, meter


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

