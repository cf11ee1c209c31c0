"""What a trained run folder is used for: writing new music and harmonizing a melody.

`generate` (prompt, sampling, decoding), `harmonizer` (`LSTMHarmonizer`: a melody's alto, tenor and
bass sampled or beam-searched under the satb grammar), `harmonize` (the file task: a melody in, files
out), `outfiles` (output paths, and each piece written as MIDI/MusicXML with its plot, audio, score).

May import: `core`, `io`, `encodings`, `models`, `runs`, `training`.
"""
