"""A General MIDI SoundFont loaded once into FluidSynth's own library (libfluidsynth, through ctypes) and
kept for every file after: what `serve` writes its WAVs with, so a request does not load the SoundFont
again, as `render.render_audio` (FluidSynth's command-line program, one process per file) does. The same
synthesizer, the same settings (gain, 16-bit stereo, the player timed by the samples written) and the same
trimmed ending as `render_audio`; no Python package beyond the standard library.

    python -c "from music_lstm.io.synth import LoadedSynth; LoadedSynth().render('out.mid', 'out.wav')"
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from ..core.files import atomic_path
from .render import GAIN, RenderError, _check_midi, _trim_trailing_silence, find_soundfont

PLAYING = 1  # FLUID_PLAYER_PLAYING
_NAMES = ("fluidsynth", "libfluidsynth.so.3", "libfluidsynth.3.dylib", "libfluidsynth-3.dll")


def _library():
    """libfluidsynth with the calls used here typed, or a RenderError saying it is not there."""
    for name in _NAMES:
        path = ctypes.util.find_library(name) if "." not in name else name
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        p, s, i, d = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
        for fn, res, args in (
            ("new_fluid_settings", p, []), ("delete_fluid_settings", None, [p]),
            ("fluid_settings_setstr", i, [p, s, s]), ("fluid_settings_setnum", i, [p, s, d]),
            ("fluid_settings_setint", i, [p, s, i]),
            ("new_fluid_synth", p, [p]), ("delete_fluid_synth", None, [p]),
            ("fluid_synth_sfload", i, [p, s, i]), ("fluid_synth_system_reset", i, [p]),
            ("new_fluid_player", p, [p]), ("delete_fluid_player", None, [p]),
            ("fluid_player_add", i, [p, s]), ("fluid_player_play", i, [p]), ("fluid_player_get_status", i, [p]),
            ("new_fluid_file_renderer", p, [p]), ("delete_fluid_file_renderer", None, [p]),
            ("fluid_file_renderer_process_block", i, [p]),
        ):
            f = getattr(lib, fn)
            f.restype, f.argtypes = res, args
        return lib
    raise RenderError("FluidSynth's library (libfluidsynth) not found: install FluidSynth (apt-get install fluidsynth)")


class LoadedSynth:
    """One FluidSynth synthesizer with `soundfont` (as `render.find_soundfont` finds it) loaded; `render`
    writes one WAV at a time (a lock), each from a synthesizer reset to silence."""

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = 44100):
        self.soundfont = find_soundfont(soundfont)
        self.lib = lib = _library()
        self.lock = threading.Lock()
        self.settings = lib.new_fluid_settings()
        for name, value in (("player.timing-source", b"sample"), ("audio.file.type", b"wav"),
                            ("audio.file.format", b"s16")):
            lib.fluid_settings_setstr(self.settings, name.encode(), value)
        lib.fluid_settings_setint(self.settings, b"synth.lock-memory", 0)
        lib.fluid_settings_setnum(self.settings, b"synth.gain", GAIN)
        lib.fluid_settings_setnum(self.settings, b"synth.sample-rate", float(sample_rate))
        self.synth = lib.new_fluid_synth(self.settings)
        if not self.synth or lib.fluid_synth_sfload(self.synth, os.fsencode(self.soundfont), 1) < 0:
            self.close()
            raise RenderError(f"{self.soundfont}: FluidSynth could not load this SoundFont")

    def render(self, midi_path: str | os.PathLike, wav_path: str | os.PathLike) -> Path:
        """`midi_path` played to the WAV `wav_path` (16-bit stereo), written atomically; returns `wav_path`."""
        midi_path, wav_path = Path(midi_path), Path(wav_path)
        _check_midi(midi_path)
        lib = self.lib
        with self.lock, atomic_path(wav_path) as tmp:
            lib.fluid_settings_setstr(self.settings, b"audio.file.name", os.fsencode(tmp))
            lib.fluid_synth_system_reset(self.synth)  # no note or reverb left from the file before
            player = lib.new_fluid_player(self.synth)
            renderer = None
            try:
                if lib.fluid_player_add(player, os.fsencode(midi_path)) != 0:
                    raise RenderError(f"{midi_path}: FluidSynth could not read this MIDI file")
                lib.fluid_player_play(player)
                renderer = lib.new_fluid_file_renderer(self.synth)
                if not renderer:
                    raise RenderError(f"{tmp}: FluidSynth could not open it to write")
                while lib.fluid_player_get_status(player) == PLAYING:
                    if lib.fluid_file_renderer_process_block(renderer) != 0:
                        break
            finally:
                if renderer:
                    lib.delete_fluid_file_renderer(renderer)  # closes the file
                lib.delete_fluid_player(player)
            if not _trim_trailing_silence(tmp):
                raise RenderError(f"{midi_path}: rendered only silence (no notes, or none the SoundFont "
                                  f"{self.soundfont.name} can play)")
        return wav_path

    def close(self) -> None:
        if getattr(self, "synth", None):
            self.lib.delete_fluid_synth(self.synth)
            self.synth = None
        if getattr(self, "settings", None):
            self.lib.delete_fluid_settings(self.settings)
            self.settings = None
