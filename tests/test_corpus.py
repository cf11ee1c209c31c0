"""The parse cache (keyed by content and settings, placed where asked), parallel parsing that agrees
with one worker, and the progress line."""

import io
import pickle

import pytest
from midi_bytes import chorale

from music_lstm.io import corpus
from music_lstm.io import midi_read
from music_lstm.encodings.ingest import encode_folder
from music_lstm.io.corpus import find_midi_files, load_folder


def run(folder, **kw):
    kw.setdefault("workers", 1)
    return encode_folder(folder, "seed", progress=False, log=lambda m: None, **kw)


def test_a_re_run_parses_only_new_or_changed_files(corpus_dir, tmp_path):
    cache = tmp_path / "c"
    first = run(corpus_dir, cache_dir=cache)
    assert first.parsed == 6
    again = run(corpus_dir, cache_dir=cache)
    assert again.parsed == 0 and again.sequences == first.sequences and again.bpms == first.bpms
    chorale(corpus_dir / "piece0.mid", bars=3, shift=1)  # changed
    chorale(corpus_dir / "new.mid", bars=2)  # new
    third = run(corpus_dir, cache_dir=cache)
    assert third.parsed == 2 and len(third.sequences) == 7
    assert third.sequences["piece0.mid"] != first.sequences["piece0.mid"]


def test_the_cache_is_keyed_by_content_not_by_name(corpus_dir, tmp_path):
    cache = tmp_path / "c"
    run(corpus_dir, cache_dir=cache)
    (corpus_dir / "piece0.mid").rename(corpus_dir / "renamed.mid")
    assert run(corpus_dir, cache_dir=cache).parsed == 0


def test_changed_extraction_settings_parse_everything_again(corpus_dir, tmp_path, monkeypatch):
    cache = tmp_path / "c"
    run(corpus_dir, cache_dir=cache)
    monkeypatch.setattr(midi_read, "EXTRACTION", midi_read.EXTRACTION + " (changed)")
    monkeypatch.setattr(corpus, "_SETTINGS", None)
    assert run(corpus_dir, cache_dir=cache).parsed == 6


def test_bad_files_are_cached_too_and_still_reported(corpus_dir, tmp_path):
    cache = tmp_path / "c"
    (corpus_dir / "bad.mid").write_bytes(b"MThd\x00")
    run(corpus_dir, cache_dir=cache)
    lines = []
    again = encode_folder(corpus_dir, "seed", workers=1, cache_dir=cache, progress=False, log=lines.append)
    assert again.parsed == 0 and again.skipped == {"bad.mid": "truncated MIDI file (header cut short)"}
    assert any(line.startswith("skipped ") and "bad.mid" in line for line in lines)


def test_cache_goes_where_asked_and_no_cache_writes_nothing(corpus_dir, tmp_path, monkeypatch):
    cache = tmp_path / "mine"
    run(corpus_dir, cache_dir=cache)
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 12  # a piece and its symbols per file
    default = corpus.default_cache_dir()
    assert str(default).startswith(str(tmp_path / "cache"))  # XDG_CACHE_HOME, set by conftest
    assert not default.exists()
    assert run(corpus_dir, use_cache=False).parsed == 6
    assert not default.exists()
    run(corpus_dir)
    assert default.is_dir()


def test_a_damaged_cache_entry_is_parsed_again_and_rewritten(corpus_dir, tmp_path):
    cache = tmp_path / "c"
    first = run(corpus_dir, cache_dir=cache)
    for entry in [p for p in cache.rglob("*") if p.is_file()]:
        entry.write_bytes(b"not a pickle")
    again = run(corpus_dir, cache_dir=cache)
    assert again.parsed == 6 and again.sequences == first.sequences
    entry = next(p for p in cache.rglob("*") if p.is_file())
    pickle.loads(entry.read_bytes())  # rewritten whole


@pytest.mark.slow
def test_two_workers_give_what_one_gives(corpus_dir, tmp_path):
    (corpus_dir / "bad.mid").write_bytes(b"")
    one = run(corpus_dir, cache_dir=tmp_path / "a")
    two = run(corpus_dir, workers=2, cache_dir=tmp_path / "b")
    assert two.parsed == 7
    assert two.sequences == one.sequences and two.bpms == one.bpms and two.skipped == one.skipped
    assert list(two.sequences) == sorted(two.sequences)  # file order, whatever order workers finished in
    notes = load_folder(corpus_dir, workers=2, use_cache=False, log=lambda m: None, progress=False)
    assert sorted(notes.pieces) == sorted(one.sequences)


def test_bad_worker_count_is_named(corpus_dir):
    with pytest.raises(ValueError, match="workers"):
        run(corpus_dir, workers=0)


def test_suffixes_in_any_case_and_only_midi(tmp_path):
    for name in ["a.mid", "b.MID", "c.midi", "d.MiDi", "e.txt", "f.mid.bak"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "g.mid").mkdir()
    assert [p.name for p in find_midi_files(tmp_path)] == ["a.mid", "b.MID", "c.midi", "d.MiDi"]


def test_progress_bar_on_a_terminal_shows_files_of_the_total_and_none_in_a_log(corpus_dir, capsys):
    encode_folder(corpus_dir, "seed", workers=1, use_cache=False, progress=True, log=lambda m: None)
    err = capsys.readouterr().err
    assert f"reading {corpus_dir}" in err and "/6 [" in err and "file/s" in err  # drawn at least once (tqdm skips quick redraws)
    assert err.endswith("\r")  # and taken off the line for the summary that follows
    encode_folder(corpus_dir, "seed", workers=1, use_cache=False, progress=False, log=lambda m: None)
    assert capsys.readouterr().err == ""


def test_a_pieces_four_voices_survive_the_parse_cache(corpus_dir, tmp_path, monkeypatch):
    from music_lstm.core.events import Piece

    parse = midi_read.parse_midi

    def with_voices(data, name):
        piece = parse(data, name)
        lines = tuple([n for n in piece.notes if n[2] % 4 == k] for k in range(4))
        return Piece(piece.notes, piece.bpm, voices=lines, no_voices=None)

    monkeypatch.setattr(midi_read, "parse_midi", with_voices)
    cache = tmp_path / "c"
    first = load_folder(corpus_dir, workers=1, cache_dir=cache, progress=False, log=lambda m: None)
    again = load_folder(corpus_dir, workers=1, cache_dir=cache, progress=False, log=lambda m: None)
    assert first.parsed == 6 and again.parsed == 0
    for name, piece in first.pieces.items():
        assert piece.voices is not None and again.pieces[name].voices == piece.voices
