"""The bottom layer: plain values every other layer shares, pure Python and NumPy.

Errors (`errors`: `MusicLSTMError` and its kinds), notes and pieces on the quarter-note time line
(`events`: `Piece`, `Slice`, `slices`, the onset grid), pitch names (`pitches`), keys and the
major-key profile (`keys`), the four voices' ranges (`voices`), atomic file writes (`files`), the
vocabulary (`vocab`), sampling as a pure function of probabilities (`sampling`), General MIDI
programs for the voices (`instruments`), the version (`version`), TensorFlow loaded quietly (`quiet`).

May import: nothing of the package (the standard library and NumPy only).
"""
