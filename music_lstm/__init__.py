"""music_lstm: learn music from a folder of MIDI files with an LSTM, and write new music as MIDI.

From Python (docs/API.md):

    import music_lstm as m
    chorale = m.harmonize("tinyNotation: 4/4 c'4 d' e' f' g'2")   # a `Chorale`
    chorale.write("tune.mid")
    chorale.to_music21().show()

`compose`, `harmonize`, `rewrite` (app/api.py) and `Chorale` (tasks/result.py) are loaded on first use, so
`import music_lstm` stays instant: TensorFlow is imported when a network is first loaded, music21 when
a score is.

The package is in layers, each a subpackage that imports only from the ones below it (DESIGN.md draws
them): core < io < encodings < models < runs < training < tasks < eval < app. No layer imports this
front; the version is `core.version`'s.
"""

import importlib

from .core.version import __version__

_LAZY = {"compose": "app.api", "harmonize": "app.api", "rewrite": "app.api", "Chorale": "tasks.result"}  # name -> its module
__all__ = ["__version__", "compose", "harmonize", "rewrite", "Chorale"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # found in the module's namespace from now on
    return value


def __dir__():
    return sorted({*globals(), *__all__})
