"""A run folder of the `fill_lstm` kind (the network that writes any cells given the others):
`config.json` records `kind` "fill_lstm", `task` "harmonize", the network's sizes and how it was
trained; `model.keras` the network; `split.json` the pieces trained on and held out; `history.json`;
optionally `moves.json`, the sampler's move weights fitted to the network (`read_moves`).
Written and read with `run_folder`'s atomic helpers.

    python -c "from music_lstm.runs.fill_run import is_fill_run; print(is_fill_run('music_lstm/shipped/harmonize'))"
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..core.errors import RunFolderError
from ..models.fill import FillSizes
from .run_folder import CONFIG, HISTORY, MODEL, SPLIT, read_json, write_json

KIND = "fill_lstm"
MOVES = "moves.json"
MOVE_BINS = 14  # move sizes 0-12 semitones, 13 for more


@dataclass(frozen=True)
class FillConfig:
    sizes: FillSizes = field(default_factory=FillSizes)
    crop: int = 128  # sixteenths per training window
    batch_size: int = 32
    max_minutes: float = 30.0
    epochs: int = 400  # upper bound; the time budget usually ends training first
    patience: int = 40  # epochs without a better validation loss before stopping
    seed: int = 0
    sparse: float = 0.0  # the share of training windows with few cells masked (`training.fill_train.draw_mask`)
    transpose: int = 0  # each training window moved by up to this many semitones half the time (0: never)
    source: str = ""  # where the pieces came from ("music21 corpus", or a MIDI folder)
    kind: str = KIND
    task: str = "harmonize"

    def to_json(self) -> dict:
        d = asdict(self)
        d["sizes"] = asdict(self.sizes)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = CONFIG) -> "FillConfig":
        if d.get("kind") != KIND:
            raise RunFolderError(f"{where}: not a {KIND} run (kind {d.get('kind')!r})")
        known = {f.name for f in fields(cls)}
        sizes = FillSizes(**{k: v for k, v in d.get("sizes", {}).items() if k in {f.name for f in fields(FillSizes)}})
        return cls(**{k: v for k, v in d.items() if k in known and k != "sizes"}, sizes=sizes)


def is_fill_run(path) -> bool:
    """Does the run folder at `path` record the `fill_lstm` kind?"""
    try:
        return json.loads((Path(path) / CONFIG).read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def write_fill_config(run: Path, cfg: FillConfig) -> None:
    write_json(Path(run) / CONFIG, cfg.to_json())


def read_fill_config(run: Path) -> FillConfig:
    path = Path(run) / CONFIG
    try:
        return FillConfig.from_json(read_json(path), str(path))
    except (OSError, ValueError, TypeError) as e:
        raise RunFolderError(f"{path}: unreadable ({e})") from None


def load_fill_model(run: Path):
    from .run_folder import load_model

    path = Path(run) / MODEL
    if not path.exists():
        raise RunFolderError(f"{path}: no network (train first)")
    return load_model(path)


SHIPPED_FILL_FILES = (CONFIG, SPLIT, HISTORY, MODEL, MOVES)


def read_moves(run: Path):
    """The run's move weights, (4 voices, MOVE_BINS sizes) positive floats, or None when it has none."""
    import numpy as np

    path = Path(run) / MOVES
    if not path.exists():
        return None
    try:
        moves = np.array(read_json(path)["moves"], dtype=float)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise RunFolderError(f"{path}: unreadable ({e})") from None
    if moves.shape != (4, MOVE_BINS) or not np.all(np.isfinite(moves)) or not np.all(moves > 0):
        raise RunFolderError(f"{path}: 'moves' must be 4 rows of {MOVE_BINS} positive numbers")
    return moves


def write_moves(run: Path, moves) -> Path:
    """`moves` (4, MOVE_BINS) written to the run folder, atomically."""
    import numpy as np

    moves = np.asarray(moves, dtype=float)
    if moves.shape != (4, MOVE_BINS) or not np.all(moves > 0):
        raise ValueError(f"move weights must be 4 rows of {MOVE_BINS} positive numbers")
    write_json(Path(run) / MOVES, {"moves": np.round(moves, 4).tolist()})
    return Path(run) / MOVES


def ship_fill(run_dir, dest) -> Path:
    """Copy the fill_lstm run at `run_dir` to `dest` (the package's shipped/harmonize) as it ships: its
    settings, split and history, and the network without its optimizer's state (a third of the size).

        python -c "from music_lstm.runs.fill_run import ship_fill; ship_fill('runs/fill', 'music_lstm/shipped/harmonize')"
    """
    import shutil

    import keras

    from .run_folder import save_model

    src, out = Path(run_dir), Path(dest)
    read_fill_config(src)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        if stale.is_file() and stale.name not in SHIPPED_FILL_FILES:
            stale.unlink()
    model = load_fill_model(src)
    bare = keras.models.clone_model(model)
    bare.set_weights(model.get_weights())
    save_model(bare, out / MODEL)
    for name in (CONFIG, SPLIT, HISTORY, MOVES):
        if (src / name).exists():
            shutil.copyfile(src / name, out / name)
    return out
