"""music_lstm: learn music from a folder of MIDI files with an LSTM, and write new music as MIDI.

From Python (docs/API.md):

    import music_lstm as m
    chorale = m.harmonize("tinyNotation: 4/4 c'4 d' e' f' g'2")   # a `Chorale`
    chorale.write("tune.mid")
    chorale.to_music21().show()

`compose`, `harmonize` (api.py) and `Chorale` (result.py) are loaded on first use, so `import music_lstm`
stays instant: TensorFlow is imported when a network is first loaded, music21 when a score is.
"""

import importlib
import sys
import types

from .version import __version__

_LAZY = {"compose": "api", "Chorale": "result"}  # name -> the module that holds it
__all__ = ["__version__", "compose", "harmonize", "Chorale"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # found in the module's namespace from now on
    return value


def __dir__():
    return sorted({*globals(), *__all__})


class _HarmonizeModule(types.ModuleType):
    """The module `music_lstm.harmonize`, also callable as the API's `harmonize` (api.harmonize)."""

    def __call__(self, *args, **kwargs):
        from .api import harmonize

        return harmonize(*args, **kwargs)


class _Package(types.ModuleType):
    # `music_lstm.harmonize` names both the module harmonize.py and the API's function. Importing the
    # module sets it as the package's attribute, which would hide the function; so the attribute is
    # always the module, made callable: `m.harmonize(tune)` harmonizes, `m.harmonize.LSTMHarmonizer`
    # and `from music_lstm import harmonize` still reach the module.
    @property
    def harmonize(self):
        module = importlib.import_module(".harmonize", __name__)
        if not isinstance(module, _HarmonizeModule):
            module.__class__ = _HarmonizeModule
        return module

    @harmonize.setter
    def harmonize(self, module):  # the import system setting the submodule: the property already gives it
        pass


sys.modules[__name__].__class__ = _Package
