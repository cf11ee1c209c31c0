"""The project's own error types: each carries a one-line message fit for a user's terminal."""

from __future__ import annotations

import os


class MusicLSTMError(Exception):
    """A known failure with a one-line explanation; the CLI prints it and exits non-zero."""


class MidiError(MusicLSTMError):
    """A file that cannot be used as MIDI input; names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RunFolderError(MusicLSTMError):
    """A run folder whose files are missing, corrupt or do not fit each other."""


class ConfigError(MusicLSTMError, ValueError):
    """A setting out of its range (from the command line or a call): names the setting and the value.
    Also a ValueError, so a caller may catch it as the bad value it is."""


class EncodingError(MusicLSTMError):
    """A piece an encoding cannot represent; the one-line message becomes the file's skip reason."""


class RenderError(MusicLSTMError):
    """Audio or a score that cannot be rendered: no SoundFont, no synthesizer, an unreadable input file."""


class MelodyError(MusicLSTMError):
    """A melody that cannot be harmonized (an unreadable source, no notes, chords only, out of reach,
    too long); names the source and the reason."""

    def __init__(self, source: str | os.PathLike, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")
