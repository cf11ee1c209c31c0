"""The DeepBach peer for harmonizing: DeepBach (Hadjeres et al. 2017) trained with its own code, the PyPI
package `deepbach-pytorch` 1.5.0 (the `[peer]` extra, never a dependency of the package), on the same
training chorales and CPU budget as the shipped harmonizer, then given the soprano of each held-out chorale
(the "validation" list of the shipped run's split.json) to harmonize with its pseudo-Gibbs sampler, the
soprano fixed. Each harmonization is written as OUT/<piece>.mid, parts Soprano, Alto, Tenor, Bass, for
`evaluate --harmonize` to read beside the project's own systems.

DeepBach's default corpus is music21's whole chorale set, which holds the held-out pieces; here it gets only
the training chorales, written from music21's corpus as MusicXML (so their fermatas stay) to a folder it reads
as its custom corpus. The held-out names, and each held-out chorale's notes, are checked absent from that folder.

Its tensor dataset (every transposition of every chorale through music21) is cached under --cache, built
a chorale at a time and each chorale kept as it is done, so a build that is stopped goes on where it
stopped when run again. Two shortcuts that change no tensor halve its time: one music21 interval network
per mode, shared by the keys its key analysis builds, and the fermata and tick metadata, which a
transposition leaves alone, evaluated once a chorale.
`--check-dataset N` builds N chorales both ways and compares them (identical tensors and dictionaries).

Training, the budget --minutes, is a quarter of the budget for each of its four voice networks, best
validation loss kept; the soprano's network, which harmonizing a given soprano never uses, is not trained,
so the run takes three quarters of --minutes. The networks are kept under the cache (`--harmonize-only`
harmonizes with them again); pieces already written are kept, and `--jobs N` harmonizes in N processes.
Needs torch: run it with a virtualenv that has the extra (`pip install -e ".[peer]"`), not the project's own.

    /work/peer-venv/bin/python benchmarks/peer_deepbach.py --data-only --out runs/peer-deepbach   # the cache
    /work/peer-venv/bin/python benchmarks/peer_deepbach.py --minutes 116 --jobs 2 --out runs/peer-deepbach
    /work/peer-venv/bin/python benchmarks/peer_deepbach.py --smoke   # 10 chorales, 1 minute, 2 pieces
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPLIT = ROOT / "music_lstm" / "shipped" / "harmonize" / "split.json"
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
HARMONIZING = (1, 2, 3)  # the networks harmonizing a given soprano uses: alto, tenor, bass


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=50.0, help="training budget on CPU, all four voices (default: 50)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "peer-deepbach"),
                    help="where the harmonizations (<piece>.mid) and peer_deepbach.json go (default: runs/peer-deepbach)")
    ap.add_argument("--cache", help="DeepBach's corpus folder, dataset cache and weights (default: OUT/cache)")
    ap.add_argument("--split", default=str(SPLIT), help="a split.json with its train and validation lists "
                                                         "(default: the shipped harmonizer's)")
    ap.add_argument("--batch", type=int, default=256, help="training batch size (default: 256)")
    ap.add_argument("--iterations", type=int, default=500,
                    help="pseudo-Gibbs iterations per piece, DeepBach's default (default: 500)")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    ap.add_argument("--seed", type=int, default=1, help="seed of torch, numpy and random (default: 1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: every CPU)")
    ap.add_argument("--jobs", type=int, default=1, help="harmonize in this many processes, a torch thread each (default: 1)")
    ap.add_argument("--harmonize-only", action="store_true",
                    help="harmonize with the networks a finished training left in the cache, not training again")
    ap.add_argument("--data-only", action="store_true", help="write the corpus folder and build the dataset cache, then stop")
    ap.add_argument("--check-dataset", type=int, metavar="N",
                    help="build the first N training chorales' dataset by DeepBach's own code and by this script's, "
                         "say whether they are identical, then stop")
    ap.add_argument("--smoke", action="store_true", help="10 training chorales, 1 minute, 2 pieces of 50 iterations: checks that it runs")
    args = ap.parse_args(argv)
    for name in ("minutes", "batch", "iterations", "temperature", "threads", "jobs"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.smoke:
        args.minutes, args.iterations = 1.0, min(args.iterations, 50)
    return args


class Fail(Exception):
    """Bad input or a missing extra: one line on stderr, exit 2."""


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except Fail as e:
        print(f"peer_deepbach.py: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    split = _read_split(Path(args.split))
    train, held_out = split["train"], split["validation"]
    if args.smoke:
        train, held_out = train[:10], held_out[:2]
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / "cache"
    db = _load_deepbach()
    _seed(args.seed)
    db.torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    corpus_dir, train_prints = export_corpus(train, cache)
    if args.check_dataset:
        return 0 if check_dataset(db, corpus_dir, cache, args.check_dataset) else 1
    pieces = held_out_pieces(held_out)
    check = leak_check(corpus_dir, train, train_prints, pieces)
    export_s = time.perf_counter() - t0
    print(f"corpus: {len(train_prints)} training chorales as MusicXML in {corpus_dir} ({export_s:.0f} s); "
          f"none of the {len(held_out)} held-out names in it, "
          f"{check['same_music']} held-out chorales with the same four voices as a training one, "
          f"{check['same_tune']} with the same soprano")

    t0 = time.perf_counter()
    dataset, built = build_dataset(db, corpus_dir, cache)
    examples = len(dataset.tensor_dataset)
    data_s = time.perf_counter() - t0
    print(f"dataset: {examples} examples, {'built' if built else 'read from the cache'} in {data_s:.0f} s")
    if args.data_only:
        return 0

    model = db.pkg.create_model(dataset, models_dir=str(cache / "models"))
    model.cuda()  # its own move: nothing without CUDA, where the budget is CPU time
    trained = cache / "models" / "training.json"
    if args.harmonize_only:
        if not trained.exists():
            raise Fail(f"{trained}: no trained networks; run without --harmonize-only first")
        record = json.loads(trained.read_text())
        for v in HARMONIZING:
            model.voice_models[v].resize_embeddings_to_dataset()
            model.voice_models[v].load()
        log, train_s = record["voices"], record["train_seconds"]
        print(f"training: read from {trained.parent} ({train_s:.0f} s of a {record['minutes'] * 60:.0f} s budget)")
    else:
        t0 = time.perf_counter()
        log = train_voices(db, model, dataset, args.minutes * 60, args.batch)
        train_s = time.perf_counter() - t0
        _write_json(trained, {"minutes": args.minutes, "batch": args.batch, "train_seconds": round(train_s, 1),
                              "voices": log})
        print(f"training: {train_s:.0f} s of a {args.minutes * 60:.0f} s budget (the soprano's quarter not spent); "
              "epochs per voice " + ", ".join(f"{v['voice']} {v['epochs']:.2f} ({v['batches']} batches of "
                                              f"{args.batch}, val loss {v['best_val_loss']:.3f})" for v in log))

    t0 = time.perf_counter()
    written, skipped = harmonize_all(db, model, dataset, pieces["scores"], out, args)
    skipped = {**pieces["skipped"], **skipped}
    harm_s = time.perf_counter() - t0
    summary = {
        "benchmark": "peer_deepbach", "peer": "deepbach-pytorch " + db.version, "smoke": args.smoke,
        "seed": args.seed, "settings": {k: getattr(args, k) for k in ("minutes", "batch", "iterations", "temperature",
                                                                        "threads", "jobs")},
        "split": str(args.split), "train_chorales": sorted(train_prints), "held_out": held_out, "leak_check": check,
        "examples": examples, "dataset_seconds": round(data_s, 1), "train_seconds": round(train_s, 1), "voices": log,
        "harmonized": written, "skipped": skipped, "harmonize_seconds": round(harm_s, 1),
    }
    _write_json(out / "peer_deepbach.json", summary)
    print(f"harmonized {len(written)} of {len(held_out)} held-out chorales into {out} in {harm_s:.0f} s "
          f"({args.iterations} iterations each); training took {train_s:.0f} s")
    for name, why in skipped.items():
        print(f"  skipped {name}: {why}")
    return 0


# --- the chorales ---------------------------------------------------------------------------------------

def _read_split(path: Path) -> dict:
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Fail(f"{path}: cannot read a split ({e})") from None
    if not isinstance(split, dict) or not all(isinstance(split.get(k), list) for k in ("train", "validation")):
        raise Fail(f"{path}: no 'train' and 'validation' lists")
    stem = lambda n: n[:-4] if n.lower().endswith(".mid") else n  # noqa: E731  bwv1.6.mid -> corpus name bwv1.6
    split = {k: [stem(n) for n in split[k]] for k in ("train", "validation")}
    both = set(split["train"]) & set(split["validation"])
    if both:
        raise Fail(f"{path}: {len(both)} pieces in both lists, e.g. {sorted(both)[0]}")
    return split


def four_voices(score):
    """The sung parts of a corpus chorale as S, A, T, B: the parts whose names name each voice once (the
    project's `voice_of_name`), else exactly four parts in score order; None otherwise."""
    from music_lstm.io.voice_parts import voice_of_name

    parts = [p for p in score.parts if p.flatten().notes]
    named = {}
    for p in parts:
        v = voice_of_name(p.partName)
        if v is not None:
            named.setdefault(v, []).append(p)
    if sorted(named) == [0, 1, 2, 3] and all(len(ps) == 1 for ps in named.values()):
        return [named[v][0] for v in range(4)]
    return parts if len(parts) == 4 else None


def fingerprint(parts) -> str:
    """A hash of the parts' notes (onset, MIDI pitch): the same music, whatever its file."""
    notes = [[(float(n.offset), n.pitches[0].midi) for n in p.flatten().notes] for p in parts]
    return hashlib.sha1(repr(notes).encode()).hexdigest()[:16]


def export_corpus(names: list[str], cache: Path) -> tuple[Path, dict]:
    """The training chorales from music21's corpus, their four sung parts only, as MusicXML files in a folder of
    their own (named for the list, so another list never reuses it); returns it and each one's fingerprints."""
    from music21 import corpus, stream

    from music_lstm.core.files import atomic_path

    key = hashlib.sha1("\n".join(names).encode()).hexdigest()[:8]
    folder = cache / f"train{len(names)}_{key}"
    manifest = folder.parent / f"{folder.name}.json"
    if manifest.exists() and json.loads(manifest.read_text())["names"] == names:
        return folder, json.loads(manifest.read_text())["prints"]
    folder.mkdir(parents=True, exist_ok=True)
    prints = {}
    for name in names:
        parts = four_voices(corpus.parse(f"bach/{name}"))
        if parts is None:
            print(f"  not in the corpus with four voices, left out: {name}")
            continue
        score = stream.Score()
        for p in parts:
            score.insert(0, copy.deepcopy(p))
        with atomic_path(folder / f"{name}.musicxml") as tmp:
            score.write("musicxml", fp=str(tmp))
        prints[name] = {"all": fingerprint(parts), "soprano": fingerprint(parts[:1])}
    with atomic_path(manifest) as tmp:
        tmp.write_text(json.dumps({"names": names, "prints": prints}))
    return folder, prints


def held_out_pieces(names: list[str]) -> dict:
    """Each held-out chorale's soprano, a one-part music21 score with its fermatas, key and time signature, its
    repeats as written (music21 reads each bar once, as the evaluation's own reading of the chorale does)."""
    from music21 import corpus, stream

    scores, prints, skipped = {}, {}, {}
    for name in names:
        parts = four_voices(corpus.parse(f"bach/{name}"))
        if parts is None:
            skipped[name] = "not in music21's corpus with four voices"
            continue
        soprano = copy.deepcopy(parts[0])
        soprano.partName = VOICES[0]
        score = stream.Score()
        score.insert(0, soprano)
        scores[name] = score  # as written, repeats not expanded: the tune `evaluate --harmonize` compares with
        prints[name] = {"all": fingerprint(parts), "soprano": fingerprint(parts[:1])}
    return {"scores": scores, "prints": prints, "skipped": skipped}


def leak_check(folder: Path, train: list[str], train_prints: dict, pieces: dict) -> dict:
    """Fails unless DeepBach's corpus folder holds exactly the training chorales and no held-out name; counts
    held-out chorales whose four voices (or soprano alone) are those of a training chorale under another name."""
    files = sorted(f.name for f in folder.iterdir())
    expected = sorted(f"{n}.musicxml" for n in train_prints)
    if files != expected:
        raise Fail(f"{folder}: holds {len(files)} files, not the {len(expected)} training chorales; remove it")
    names = {f.rsplit(".", 1)[0] for f in files}
    leaked = names & set(pieces["prints"]) | names & set(pieces["skipped"])
    if leaked or not names <= set(train):
        raise Fail(f"{folder}: holds held-out or unlisted pieces: {sorted(leaked or names - set(train))[:3]}")
    seen = {kind: {p[kind]: n for n, p in train_prints.items()} for kind in ("all", "soprano")}
    same = {kind: {n: seen[kind][p[kind]] for n, p in pieces["prints"].items() if p[kind] in seen[kind]}
            for kind in ("all", "soprano")}
    return {"files": len(files), "held_out_names_in_corpus": 0, "same_music": len(same["all"]),
            "same_tune": len(same["soprano"]), "same_music_pairs": same["all"], "same_tune_pairs": same["soprano"]}


# --- DeepBach -------------------------------------------------------------------------------------------

class _DeepBach:
    """The imported package and the pieces of it used here (torch and it load only when needed)."""


def _load_deepbach() -> _DeepBach:
    try:
        import music21
        import torch

        import deepbach_pytorch as pkg
        from importlib.metadata import version
    except ImportError as e:
        raise Fail(f"needs the [peer] extra ({e.name} is missing): pip install -e \".[peer]\" in a virtualenv "
                   "of its own, e.g. /work/peer-venv") from None
    if not hasattr(music21.stream.Stream, "flat"):
        # deepbach-pytorch 1.5.0 still reads `part.flat` (FermataMetadata), which music21 9 removed
        music21.stream.Stream.flat = property(lambda self: self.flatten())
    # its training DataLoader starts 4 worker processes every epoch; the batches are slices of one tensor
    sys.modules["DatasetManager.music_dataset"]._TRAIN_NUM_WORKERS = 0
    sys.modules[pkg.DeepBach.__module__].tqdm = lambda it, *a, **k: it  # no progress bar per Gibbs sampling
    db = _DeepBach()
    db.pkg, db.torch, db.music21, db.version = pkg, torch, music21, version("deepbach-pytorch")
    return db


def _share_scale_networks(music21):
    """One music21 interval network per diatonic mode, shared by every scale and key of that mode. Its
    key analysis, run for every transposition of every chorale (DeepBach's key metadata), builds a key
    for each of the 24 candidates of each bar, and each key built its network anew: two thirds of the
    dataset build's time. The networks are the same for a mode whatever the tonic, and music21 keeps
    only caches of pure functions on them, so the tensors do not change (checked: `--check-dataset`)."""
    cls = music21.scale.AbstractDiatonicScale
    if getattr(cls.buildNetwork, "_own", None):
        return
    build, built = cls.buildNetwork, {}
    names = ("_net", "tonicDegree", "dominantDegree", "relativeMajorDegree", "relativeMinorDegree")

    def shared(self, mode=None):
        key = mode.lower() if isinstance(mode, str) else mode
        if key not in built:
            build(self, mode)
            built[key] = tuple(getattr(self, n) for n in names)
        for n, v in zip(names, built[key]):
            setattr(self, n, v)

    shared._own = build
    cls.buildNetwork = shared


def _own_scale_networks(music21):
    """music21 as it was: a network built for each scale (undoes `_share_scale_networks`)."""
    cls = music21.scale.AbstractDiatonicScale
    cls.buildNetwork = getattr(cls.buildNetwork, "_own", None) or cls.buildNetwork


def _seed(seed: int):
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_dataset(db, corpus_dir: Path, cache: Path):
    """DeepBach's ChoraleDataset of the folder, with its standard settings (those of its `_get_default_dataset`:
    fermata, tick and key metadata, 8-beat sequences, 4 ticks a beat), read through its custom-corpus iterator.

    Built and cached the way its DatasetManager does for the chorales (the tensor dataset first, which fixes the
    note dictionaries, then the dataset's parameters), not the way its custom path does, which saves the
    parameters before the dictionaries exist and pickles a local function. Its tensors are those of its
    `make_tensor_dataset`, in the same order, made a chorale at a time (`chorale_tensors`) and each
    chorale's kept under cache/dataset_parts as it is done: a build stopped part way (it takes over an hour)
    goes on from there when run again (`parted_tensor_dataset`)."""
    from music_lstm.core.files import atomic_path

    pkg, torch = db.pkg, db.torch
    _share_scale_networks(db.music21)
    kwargs = _dataset_settings(pkg)
    corpus_it_gen = pkg._make_custom_corpus_iterator(str(corpus_dir))
    cache_dir = str(cache / "dataset_cache")
    dataset = pkg.ChoraleDataset(corpus_it_gen=corpus_it_gen, name="custom_" + corpus_dir.name,
                                 cache_dir=cache_dir, **kwargs)
    if os.path.exists(dataset.filepath) and dataset.tensor_dataset_is_cached():
        dataset = torch.load(dataset.filepath, weights_only=False)
        dataset.corpus_it_gen, dataset.cache_dir = corpus_it_gen, cache_dir
        return dataset, False
    tensors = parted_tensor_dataset(dataset, cache / "dataset_parts" / corpus_dir.name)
    with atomic_path(dataset.tensor_dataset_filepath) as tmp:
        torch.save(tensors, tmp)
    dataset.corpus_it_gen, dataset.tensor_dataset = None, None  # a local function does not pickle
    with atomic_path(dataset.filepath) as tmp:
        torch.save(dataset, tmp)
    dataset.corpus_it_gen, dataset.tensor_dataset = corpus_it_gen, tensors
    return dataset, True


def _dataset_settings(pkg) -> dict:
    return {"voice_ids": [0, 1, 2, 3], "metadatas": [pkg.FermataMetadata(), pkg.TickMetadata(subdivision=4),
                                                     pkg.KeyMetadata()], "sequences_size": 8, "subdivision": 4}


def check_dataset(db, corpus_dir: Path, cache: Path, count: int) -> bool:
    """Builds the dataset of the folder's first `count` chorales twice, by DeepBach's own
    `make_tensor_dataset` (music21 as it is) and by `parted_tensor_dataset` (the shared networks, the
    fixed metadata, a chorale at a time, stopped after the first chorale and resumed), and says whether the
    tensors and the note dictionaries are identical."""
    import shutil

    import torch

    pkg = db.pkg
    folder = cache / f"check{count}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "corpus").mkdir(parents=True)
    for f in sorted(corpus_dir.iterdir())[:count]:
        shutil.copy(f, folder / "corpus" / f.name)
    new = lambda: pkg.ChoraleDataset(corpus_it_gen=pkg._make_custom_corpus_iterator(str(folder / "corpus")),  # noqa: E731
                                     name="check", cache_dir=str(folder / "cache"), **_dataset_settings(pkg))
    _own_scale_networks(db.music21)
    theirs = new()
    t0 = time.perf_counter()
    reference = theirs.make_tensor_dataset()
    theirs_s = time.perf_counter() - t0
    _share_scale_networks(db.music21)
    ours = new()
    t0 = time.perf_counter()
    parted_tensor_dataset(ours, folder / "parts")
    for part in sorted((folder / "parts").glob("*/*.pt"))[1:]:
        part.unlink()  # as if stopped after the first chorale ...
    ours = new()
    built = parted_tensor_dataset(ours, folder / "parts")  # ... and run again
    ours_s = time.perf_counter() - t0
    same = (all(torch.equal(a, b) for a, b in zip(reference.tensors, built.tensors))
            and ours.note2index_dicts == theirs.note2index_dicts and ours.index2note_dicts == theirs.index2note_dicts)
    print(f"check: {count} chorales, {len(reference)} examples: DeepBach's make_tensor_dataset {theirs_s:.0f} s, "
          f"this build {ours_s:.0f} s (twice, the second resumed after the first chorale); "
          + ("identical tensors and dictionaries" if same else "DIFFERENT"))
    return same


def chorale_tensors(dataset, chorale):
    """The examples DeepBach's `ChoraleDataset.make_tensor_dataset` makes of one chorale (its loop body, with
    its own methods): every 8-beat window a tick apart, in every transposition that keeps each voice in its
    range; (score tensors, metadata tensors) stacked, or None where it makes none."""
    import numpy as np
    import torch

    one_tick = 1 / dataset.subdivision
    scores, metas, by_shift = [], [], {}
    flat = chorale.flatten()
    fixed = _fixed_metadata(dataset, chorale)
    for start in np.arange(flat.lowestOffset - (dataset.sequences_size - one_tick), flat.highestOffset, one_tick):
        end = start + dataset.sequences_size
        low, high = dataset.min_max_transposition(dataset.voice_range_in_subsequence(chorale, offsetStart=start,
                                                                                    offsetEnd=end))
        for shift in range(low, high + 1):
            try:
                if shift not in by_shift:
                    by_shift[shift] = transposed_tensors(dataset, chorale, shift, fixed)
                ct, mt = by_shift[shift]
                a, b = int(start * dataset.subdivision), int(end * dataset.subdivision)
                scores.append(dataset.extract_score_tensor_with_padding(ct, a, b)[None].int())
                metas.append(dataset.extract_metadata_with_padding(mt, a, b)[None].int())
            except KeyError:  # as DeepBach does: a note outside its dictionaries, the window left out
                pass
    return (torch.cat(scores, 0), torch.cat(metas, 0)) if scores else None


def _fixed_metadata(dataset, chorale) -> dict:
    """The metadata a transposition leaves as they are, evaluated once for the chorale: the fermatas (read
    from the notes' offsets and expressions) and the ticks (from its length), by their index."""
    return {i: m.evaluate(chorale, dataset.subdivision) for i, m in enumerate(dataset.metadatas)
            if type(m).__name__ in ("FermataMetadata", "TickMetadata")}  # the package loads its modules twice


def transposed_tensors(dataset, chorale, shift: int, fixed: dict):
    """DeepBach's `transposed_score_and_metadata_tensors`: the chorale transposed by `shift` semitones (its
    interval spelling), its score tensor and its metadata tensor, with `fixed`'s metadata not evaluated
    again (`get_metadata_tensor`'s loop, those entries taken from `fixed`)."""
    import numpy as np
    import torch
    from music21 import interval

    kind, nature = interval.convertSemitoneToSpecifierGeneric(shift)
    moved = chorale.transpose(interval.Interval(str(nature) + str(kind)))
    scores = dataset.get_score_tensor(moved, offsetStart=0., offsetEnd=moved.flatten().highestTime)
    md = []
    for i, metadata in enumerate(dataset.metadatas):
        values = fixed[i] if i in fixed else metadata.evaluate(moved, dataset.subdivision)
        md.append(torch.from_numpy(values).long().clone().repeat(dataset.num_voices, 1)[:, :, None])
    length = int(moved.duration.quarterLength * dataset.subdivision)
    voice_ids = torch.from_numpy(np.arange(dataset.num_voices)).long().clone()
    md.append(torch.transpose(voice_ids.repeat(length, 1), 0, 1)[:, :, None])
    return scores, torch.cat(md, 2)


def parted_tensor_dataset(dataset, folder: Path):
    """The TensorDataset of `make_tensor_dataset`, built a chorale at a time in its order, each chorale's
    examples kept in `folder` as it is done, with the note dictionaries as they stand after it (DeepBach adds
    to them the notes a transposition makes that they lack, so a chorale's indices depend on every chorale
    before it, which is why this runs in one process); a build stopped part way goes on after the last
    chorale kept. The folder is named for the dictionaries it starts from."""
    import hashlib

    import torch
    from music_lstm.core.files import atomic_path

    dataset.compute_index_dicts()
    dataset.compute_voice_ranges()
    key = hashlib.sha256(repr((dataset.note2index_dicts, dataset.voice_ranges)).encode()).hexdigest()[:12]
    folder = folder / key
    folder.mkdir(parents=True, exist_ok=True)
    path = lambda i: folder / f"{i:04d}.pt"  # noqa: E731
    chorales = list(dataset.iterator_gen())
    done = 0
    while done < len(chorales) and path(done).exists():
        done += 1
    if done:
        _, dataset.index2note_dicts, dataset.note2index_dicts = torch.load(path(done - 1), weights_only=False)
    print(f"dataset: {len(chorales)} chorales, {done} already in {folder}", flush=True)
    t0 = time.perf_counter()
    for i in range(done, len(chorales)):
        part = chorale_tensors(dataset, chorales[i])
        with atomic_path(path(i)) as tmp:
            torch.save((part, dataset.index2note_dicts, dataset.note2index_dicts), tmp)
        if (i + 1 - done) % 10 == 0 or i + 1 == len(chorales):
            print(f"  {i + 1} of {len(chorales)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    parts = [torch.load(path(i), weights_only=False)[0] for i in range(len(chorales))]
    parts = [p for p in parts if p is not None]
    return torch.utils.data.TensorDataset(torch.cat([p[0] for p in parts], 0), torch.cat([p[1] for p in parts], 0))


class _Until:
    """A DataLoader cut at a deadline (at least one batch); its len is the batches it gave."""

    def __init__(self, loader, deadline: float):
        self.loader, self.deadline, self.n = loader, deadline, 0

    def __iter__(self):
        for batch in self.loader:
            if self.n and time.monotonic() >= self.deadline:
                return
            self.n += 1
            yield batch

    def __len__(self):
        return max(self.n, 1)


def _validation(torch, dataset, batch: int, most: int = 4096):
    """A fixed sample of at most `most` examples of DeepBach's validation part (its data_loaders' 85-95%): its
    whole validation set, a tenth of the data, would take a quarter of a CPU budget at every epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    chorales, metas = dataset.tensor_dataset.tensors
    a, b = int(0.85 * len(chorales)), int((0.85 + 0.10) * len(chorales))
    pick = torch.randperm(b - a, generator=torch.Generator().manual_seed(0))[:most] + a
    return DataLoader(TensorDataset(chorales[pick], metas[pick]), batch_size=batch, shuffle=False)


def train_voices(db, model, dataset, seconds: float, batch: int) -> list[dict]:
    """DeepBach's training (its VoiceModel.train_model's steps: Adam 1e-3, ReduceLROnPlateau on the validation
    loss, its loss_and_acc on its 85% training part, the best validation loss kept) voice after voice, each for
    its share of the time left, a quarter of `seconds` when none overruns; a voice's last epoch is cut at its
    deadline, then validated. Only the alto, tenor and bass networks are trained: harmonizing a given soprano
    never calls the soprano's, so its quarter is not spent (each network used gets what a four-voice run of
    `seconds` gives it, in three quarters of the time). Returns what each voice did."""
    torch = db.torch
    val_dl = _validation(torch, dataset, batch)
    share = len(model.voice_models)
    end, log = time.monotonic() + seconds * len(HARMONIZING) / share, []
    for i, v in enumerate(HARMONIZING):
        vm = model.voice_models[v]
        deadline = time.monotonic() + (end - time.monotonic()) / (len(HARMONIZING) - i)  # the time left, shared
        vm.resize_embeddings_to_dataset()
        optimizer = torch.optim.Adam(vm.parameters(), lr=1e-3)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", patience=3, factor=0.5)
        best, best_state, epochs, batches = float("inf"), None, 0.0, 0
        while True:  # one batch at least, whatever the time left
            train_dl = dataset.data_loaders(batch_size=batch)[0]
            cut = _Until(train_dl, deadline)
            loss, _ = vm.loss_and_acc(cut, optimizer=optimizer, phase="train")
            epochs += cut.n / max(len(train_dl), 1)
            batches += cut.n
            val_loss = vm.loss_and_acc(val_dl, optimizer=None, phase="test")[0] if len(val_dl) else loss
            scheduler.step(val_loss)
            if val_loss < best:
                best, best_state = val_loss, copy.deepcopy(vm.state_dict())
            if time.monotonic() >= deadline:
                break
        if best_state is not None:
            vm.load_state_dict(best_state)
            vm.save()
        log.append({"voice": VOICES[v], "epochs": round(epochs, 3), "batches": batches, "best_val_loss": round(best, 4),
                    "load_average": round(os.getloadavg()[1], 2)})  # over its last 5 minutes: what else ran beside it
    return log


def harmonize_all(db, model, dataset, scores: dict, out: Path, args) -> tuple[list, dict]:
    """Each held-out soprano harmonized into OUT/<name>.mid, piece i seeded with seed * 1000 + i (so the
    output does not depend on --jobs); a piece whose file is there already is kept (a run stopped part way
    goes on). With --jobs N, N forked processes of one torch thread take every Nth piece."""
    import multiprocessing

    todo = [(i, name) for i, name in enumerate(scores) if not (out / f"{name}.mid").exists()]
    print(f"harmonizing: {len(scores) - len(todo)} of {len(scores)} already in {out}", flush=True)

    def work(items):
        skipped = {}
        for i, name in items:
            _seed(args.seed * 1000 + i)
            t0 = time.perf_counter()
            try:
                write_midi(harmonize(db, model, dataset, scores[name], args.iterations, args.temperature),
                           out / f"{name}.mid")
            except Exception as e:  # one piece DeepBach (or music21) cannot take: say which, go on with the others
                skipped[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
                continue
            print(f"  {name} ({time.perf_counter() - t0:.0f} s)", flush=True)
        return skipped

    if args.jobs == 1 or len(todo) < 2:
        skipped = work(todo)
    else:
        global _WORK
        _WORK = work
        db.torch.set_num_threads(1)
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(_work, [todo[j::args.jobs] for j in range(args.jobs)])
        skipped = {k: v for r in results for k, v in r.items()}
    kept = [name for name in scores if (out / f"{name}.mid").exists()]
    return kept, skipped


_WORK = None


def _work(items):  # what a forked worker runs: the closure the parent set before forking
    return _WORK(items)


def harmonize(db, model, dataset, score, iterations: int, temperature: float):
    """The four-part score DeepBach writes under `score`'s soprano: its `harmonize` for a one-part input (the
    soprano as voice 0, the others rests then sampled by pseudo-Gibbs, voices 1-3 only; the score's fermatas,
    or its rule's when it has none), in memory. The soprano out is the one given, note for note."""
    torch, pkg = db.torch, db.pkg
    helpers = sys.modules["DatasetManager.helpers"]  # the package imports its modules by their own names
    OUT_OF_RANGE, REST_SYMBOL = helpers.OUT_OF_RANGE, helpers.REST_SYMBOL

    melody = copy.deepcopy(score.parts[0])
    note2index = dataset.note2index_dicts[0]
    for n in melody.flatten().notes:  # a spelling the corpus never had would grow the vocabulary past the network
        if n.isNote and n.nameWithOctave not in note2index:
            for p in (n.pitch.getEnharmonic(), n.pitch.simplifyEnharmonic()):
                if p is not None and p.nameWithOctave in note2index and p.midi == n.pitch.midi:
                    n.pitch = p
                    break
    sizes = [len(d) for d in dataset.note2index_dicts]
    end = score.flatten().highestTime
    row = dataset.part_to_tensor(melody, 0, offsetStart=0.0, offsetEnd=end)[0]
    added = [i for i in range(sizes[0], len(note2index))]
    if added:  # still unknown: the out-of-range token, and the dictionaries as they were
        row[row >= sizes[0]] = note2index.get(OUT_OF_RANGE, note2index[REST_SYMBOL])
        for i in added:
            del note2index[dataset.index2note_dicts[0].pop(i)]
    length = row.shape[0]
    chorale = torch.stack([row if v == 0 else torch.full_like(row, dataset.note2index_dicts[v][REST_SYMBOL])
                           for v in range(dataset.num_voices)])
    metadata = dataset.get_metadata_tensor(score)
    if metadata.size(1) != length:  # as its `harmonize` does: pad or cut, the voice channel restored
        if metadata.size(1) < length:
            pad = torch.zeros(metadata.size(0), length - metadata.size(1), metadata.size(2), dtype=metadata.dtype)
            metadata = torch.cat([metadata, pad], dim=1)
        metadata = metadata[:, :length, :]
        for v in range(dataset.num_voices):
            metadata[v, :, len(dataset.metadatas)] = v
    metadata, _ = pkg._apply_fermatas(dataset, metadata, score, length, True)
    out, _, _ = model.generation(num_iterations=iterations, sequence_length_ticks=length, tensor_chorale=chorale,
                                 tensor_metadata=metadata, time_index_range_ticks=None, voice_index_range=[1, 4],
                                 voice_indices=[1, 2, 3], random_init=True, temperature=temperature,
                                 batch_size_per_voice=8)
    return _four_parts(db, score, out)


def _four_parts(db, given, generated):
    """Soprano as given (its key and time signature copied to the others), alto, tenor, bass as generated;
    each part, and its MIDI track, named for its voice."""
    from music21 import instrument, key, meter, note, stream

    soprano = stream.Part()  # without measures, as the generated parts are (music21 writes no MIDI of a mixture)
    for el in given.parts[0].stripTies().flatten().getElementsByClass((note.GeneralNote, key.KeySignature,
                                                                         meter.TimeSignature)):
        soprano.insert(el.offset, copy.deepcopy(el))
    signs = [copy.deepcopy(s) for s in soprano.getElementsByClass((key.KeySignature, meter.TimeSignature))]
    signs = [next((s for s in signs if isinstance(s, kind)), None) for kind in (key.KeySignature, meter.TimeSignature)]
    score = stream.Score()
    for v, part in enumerate([soprano, *list(generated.parts)[1:4]]):
        part.partName = part.id = VOICES[v]
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        singer = instrument.Vocalist()
        singer.partName = singer.instrumentName = VOICES[v]  # the MIDI track's name, which names the voice
        part.insert(0, singer)
        if v:
            for s in signs:
                if s is not None:
                    part.insert(0, copy.deepcopy(s))
        score.insert(0, part)
    return score


def write_midi(score, path: Path):
    from music21.midi import translate

    from music_lstm.core.files import atomic_path

    mf = translate.streamToMidiFile(score)
    with atomic_path(path) as tmp:
        mf.open(str(tmp), "wb")
        try:
            mf.write()
        finally:
            mf.close()


def _write_json(path: Path, data: dict):
    from music_lstm.core.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
