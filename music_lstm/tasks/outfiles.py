"""Where a task's pieces go, and each piece written: MIDI or MusicXML (four voices as four tracks or a
chorale score), with `--plot`'s piano roll, `--audio`'s recording and `--score`'s SVG pages beside it.
`Outputs` holds those options (format, plot, audio, its format and SoundFont, score, bpm, instrument),
passed whole from the command line and the page to `generate` and `harmonize_files` and on to `write_piece`.

    python -c "from music_lstm.tasks.outfiles import output_paths; print(output_paths('out.mid', 3))"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..core.instruments import voice_programs

DEFAULT_BPM = 90.0  # when neither --bpm nor the training data gives a tempo
FORMATS = ("midi", "musicxml")


@dataclass(frozen=True)
class Outputs:
    """What a task writes beside each piece's MIDI file, and how the piece sounds."""

    fmt: str = "midi"  # midi, or musicxml: NAME.musicxml beside it (a chorale score for four voices)
    plot: bool = False  # NAME.png, a piano roll
    audio: bool = False  # NAME.<audio_format>, through FluidSynth and `soundfont`
    audio_format: str = "wav"
    soundfont: str | os.PathLike | None = None  # None: the environment's, else the usual places (io.render)
    score: bool = False  # NAME.svg, the score's pages through Verovio
    bpm: float | None = None  # None: the training pieces' tempo, else DEFAULT_BPM
    instrument: str | int = 0  # General MIDI program(s): one for all, or four, soprano to bass

    @property
    def programs(self) -> list[int]:
        return voice_programs(self.instrument)

    def check(self) -> None:
        """A bad value or a missing SoundFont is a one-line error before any work is done."""
        voice_programs(self.instrument)  # an unknown instrument is a ConfigError
        check_rendering(self.fmt, self.audio, self.audio_format, self.soundfont)
        if self.bpm is not None and not 10 <= self.bpm <= 400:
            raise ConfigError(f"invalid bpm: {self.bpm} (must be between 10 and 400)")


def output_paths(output: str | os.PathLike, n: int, output_dir: str | os.PathLike | None = None) -> list[Path]:
    """The MIDI file of each of `n` pieces: `output` (numbered `_1`, `_2`... when several); an
    `output` named as a score (`tune.musicxml`) gives `tune.mid`, its score beside it (`write_piece`)."""
    out = Path(output)
    if out.suffix.lower() in (".musicxml", ".xml", ".mxl"):
        out = out.with_suffix(".mid")
    if output_dir is not None:
        out = Path(output_dir) / out.name
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, n + 1)]


def check_rendering(fmt: str = "midi", audio: bool = False, audio_format: str = "wav",
                    soundfont: str | os.PathLike | None = None) -> None:
    """A bad format or a missing SoundFont is a one-line error before any work is done."""
    if audio:
        from ..io.render import AUDIO_FORMATS, find_soundfont

        if audio_format not in AUDIO_FORMATS:
            raise ConfigError(f"invalid audio format: {audio_format!r} (choose from {', '.join(AUDIO_FORMATS)})")
        find_soundfont(soundfont)
    if fmt not in FORMATS:
        raise ConfigError(f"invalid format: {fmt!r} (choose from {', '.join(FORMATS)})")


def write_piece(path: Path, notes, voices, bpm: float, outputs: Outputs = Outputs(), title: str | None = None,
                pickup: float = 0.0, time_signature: str = "4/4", sharps: int | None = None,
                minor: bool = False, fermatas=()) -> list[Path]:
    """Write one piece as MIDI at `path` (four named tracks when `voices` are given, else one track of
    `notes`) at `bpm` and beside it what `outputs` asks for: NAME.musicxml (a chorale score for four
    voices), the piano roll NAME.png, audio NAME.<audio_format>, score pages NAME.svg. Returns the files
    written besides the MIDI file, in that order. `sharps` (and `minor`): the key signature both files
    carry (None: the MIDI file none, the score music21's analysis); `fermatas`: the soprano onsets the score
    marks with a fermata."""
    from ..io import midi_write, musicxml

    fmt, score, programs = outputs.fmt, outputs.score, outputs.programs

    path = Path(path)
    if voices is not None:
        midi_write.write_voices_midi(voices, path, bpm=bpm, programs=programs, sharps=sharps, minor=minor)
    else:
        midi_write.write_midi(notes, path, bpm=bpm, program=programs[0])
    extra = []
    xml = path.with_suffix(".musicxml")
    if fmt == "musicxml" or score:
        if voices is not None:
            musicxml.write_chorale_musicxml(voices, xml, bpm=bpm, title=title or path.stem, pickup=pickup,
                                           time_signature=time_signature, sharps=sharps, minor=minor,
                                           fermatas=fermatas)
        else:
            musicxml.write_musicxml(notes, xml, bpm=bpm)
        extra.append(xml)
    if outputs.plot:
        from ..io.plotting import piano_roll

        piano_roll(notes, path.with_suffix(".png"), title=path.stem, voices=voices)
        extra.append(path.with_suffix(".png"))
    if outputs.audio:
        from ..io.render import render_audio

        extra.append(render_audio(path, path.with_suffix("." + outputs.audio_format), outputs.soundfont,
                                  fmt=outputs.audio_format))
    if score:
        from ..io.render import render_score

        extra.extend(render_score(xml, path.with_suffix(".svg")))
    return extra
