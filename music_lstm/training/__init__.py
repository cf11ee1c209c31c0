"""Training a network into a run folder.

`train` (the loop, resume, the run folder written), `dataset` (windows, the split by piece, tf.data),
`melody_windows` (the melody frames beside each window, for `melody_context`), `callbacks` (best model,
checkpoint, history, time budget, Ctrl-C), `distribute` (tf.distribute strategies), `augment`
(transposition).

May import: `core`, `io`, `encodings`, `models`, `runs`.
"""
