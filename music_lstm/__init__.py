"""music_lstm: learn music from a folder of MIDI files with an LSTM, and write new music as MIDI."""

__version__ = "0.1.0"
