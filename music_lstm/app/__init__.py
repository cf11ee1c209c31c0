"""The top layer: the command line (`cli`, every value checked by `cli_checks`), the local page (`serve`:
HTTP; `studio`: its run folders loaded once and each request's job; `static/`), and the Python API
(`api`: `music_lstm.compose`, `music_lstm.harmonize`).

`python -m music_lstm` runs `cli.main`; each subcommand turns its arguments into settings and calls
one function of a lower layer.

May import: `core`, `io`, `encodings`, `models`, `runs`, `training`, `tasks`, `eval`.
"""
