"""music_lstm: learn music from a folder of MIDI files with an LSTM, and write new music as MIDI.

The package is in layers, each a subpackage that imports only from the ones below it (DESIGN.md draws
them): core < io < encodings < models < runs < training < tasks < eval < app. `__version__` is the
one name any layer may import from here.
"""

__version__ = "0.1.0"
