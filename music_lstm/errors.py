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


class RenderError(MusicLSTMError):
    """Audio or a score that cannot be rendered: no SoundFont, no synthesizer, an unreadable input file."""
