"""A training run's settings and its folder: the one hand-off between training and the tasks.

`config` (every training setting, one frozen dataclass) and `run_folder` (every file name of the run
folder, reading each back, `Run`/`load_run`, which folder a command uses: runs/latest or a shipped one).

May import: `core`, `io`, `encodings`, `models`.
"""
