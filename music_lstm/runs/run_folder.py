"""The run folder: the one hand-off between `train` and `generate`/`evaluate`. This module owns its
file names, writes every file atomically, and reads the folder back as a checked `Run`.

    model.keras        the best model by validation loss, Keras's own layers (loads without this package)
    vocab.json         the vocabulary          config.json   the training settings
    split.json         training/validation piece names
    data.json          the data folder, whether it was read recursively, the training pieces' tempo
    corpus.npz         the encoded pieces as ids, so nothing is parsed again
    history.json/.png  one record per epoch, and the loss curves
    checkpoint.keras, train_state.json   the last epoch with its optimizer state, for `--resume`
    evaluation.json    what `evaluate` measured

Atomic: every file goes to a temporary file beside it first and is moved into place with `os.replace`
(atomic on POSIX and Windows): a reader sees the old file or the new one, never a part.

    python -c "from music_lstm.runs.run_folder import load_run; print(load_run('runs/latest').config)"
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from ..core.errors import ConfigError, RunFolderError
from ..core.vocab import Factors, Vocab

from ..core.files import atomic_path

MODEL = "model.keras"
VOCAB = "vocab.json"
CONFIG = "config.json"
SPLIT = "split.json"
DATA = "data.json"
CORPUS = "corpus.npz"
HISTORY = "history.json"
HISTORY_PLOT = "history.png"
CHECKPOINT = "checkpoint.keras"
STATE = "train_state.json"
EVALUATION = "evaluation.json"
SAMPLING = "sampling.json"  # optional: the sampling settings measured best for this run's model
# What a new training run removes first, so nothing of an old run is mistaken for this one's.
STALE = (CHECKPOINT, STATE, MODEL, EVALUATION, HISTORY, HISTORY_PLOT)


LATEST = Path("runs") / "latest"  # where `train` writes by default, and where generate and harmonize look first
SHIPPED = Path(__file__).parent.parent / "shipped"  # run folders that come with the package: compose/ and harmonize/
SHIPPED_TASKS = ("compose", "harmonize")
SHIPPED_FILES = (MODEL, VOCAB, CONFIG, SPLIT, DATA, CORPUS)  # what a shipped run folder holds (and SAMPLING, if any)


def resolve_run(run_dir, task: str, log=lambda msg: print(msg, file=sys.stderr)) -> Path:
    """The run folder for `generate` (task "compose") or `harmonize`: `run_dir` when given; else
    runs/latest when it exists; else the run folder shipped with the package for that task. Says in one
    line which of the last two it took."""
    if task not in SHIPPED_TASKS:
        raise ValueError(f"invalid task: {task!r} (choose from {', '.join(SHIPPED_TASKS)})")
    if run_dir is not None:
        return Path(run_dir)
    if LATEST.is_dir():
        log(f"using {LATEST} (the last run trained here; --run-dir to choose another)")
        return LATEST
    log(f"no {LATEST} here: using the model shipped with music_lstm for {'composing' if task == 'compose' else 'harmonizing'} "
        f"(python -m music_lstm train makes your own)")
    return SHIPPED / task


def ship(run_dir, task: str, sampling: dict | None = None) -> Path:
    """Copy a trained run folder's `SHIPPED_FILES` into the package as the model for `task`
    (`SHIPPED / task`), checked first with `load_run`, with `sampling` (the settings measured best for
    it) as its `SAMPLING`; returns the folder.

        python -c "from music_lstm.runs.run_folder import ship; ship('runs/long', 'compose', {'temperature': 0.8, 'rhythm_top_p': 0.9})"
    """
    if task not in SHIPPED_TASKS:
        raise ValueError(f"invalid task: {task!r} (choose from {', '.join(SHIPPED_TASKS)})")
    run = load_run(run_dir)
    if task == "compose" and run.config.task != "compose":
        raise RunFolderError(f"{run.path}: a --melody-context run harmonizes; it cannot ship as the model that composes")
    target = SHIPPED / task
    target.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:
        if name == MODEL:
            save_model(run.model, target / name)  # loaded uncompiled: no optimizer state in the package
            continue
        with atomic_path(target / name) as tmp:
            Path(tmp).write_bytes((run.path / name).read_bytes())
    if sampling is not None:
        write_sampling(target, sampling)
    else:
        (target / SAMPLING).unlink(missing_ok=True)
    return target


BUDGET = ("seed", "epochs", "max_minutes", "patience")  # settings of a training run that leave its network's shape and data alone


def combine(run_dirs, out_dir) -> Path:
    """One run folder (kind `lstm_ensemble`, `models.ensemble`) whose network is the mean of `run_dirs`' networks:
    runs of the same settings but the seed and the budget (`BUDGET`), trained on the same split with the same vocabulary (`train
    --holdout FIRST --seed N`). The first run gives the vocabulary, split, data and corpus; `config.json`
    records how many networks it averages (`members`) and the first run's seed. Returns the folder.

        python -c "from music_lstm.runs.run_folder import combine; combine(['runs/long', 'runs/long_s1'], 'runs/long_ens')"
    """
    from ..models.ensemble import build_ensemble

    runs = [load_run(d) for d in run_dirs]
    if len(runs) < 2:
        raise RunFolderError(f"combine: give two run folders or more, got {len(runs)}")
    first = runs[0]
    for run in runs:
        if run.config.kind != "lstm":
            raise RunFolderError(f"{run.path}: a {run.config.kind} run; only lstm runs are combined")
    for run in runs[1:]:
        differ = [f for f, v in dataclasses.asdict(run.config).items()
                  if f not in BUDGET and v != getattr(first.config, f)]
        if differ:
            raise RunFolderError(f"{run.path}: settings differ from {first.path}'s ({', '.join(differ)}): not one model's seeds")
        if run.vocab.index_to_symbol != first.vocab.index_to_symbol:
            raise RunFolderError(f"{run.path / VOCAB}: not {first.path / VOCAB}: the networks predict other symbols")
        if read_split(run.path) != read_split(first.path):
            raise RunFolderError(f"{run.path / SPLIT}: not {first.path / SPLIT}: train with --holdout {first.path}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (*STALE, SAMPLING):
        (out / stale).unlink(missing_ok=True)
    for name in (VOCAB, SPLIT, DATA, CORPUS):
        with atomic_path(out / name) as tmp:
            Path(tmp).write_bytes((first.path / name).read_bytes())
    write_config(out / CONFIG, dataclasses.replace(first.config, members=len(runs)))
    save_model(build_ensemble([run.model for run in runs]), out / MODEL)
    return out


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- the files, one by one -------------------------------------------------------------------------

def write_config(path: str | os.PathLike, cfg: Config) -> None:
    """The settings, and the network's kind and the run's task (`Config.to_dict`)."""
    write_json(path, cfg.to_dict())


def read_config(path: str | os.PathLike) -> Config:
    """`config.json`; unknown keys (from a newer version) are ignored. RunFolderError if missing or bad,
    or if the kind and task it records are not those of its settings. A folder saved before they were
    recorded (the shipped ones among them) has the kind and task its settings give (`Config.kind`)."""
    try:
        raw = read_json(path)
        cfg = Config.from_dict(raw)
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing (the run folder has no config)") from None
    except (ValueError, TypeError, AttributeError) as e:
        raise RunFolderError(f"{path}: not a valid config ({e})") from None
    for field in ("kind", "task"):
        if field in raw and raw[field] != getattr(cfg, field):
            raise RunFolderError(f"{path}: records {field} {raw[field]!r}, but its settings are those of "
                                 f"{getattr(cfg, field)!r}")
    return cfg


def write_vocab(path: str | os.PathLike, vocab: Vocab) -> None:
    write_json(path, vocab.to_json())


def read_vocab(path: str | os.PathLike) -> Vocab:
    try:
        return Vocab.from_json(read_json(path))
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing (the run folder has no vocabulary)") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise RunFolderError(f"{path}: not a valid vocabulary ({e})") from None


def write_split(run: Path, train: list[str], validation: list[str], source: str | None = None) -> None:
    """`source`, where given, says where the split comes from (a JSB file's own splits)."""
    write_json(Path(run) / SPLIT, {"train": train, "validation": validation, **({"source": source} if source else {})})


def read_split(run: Path, hint: str = "") -> tuple[list[str], list[str]]:
    """(training names, validation names) from `split.json`."""
    path = Path(run) / SPLIT
    try:
        split = read_json(path)
        return list(split["train"]), list(split["validation"])
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing{hint}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise RunFolderError(f"{path}: not a valid split ({e})") from None


def write_data(run: Path, bpm: float | None, data_dir: str, recursive: bool) -> None:
    write_json(Path(run) / DATA, {"bpm": bpm, "data_dir": str(data_dir), "recursive": recursive})


def write_sampling(run: Path, settings: dict) -> None:
    """Record the sampling settings `generate` uses for this run unless told otherwise (checked first)."""
    from ..core.sampling import Sampling

    Sampling(**settings)  # a ConfigError names a bad one
    write_json(Path(run) / SAMPLING, settings)


def read_sampling(run: Path) -> dict:
    """The run's `SAMPLING` as a dict of settings ({} without one); a damaged file or an unknown or bad
    setting is a one-line RunFolderError."""
    from ..core.sampling import Sampling

    path = Path(run) / SAMPLING
    if not path.exists():
        return {}
    try:
        raw = read_json(path)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        Sampling(**raw)
    except (ValueError, TypeError, ConfigError) as e:
        raise RunFolderError(f"{path}: {e}") from None
    return raw


def read_data(run: Path) -> dict:
    """`data.json` as {"bpm": float | None, "data_dir": str | None, "recursive": bool}; a missing or
    damaged file gives None and False (the callers say what they need)."""
    try:
        raw = read_json(Path(run) / DATA)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except (FileNotFoundError, ValueError):
        raw = {}
    bpm, data_dir = raw.get("bpm"), raw.get("data_dir")
    return {"bpm": float(bpm) if isinstance(bpm, (int, float)) else None,
            "data_dir": str(data_dir) if data_dir is not None else None,
            "recursive": bool(raw.get("recursive", False))}


def write_state(run: Path, epoch: int, best: float, wait: int, monitor: str) -> None:
    write_json(Path(run) / STATE, {"epoch": epoch, "best": best, "wait": wait, "monitor": monitor})


def read_state(run: Path) -> dict:
    """`train_state.json` as {"epoch", "best", "wait"}."""
    path = Path(run) / STATE
    try:
        state = read_json(path)
        return {"epoch": int(state["epoch"]), "best": float(state["best"]), "wait": int(state["wait"])}
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing") from None
    except (ValueError, KeyError, TypeError) as e:
        raise RunFolderError(f"{path}: not a valid training state ({e})") from None


def write_history(run: Path, history: list[dict]) -> None:
    write_json(Path(run) / HISTORY, history)


def read_history(run: Path) -> list[dict]:
    """`history.json`, or [] where there is none that can be read."""
    try:
        return list(read_json(Path(run) / HISTORY))
    except (FileNotFoundError, ValueError, TypeError):
        return []


def save_corpus(path: Path, vocab: Vocab, seqs: dict[str, list[str]], train: list[str], val: list[str],
                key_shifts: dict[str, int] | None = None) -> None:
    """The encoded pieces as ids: `train_ids`/`val_ids` concatenated, `*_lengths` per piece, and with
    `key_shifts` (a `common_key` run), `*_shifts`: the semitones each piece was moved before encoding."""
    arrays = {}
    for part, names in (("train", train), ("val", val)):
        ids = [vocab.encode(seqs[n]) for n in names]
        arrays[f"{part}_ids"] = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        arrays[f"{part}_lengths"] = np.array([len(i) for i in ids], np.int64)
        if key_shifts:
            arrays[f"{part}_shifts"] = np.array([key_shifts[n] for n in names], np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_corpus(path: Path) -> dict[str, list[np.ndarray]]:
    """{"train": [ids per piece], "val": [...], "train_shifts": semitones per piece, "val_shifts": ...} from
    `corpus.npz` (the shifts are 0 but in a `common_key` run)."""
    with np.load(path) as z:
        out = {}
        for part in ("train", "val"):
            ids, lengths = z[f"{part}_ids"], z[f"{part}_lengths"]
            out[part] = np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []
            key = f"{part}_shifts"
            out[key] = z[key] if key in z.files else np.zeros(len(lengths), np.int64)
        return out


def save_model(model, path: Path) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)  # Keras writes in place; the atomic rename keeps a reader from a half file


def load_model(path: Path, compile: bool = False):
    """A `.keras` file; a missing, damaged or unloadable one is a one-line RunFolderError."""
    if not path.is_file():
        raise RunFolderError(f"{path}: missing (training never finished an epoch)")
    if not zipfile.is_zipfile(path):  # Keras would call a damaged file "not found"
        raise RunFolderError(f"{path}: damaged (not a .keras archive)")
    import keras

    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as e:
        reason = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
        raise RunFolderError(f"{path}: cannot be loaded ({reason})") from None


# --- the whole folder ------------------------------------------------------------------------------

@dataclass
class Run:
    """What a run folder holds, loaded and checked against each other."""

    path: Path
    config: Config
    vocab: Vocab
    model: object  # keras.Model
    corpus: dict[str, list[np.ndarray]]
    bpm: float | None
    factors: Factors | None = None  # a chord softmax and a duration softmax (chords --durations)

    @property
    def encoding(self):
        """The run's `encodings.Encoding`."""
        return self.config.encoder()


def load_run(run_dir: str | os.PathLike) -> Run:
    """Load a run folder; a missing, corrupt or mismatched file is a one-line RunFolderError."""
    run = Path(run_dir)
    if not run.is_dir():
        raise RunFolderError(f"{run}: no such run folder (train first: python -m music_lstm train)")
    config = read_config(run / CONFIG)
    vocab = read_vocab(run / VOCAB)
    model_path = run / MODEL
    model = load_model(model_path)
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    if "kind" in read_json(run / CONFIG):  # two softmaxes, a chord's and a duration's, for chords --durations
        factors = Factors(vocab) if config.encoder().durations else None
    else:  # a folder saved before config.json recorded the kind: today's rule, by the number of softmaxes
        factors = Factors(vocab) if len(shapes) == 2 else None
    if len(shapes) != (2 if factors else 1):
        raise RunFolderError(f"{model_path}: a network with {len(shapes)} softmax output(s), where {CONFIG} "
                             f"({config.encoding}{', durations' if config.durations else ''}) needs {2 if factors else 1}")
    if factors is not None and tuple(s[-1] for s in shapes) != factors.sizes:
        raise RunFolderError(f"{model_path}: predicts {shapes[0][-1]} chords and {shapes[1][-1]} durations but {VOCAB} has "
                             f"{factors.sizes[0]} and {factors.sizes[1]}: the files do not belong together")
    if factors is None and shapes[0][-1] != len(vocab):
        raise RunFolderError(f"{model_path}: predicts {shapes[0][-1]} symbols but {VOCAB} has {len(vocab)}: "
                             "the files do not belong together")
    try:
        corpus = load_corpus(run / CORPUS)
    except FileNotFoundError:
        raise RunFolderError(f"{run / CORPUS}: missing") from None
    except Exception as e:
        raise RunFolderError(f"{run / CORPUS}: corrupt ({type(e).__name__})") from None
    top = max((int(ids.max()) for part in ("train", "val") for ids in corpus[part] if len(ids)), default=0)
    if top >= len(vocab):
        raise RunFolderError(f"{run / CORPUS}: holds symbol id {top} but {VOCAB} has {len(vocab)} symbols: "
                             "the files do not belong together")
    return Run(run, config, vocab, model, corpus, read_data(run)["bpm"], factors)
