"""The package version, in a module of its own so that any layer can read it without importing the package's
front (music_lstm/__init__.py, which reaches the API)."""

__version__ = "0.1.0"
