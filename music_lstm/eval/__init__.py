"""Measuring a run: held-out likelihood and musical comparisons with Bach.

`likelihood` (held-out bits against n-grams; the JSB test split), `metrics` (musical metrics of
generated pieces against the training pieces), `voice_leading` (parallels, crossings, ranges of four
voices), `two_sample` (a classifier two-sample test), `harmonization` (harmonizing held-out chorales,
against Bach and the HMM).

May import: `core`, `io`, `encodings`, `models`, `runs`, `training`, `tasks`.
"""
