"""Every training setting in one dataclass, saved as `config.json` in the run folder (`run_folder`).

Variants are made with `dataclasses.replace`; a preset is never mutated. `__post_init__` turns a bad
value into a one-line `errors.ConfigError` that names it.

    python -c "from music_lstm.runs.config import Config; print(Config(units=64))"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import encodings
from ..encodings import jsb
from ..core.errors import ConfigError


@dataclass(frozen=True)
class Config:
    encoding: str = encodings.DEFAULT  # how pieces become symbols (encodings.NAMES; see encodings/)
    durations: bool = False  # chords only: each symbol also carries its duration, and rests are kept
    seq_len: int = 64  # window length in symbols; the network predicts the next symbol at every step
    embed_dim: int = 64  # symbol embedding size
    units: int = 128  # cells in each of the two LSTM layers; small learns faster within minutes on a CPU
    dense_units: int = 256  # the Dense layer between the LSTMs and the softmax, as in the seed
    dropout: float = 0.3  # after each LSTM layer; 0.3 learns satb faster in the budget (docs/BENCHMARKS.md, "The satb encoding")
    batch_size: int = 16  # windows per step; bach/ gives few windows, so small batches mean more updates
    epochs: int = 40  # upper bound; early stopping and max_minutes usually end training first
    learning_rate: float = 3e-3  # Adam
    # Learning rate multiplied by this after each epoch without a better validation loss (1 = constant). Off by
    # default: within the time budget the loss improves every epoch, and a halving during the slow first epochs
    # (as happened with transposition) stalls training.
    lr_decay: float = 1.0
    patience: int = 5  # epochs without a better validation loss before stopping
    transpose_low: int = 0  # training pieces are also seen moved by transpose_low..transpose_high semitones,
    transpose_high: int = 0  # one key drawn per window per epoch (0 0 = off); validation pieces never are
    val_fraction: float = 0.1  # share of pieces held out (split by piece, never by window)
    max_minutes: float = 5.0  # wall-clock budget for training (0 = none)
    seed: int = 0  # split, shuffling and initial weights
    # A JSB Chorales JSON file to train on instead of a MIDI folder (`jsb`): its own train/valid splits, its
    # frames written as tokens in `jsb_order` (None: the file's default, high for sets, voices for voices).
    jsb: str | None = None
    jsb_order: str | None = None
    # satb only: the network also reads the whole melody (soprano) through a bidirectional LSTM, to harmonize
    # a given melody (melody_context.py); such a run harmonizes, it does not compose.
    melody_context: bool = False
    # Every piece (training and held out) is moved to the key signature of C major / A minor before it is
    # encoded (`core.keys.key_shift`, at most a tritone; transposition, if any, starts from there); generated
    # music is moved back to the key of the piece its prompt came from. On: its samples stay in key and are
    # harder to tell from Bach's (docs/BENCHMARKS.md, "One key and the beat").
    common_key: bool = True
    # Networks averaged (`models.ensemble`, kind lstm_ensemble): runs of these settings trained with other seeds on
    # the same split, combined by `run_folder.combine`; 1 = one network, as `train` makes.
    members: int = 1

    def __post_init__(self):
        checks = {
            "seq_len": self.seq_len >= 2,
            "embed_dim": self.embed_dim >= 1,
            "units": self.units >= 1,
            "dense_units": self.dense_units >= 1,
            "dropout": 0.0 <= self.dropout < 1.0,
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "learning_rate": self.learning_rate > 0,
            "lr_decay": 0.0 < self.lr_decay <= 1.0,
            "transpose_low": -12 <= self.transpose_low <= 0,
            "transpose_high": 0 <= self.transpose_high <= 12,
            "patience": self.patience >= 1,
            "val_fraction": 0.0 <= self.val_fraction < 1.0,
            "max_minutes": self.max_minutes >= 0,
            "members": self.members >= 1,
        }
        self.encoder()  # a ConfigError names an unknown encoding, or durations where they do not apply
        if self.jsb_order is not None and self.jsb_order not in (*jsb.ORDERS, jsb.VOICES_ORDER):
            raise ConfigError(f"invalid jsb_order: {self.jsb_order!r} (choose from {', '.join((*jsb.ORDERS, jsb.VOICES_ORDER))})")
        satb = encodings.satb.SATB.name
        if self.melody_context and (self.encoder().name != satb or self.jsb):
            raise ConfigError(f"invalid melody_context with {'--jsb' if self.jsb else 'encoding ' + repr(self.encoding)}: "
                              f"a network that reads the melody needs the {satb} encoding")
        if self.members > 1 and (self.jsb or self.melody_context or self.durations):
            raise ConfigError(f"invalid members: {self.members} (only one-softmax four-voice networks are combined)")
        if self.common_key and self.jsb:  # JSB Chorales frames are learned and scored in the keys the file gives
            object.__setattr__(self, "common_key", False)
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid {name}: {getattr(self, name)!r}")

    @property
    def kind(self) -> str:
        """The network these settings train (`models.factory.KINDS`). `config.json` records it beside the
        settings; a folder saved before it did is read by this same rule (`run_folder.read_config`)."""
        if self.jsb:
            return "jsb_frames"
        return "melody_lstm" if self.melody_context else "lstm_ensemble" if self.members > 1 else "lstm"

    @property
    def task(self) -> str:
        """What a run of these settings is for: `compose` (a four-voice one harmonizes too), `harmonize`
        (a network that reads the melody), or `jsb` (the JSB Chorales benchmark, scored only)."""
        return "jsb" if self.jsb else "harmonize" if self.melody_context else "compose"

    def to_dict(self) -> dict:
        """What `config.json` holds: every setting, then the network's kind and the run's task."""
        return {**dataclasses.asdict(self), "kind": self.kind, "task": self.task}

    def encoder(self) -> encodings.Encoding:
        """The encoding these settings name, with its options."""
        return encodings.get(self.encoding, self.durations)

    @classmethod
    def from_dict(cls, raw: dict) -> "Config":
        """Settings from `config.json`; keys this version does not know are ignored. A run saved before
        `common_key` existed learned its pieces in their own keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"common_key": False, **{k: v for k, v in raw.items() if k in known}})
