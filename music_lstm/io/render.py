"""Hear it and see it: a MIDI file rendered to audio, a MusicXML score engraved to SVG.

Works on files only (no music21 here): `render_audio` plays a MIDI file through a General MIDI
SoundFont with FluidSynth and writes WAV (or FLAC / Ogg Vorbis); `render_score` engraves MusicXML with
Verovio, in-process, one SVG per page. Failures a user can fix (no SoundFont, no synthesizer, a file
that is not MIDI or MusicXML) raise `RenderError` with one line saying what to do.

    python -c "from music_lstm.io import render; render.render_audio('out.mid', 'out.wav')"
    python -c "from music_lstm.io import render; print(render.render_score('out.musicxml', 'out.svg'))"

Why FluidSynth's command-line program rather than a Python binding: rendering a one-minute four-part
chorale took about as long through `fluidsynth -F` as through `pyfluidsynth` (the same library, which
needs the same system package anyway) and it adds no Python dependency; `tinysoundfont` was faster and
self-contained, but it depends on PyAudio, which has no Linux wheel and needs a compiler and PortAudio's
headers to install, and it has no reverb. FluidSynth also writes FLAC and Ogg itself (libsndfile).
docs/RENDER.md has the measurements.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import wave
from importlib import resources
from pathlib import Path

from ..core.errors import RenderError
from ..core.files import atomic_path

# Where distributions put a General MIDI SoundFont, most specific first. Debian's default-GM.sf2 is an
# alternatives link to whichever of fluid-soundfont-gm (FluidR3_GM, 140 MB) or timgm6mb-soundfont
# (TimGM6mb, 6 MB) is installed.
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/soundfonts/default.sf2",  # Arch, Fedora
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
)
HOW_TO_GET_A_SOUNDFONT = (
    "install one (apt-get install fluid-soundfont-gm, or timgm6mb-soundfont) or pass --soundfont FILE"
)
HOW_TO_GET_FLUIDSYNTH = "install it (apt-get install fluidsynth, brew install fluid-synth) to write audio"
AUDIO_FORMATS = {"wav": "wav", "flac": "flac", "ogg": "oga"}  # --audio-format -> fluidsynth's -T name
GAIN = 0.5  # fluidsynth's default 0.2 leaves a four-part chorale around -34 dBFS; 0.5 peaks well below full scale
SILENCE = 1e-4  # samples below this (of full scale) at the end of a WAV are cut: the player idles after the music

# Verovio's layout for a readable A4 page. Sizes are in tenths of a millimetre; Verovio's default staff
# (7 mm high) is the size of a printed score. `scale` would only change the SVG's own pixel size, which
# the viewBox makes irrelevant: the SVG is drawn at whatever width shows it.
SCORE_OPTIONS = {
    "pageWidth": 2100,
    "pageHeight": 2970,
    "pageMarginLeft": 100,
    "pageMarginRight": 100,
    "pageMarginTop": 80,
    "pageMarginBottom": 80,
    "breaks": "auto",
    "adjustPageHeight": True,  # each page ends below its last system: a short chorale is not a blank A4
    "footer": "none",  # Verovio's footer is its own logo and version
    "header": "auto",  # title and composer on page 1
    "svgViewBox": True,  # the SVG scales to whatever box shows it
}


SOUNDFONT_ENV = "MUSIC_LSTM_SOUNDFONT"  # a SoundFont to use when --soundfont is not given


def find_soundfont(explicit: str | os.PathLike | None = None, search=None) -> Path:
    """The SoundFont to play with: `explicit` (--soundfont FILE) if given, else $MUSIC_LSTM_SOUNDFONT if
    set, else the first of `search` (default `SOUNDFONT_PATHS`) that exists. Raises RenderError when the
    file given is missing or not a SoundFont, or none is found."""
    if explicit is None and os.environ.get(SOUNDFONT_ENV):
        explicit = os.environ[SOUNDFONT_ENV]
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise RenderError(f"{path}: no such SoundFont file ({HOW_TO_GET_A_SOUNDFONT})")
        _check_soundfont(path)
        return path
    search = SOUNDFONT_PATHS if search is None else tuple(search)
    for candidate in search:
        path = Path(candidate)
        if path.is_file():
            return path.resolve()
    places = sorted({str(Path(p).parent) for p in search})
    raise RenderError(f"no General MIDI SoundFont found (looked in {', '.join(places)}): {HOW_TO_GET_A_SOUNDFONT}")


def audio_problem(soundfont: str | os.PathLike | None = None) -> str | None:
    """Why audio cannot be written here (no SoundFont, no fluidsynth), as one line; None when it can."""
    try:
        find_soundfont(soundfont)
    except RenderError as e:
        return str(e)
    if shutil.which("fluidsynth") is None:
        return f"fluidsynth not found on PATH: {HOW_TO_GET_FLUIDSYNTH}"
    return None


def _check_soundfont(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise RenderError(f"{path}: cannot read the SoundFont ({e.strerror or e})") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":  # SF2 and SF3 are both RIFF 'sfbk' files
        raise RenderError(f"{path}: not a SoundFont (.sf2/.sf3) file")


def render_audio(
    midi_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    fmt: str = "wav",
) -> Path:
    """Play `midi_path` through a General MIDI SoundFont and write the sound to `wav_path`, atomically;
    returns `wav_path`. `fmt` is "wav" (16-bit stereo PCM), "flac" or "ogg" (Vorbis). `soundfont` as in
    `find_soundfont`. A WAV ends when the last note has died away (FluidSynth's player adds seconds of
    silence, which are cut); FLAC and Ogg are written by FluidSynth as they come."""
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    if fmt not in AUDIO_FORMATS:
        raise RenderError(f"unknown audio format {fmt!r}: choose one of {', '.join(AUDIO_FORMATS)}")
    if not 8000 <= int(sample_rate) <= 96000:  # the range fluidsynth accepts
        raise RenderError(f"sample rate {sample_rate}: must be between 8000 and 96000 Hz")
    _check_midi(midi_path)
    sf = find_soundfont(soundfont)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(f"fluidsynth not found on PATH: {HOW_TO_GET_FLUIDSYNTH}")
    with atomic_path(wav_path) as tmp:
        # -n no MIDI input, -i no shell, -q quiet, -F fast render to a file; the player stops at the
        # end of the file.
        cmd = [exe, "-niq", "-F", str(tmp), "-T", AUDIO_FORMATS[fmt], "-O", "s16", "-r", str(int(sample_rate))]
        cmd += ["-g", str(GAIN), str(sf), str(midi_path)]
        lines = _run_fluidsynth(cmd, midi_path)
        # A SoundFont that fails to load is only reported: fluidsynth goes on with the system's default
        # SoundFont (or none) and exits 0, so the report is watched for and the run stopped there.
        failed = [line for line in lines if "Failed to load" in line]
        if failed:
            raise RenderError(f"{sf}: fluidsynth could not load this SoundFont ({failed[0].strip()})")
        if tmp.stat().st_size == 0:
            raise RenderError(f"{midi_path}: fluidsynth wrote nothing ({(lines or ['no message'])[-1].strip()})")
        if fmt == "wav" and not _trim_trailing_silence(tmp):
            raise RenderError(
                f"{midi_path}: rendered only silence (no notes, or none the SoundFont {sf.name} can play)"
            )
    return wav_path


def _run_fluidsynth(cmd: list[str], midi_path: Path, timeout: float = 600.0) -> list[str]:
    """Run fluidsynth and return its stderr lines; stop it at once when a SoundFont fails to load.
    Raises RenderError when it exits non-zero or runs past `timeout` seconds."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    timed_out = threading.Event()

    def give_up():
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, give_up)
    timer.start()
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "Failed to load" in line:
                proc.kill()
                break
        code = proc.wait()
    finally:
        timer.cancel()
        proc.stderr.close()
    if timed_out.is_set():
        raise RenderError(f"{midi_path}: fluidsynth took over {timeout:.0f} s, gave up")
    if any("Failed to load" in line for line in lines):
        return lines  # killed on purpose; the caller names the SoundFont
    if code != 0:
        why = (lines or [f"exit status {code}"])[-1].strip()
        raise RenderError(f"{midi_path}: fluidsynth could not render it ({why})")
    return lines


def _check_midi(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise RenderError(f"{path}: no such MIDI file") from None
    except OSError as e:
        raise RenderError(f"{path}: cannot read it ({e.strerror or e})") from None
    if head != b"MThd":
        raise RenderError(f"{path}: not a Standard MIDI File (no MThd header)")


def _trim_trailing_silence(path: Path, tail: float = 0.05) -> bool:
    """Cut the samples after the last one above `SILENCE` (FluidSynth's dither is below it), keeping
    `tail` seconds, in place. False when every sample is below it."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        frames = np.frombuffer(w.readframes(params.nframes), dtype="<i2").reshape(-1, params.nchannels)
    loud = np.flatnonzero(np.abs(frames).max(axis=1) > SILENCE * 32768)
    if loud.size == 0:
        return False
    keep = min(len(frames), int(loud[-1]) + 1 + int(tail * params.framerate))
    if keep == len(frames):
        return True
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(frames[:keep].tobytes())
    return True


def score_pages(svg_path: str | os.PathLike, count: int) -> list[Path]:
    """The files `render_score` writes for `count` pages: NAME.svg, then NAME-2.svg, NAME-3.svg, ..."""
    svg_path = Path(svg_path)
    return [
        svg_path if k == 1 else svg_path.with_name(f"{svg_path.stem}-{k}{svg_path.suffix}") for k in range(1, count + 1)
    ]


def render_score(
    musicxml_path: str | os.PathLike, svg_path: str | os.PathLike, options: dict | None = None,
    timemap_path: str | os.PathLike | None = None,
) -> list[Path]:
    """Engrave a MusicXML file with Verovio and write every page as SVG, atomically: page 1 to
    `svg_path` (NAME.svg), page k to NAME-k.svg. Returns the paths in page order. Page files
    NAME-k.svg left from an earlier, longer score are removed. `options` override `SCORE_OPTIONS`.
    With `timemap_path`, also writes there (JSON, not among the paths returned) when each of the SVG's
    notes and measures begins, in quarter notes (`score_timemap`), and the pages' file names ("pages"): the
    page's cursor follows it."""
    musicxml_path, svg_path = Path(musicxml_path), Path(svg_path)
    try:
        data = musicxml_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError(f"{musicxml_path}: no such MusicXML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RenderError(
            f"{musicxml_path}: cannot read it as MusicXML ({getattr(e, 'strerror', None) or e})"
        ) from None
    if "<score-partwise" not in data and "<score-timewise" not in data:
        raise RenderError(f"{musicxml_path}: not a MusicXML score (no <score-partwise> or <score-timewise>)")
    try:
        import verovio
    except ImportError:
        raise RenderError("verovio is not installed: pip install verovio (it engraves the score)") from None

    verovio.enableLog(verovio.LOG_OFF)  # it reports layout notes on stderr
    # Verovio keeps its resource folder (fonts) per thread and sets it at import for the importing thread
    # only: in any other thread (a request of `serve`) every score would fail to load without this.
    verovio.setDefaultResourcePath(str(resources.files("verovio") / "data"))
    tk = verovio.toolkit()
    tk.setOptions({**SCORE_OPTIONS, **(options or {}), "inputFrom": "musicxml"})
    if not tk.loadData(data):
        raise RenderError(f"{musicxml_path}: Verovio could not read this MusicXML")
    count = tk.getPageCount()
    if count < 1:
        raise RenderError(f"{musicxml_path}: the score has no pages to engrave (no measures?)")
    paths = score_pages(svg_path, count)
    for page, path in enumerate(paths, start=1):
        with atomic_path(path) as tmp:
            tmp.write_text(tk.renderToSVG(page), encoding="utf-8")
    if timemap_path is not None:  # from the same toolkit: the SVG's element ids are made per load
        with atomic_path(Path(timemap_path)) as tmp:
            tmp.write_text(json.dumps({"pages": [p.name for p in paths], **score_timemap(tk)}), encoding="utf-8")
    stale = score_pages(svg_path, count + 1)[-1]
    while stale.exists():
        stale.unlink()
        count += 1
        stale = score_pages(svg_path, count + 1)[-1]
    return paths


def score_timemap(tk) -> dict:
    """When the notes and measures of a loaded Verovio toolkit's SVG begin, in quarter notes from the
    start: {"notes": [[quarters, [id, ...]], ...], "measures": [[quarters, id], ...]}, in time order (the
    measures in the score's order, so the k-th is bar k)."""
    notes, measures = [], []
    for event in tk.renderToTimemap({"includeMeasures": True}):
        when = round(float(event.get("qstamp", 0.0)), 4)
        if event.get("on"):
            notes.append([when, list(event["on"])])
        if event.get("measureOn"):
            measures.append([when, event["measureOn"]])
    return {"notes": notes, "measures": measures}
