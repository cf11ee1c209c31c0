"""The top layer: the command line (`cli`) and the local page (`serve`, `static/serve.html`).

`python -m music_lstm` runs `cli.main`; each subcommand turns its arguments into settings and calls
one function of a lower layer.

May import: `core`, `io`, `encodings`, `models`, `runs`, `training`, `tasks`, `eval`.
"""
