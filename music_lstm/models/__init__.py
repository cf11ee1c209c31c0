"""The networks and the other models that give a next symbol's probabilities.

The Keras network (`model`), `FusedLSTM` (`lstm`), the trained LSTM as NumPy one step at a time
(`stepper`), networks of other seeds averaged (`ensemble`), the harmonizing network that also reads the
melody (`melody_context`), Kneser-Ney
n-grams (`ngram`), and the HMM harmonizer baseline (`hmm_harmonizer`). No file I/O: a network comes
in built or loaded, its settings as an object with the config's fields.

May import: `core`, `io`, `encodings`.
"""
