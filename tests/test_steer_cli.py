"""harmonize --keep, rewrite and music_lstm.rewrite with a tiny fill_lstm run: the kept notes kept,
every note outside a passage kept (MIDI and MusicXML), and each bad input one line, exit 2, nothing
written."""

import pytest

from music_lstm.app.cli import main
from music_lstm.io.chorale_scores import read_score
from music_lstm.io.midi_write import write_voices_midi
from test_fill import chorale


@pytest.fixture(scope="module")
def fill_run(tmp_path_factory):
    from music_lstm.models.fill import FillSizes
    from music_lstm.runs.fill_run import FillConfig
    from music_lstm.training.fill_train import train_fill

    run = tmp_path_factory.mktemp("fill_run")
    scores = {f"p{k}": chorale(k, bars=4) for k in range(6)}
    cfg = FillConfig(sizes=FillSizes(embed_dim=4, units=8, dense_units=16), crop=32, batch_size=8, epochs=2,
                     max_minutes=0, seed=0)
    train_fill(run, scores, ["held1"], cfg, log=lambda m: None)
    return run


@pytest.fixture
def four_parts(tmp_path):
    score = chorale(11, bars=4)
    path = tmp_path / "chorale.mid"
    write_voices_midi(score.voices, path, sharps=0)
    return path, score


def _run(args, capsys):
    code = main(args)
    return code, capsys.readouterr()


def test_harmonize_a_typed_tune_with_a_fill_run(fill_run, tmp_path, capsys):
    out = tmp_path / "h.mid"
    code, io = _run(["harmonize", "4/4 c'4 d' e' f' g'2^ e'2 d'4 c' d'2 c'1^", "--run-dir", str(fill_run),
                     "--output", str(out), "--seed", "1"], capsys)
    assert code == 0, io.err
    got = read_score(out)
    assert [p for _, _, p in got.voices[0]] == [72, 74, 76, 77, 79, 76, 74, 72, 74, 72]
    assert all(got.voices[v] for v in (1, 2, 3))
    assert got.sharps == 0  # the key signature is in the file
    code, io = _run(["harmonize", "4/4 c'4 d' e' f' g'2^ e'2 d'4 c' d'2 c'1^", "--run-dir", str(fill_run),
                     "--output", str(tmp_path / "h2.mid"), "--seed", "1", "--format", "musicxml"], capsys)
    assert code == 0, io.err
    assert read_score(tmp_path / "h2.musicxml").fermatas == (4.0, 12.0)  # the tune's own, written in the score
    code, io = _run(["harmonize", "4/4 c'4 d' e' f' g'2 e'2 d'4 c' d'2 c'1", "--run-dir", str(fill_run),
                     "--output", str(tmp_path / "h3.mid"), "--seed", "1", "--format", "musicxml"], capsys)
    assert code == 0, io.err
    assert "<fermata" not in (tmp_path / "h3.musicxml").read_text()  # phrase ends found by rule are not notation


@pytest.mark.parametrize("keep", ["bass", "soprano,bass"])
def test_keep_keeps_the_parts_named_note_for_note(fill_run, four_parts, tmp_path, capsys, keep):
    path, score = four_parts
    out = tmp_path / "k.mid"
    code, io = _run(["harmonize", str(path), "--keep", keep, "--run-dir", str(fill_run), "--output", str(out)], capsys)
    assert code == 0, io.err
    got = read_score(out)
    kept = [("soprano", "alto", "tenor", "bass").index(v) for v in keep.split(",")]
    for v in kept:
        assert got.voices[v] == score.voices[v]
    assert all(got.voices[v] for v in range(4))


def test_keep_maps_a_one_part_file_to_the_voice_named(fill_run, tmp_path, capsys):
    from music_lstm.io.midi_write import write_midi

    bass = chorale(4).voices[3]
    src = tmp_path / "bass.mid"
    write_midi(bass, src)
    out = tmp_path / "b.mid"
    code, io = _run(["harmonize", str(src), "--keep", "bass", "--run-dir", str(fill_run), "--output", str(out)], capsys)
    assert code == 0, io.err
    assert read_score(out).voices[3] == bass


@pytest.mark.parametrize("suffix", [".mid", ".musicxml"])
def test_rewrite_keeps_every_note_outside_the_passage(fill_run, tmp_path, capsys, suffix):
    from music_lstm.io.musicxml import write_chorale_musicxml

    score = chorale(5, bars=4)
    src = tmp_path / f"in{suffix}"
    if suffix == ".mid":
        write_voices_midi(score.voices, src, sharps=0)
    else:
        write_chorale_musicxml(score.voices, src, sharps=0)
    before = read_score(src)
    out = tmp_path / "r.mid"
    code, io = _run(["rewrite", str(src), "--bars", "2-3", "--voices", "alto,tenor", "--run-dir", str(fill_run),
                     "--output", str(out), "--num-outputs", "1"], capsys)
    assert code == 0, io.err
    after = read_score(out)
    start, end = before.bar_span(2, 3)
    for v in range(4):
        outside = lambda line: [n for n in line if not (v in (1, 2) and start <= n[0] < end)]  # noqa: E731
        assert outside(after.voices[v]) == outside(before.voices[v])


BAD = [
    (["rewrite", "{src}", "--bars", "2-9"], "not in the piece"),
    (["rewrite", "{src}", "--bars", "3-1"], "first bar comes after"),
    (["rewrite", "{src}", "--bars", "two"], "not a bar range"),
    (["rewrite", "{src}", "--bars", "1-2", "--voices", "alto,viola"], "unknown voice"),
    (["harmonize", "{src}", "--keep", "soprano,alto,tenor,bass"], "nothing to write"),
    (["harmonize", "{src}", "--keep", "descant"], "unknown voice"),
    (["harmonize", "{five}", "--keep", "bass"], "at most four"),
    (["harmonize", "{two}", "--keep", "soprano,alto,bass"], "2 parts but 3 voices"),
]


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a[2:]) + " " + w for a, w in BAD])
def test_bad_steering_input_is_one_line_exit_2_nothing_written(fill_run, four_parts, tmp_path, capsys, args, words):
    path, score = four_parts
    five = tmp_path / "five.mid"
    from music_lstm.io.midi_write import _file_bytes, _track_chunk  # five tracks of notes

    five.write_bytes(_file_bytes([_track_chunk(v, channel=k, program=0, velocity=80, bpm=90 if k == 0 else None)
                                  for k, v in enumerate([*score.voices, score.voices[0]])]))
    two = tmp_path / "two.mid"
    two.write_bytes(_file_bytes([_track_chunk(v, channel=k, program=0, velocity=80, bpm=90 if k == 0 else None)
                                 for k, v in enumerate([score.voices[0], score.voices[3]])]))
    out = tmp_path / "never.mid"
    argv = [a.format(src=path, five=five, two=two) for a in args] + ["--run-dir", str(fill_run), "--output", str(out)]
    code, io = _run(argv, capsys)
    assert code == 2
    assert words in io.err and len(io.err.strip().splitlines()) <= 2 and "Traceback" not in io.err
    assert not out.exists()


def test_the_python_rewrite_keeps_what_is_outside(fill_run, four_parts):
    import music_lstm

    path, score = four_parts
    first = music_lstm.harmonize(str(path), keep="soprano,bass", run_dir=fill_run, seed=2, log=lambda m: None)
    again = music_lstm.rewrite(first, bars=(1, 2), voices="tenor", run_dir=fill_run, seed=3, log=lambda m: None)
    start, end = first.to_score4().bar_span(1, 2)
    assert again.voices[0] == first.voices[0] == score.voices[0] and again.voices[3] == first.voices[3]
    assert again.voices[1] == first.voices[1]
    assert [n for n in again.voices[2] if n[0] >= end] == [n for n in first.voices[2] if n[0] >= end]
    assert again.sharps == 0 and again.time_signature == "4/4"


@pytest.mark.slow
def test_train_fill_trains_on_music21s_chorales_and_the_run_rewrites(tmp_path, capsys):
    import json

    split = tmp_path / "holdout.json"
    split.write_text(json.dumps({"train": [], "validation": ["bwv1.6.mid"]}))
    run = tmp_path / "run"
    code, io = _run(["train-fill", "--holdout", str(split), "--run-dir", str(run), "--limit", "3",
                     "--minutes", "0.01", "--units", "8"], capsys)
    assert code == 0, io.err
    recorded = json.loads((run / "split.json").read_text())
    assert recorded["validation"] == ["bwv1.6"] and "bwv1.6" not in recorded["train"]
    assert json.loads((run / "config.json").read_text())["kind"] == "fill_lstm"
    score = chorale(1)
    src = tmp_path / "c.mid"
    write_voices_midi(score.voices, src, sharps=0)
    code, io = _run(["rewrite", str(src), "--bars", "1", "--voices", "alto", "--run-dir", str(run),
                     "--output", str(tmp_path / "r.mid")], capsys)
    assert code == 0, io.err


@pytest.mark.parametrize("flag, value", [("--transpose", "12"), ("--transpose", "-1"), ("--sparse", "1.5"),
                                         ("--dropout", "1"), ("--minutes", "0")])
def test_a_bad_training_setting_is_one_line_and_nothing_written(flag, value, tmp_path, capsys):
    import json

    split = tmp_path / "holdout.json"
    split.write_text(json.dumps({"train": [], "validation": ["bwv1.6.mid"]}))
    run = tmp_path / "run"
    code, io = _run(["train-fill", "--holdout", str(split), "--run-dir", str(run), flag, value], capsys)
    assert code == 2 and flag.lstrip("-") in io.err and len(io.err.strip().splitlines()) == 1
    assert not run.exists()


def test_a_given_bass_without_fermatas_has_its_phrase_ends_found_by_the_rule_on_the_bass():
    from music_lstm.core.phrases import phrase_ends
    from music_lstm.tasks.steer import keep_score

    bass = [(0.0, 1.0, 48), (1.0, 1.0, 43), (2.0, 2.0, 48), (4.0, 1.0, 45), (5.0, 1.0, 41), (6.0, 1.0, 43),
            (7.0, 1.0, 36)]
    score = keep_score([bass], (3,), "bass.mid")
    assert score.voices[3] == bass and not any(score.voices[:3])
    assert score.fermatas == phrase_ends(bass) and 7.0 in score.fermatas  # the last note ends a phrase
    assert not score.fermatas_written  # found by rule: not written into the files as fermatas
    written = keep_score([bass], (3,), "bass.musicxml", fermatas=(2.0,))
    assert written.fermatas == (2.0,) and written.fermatas_written  # a file's own fermatas win


def test_the_peers_column_reads_its_files_and_refuses_another_tune(tmp_path):
    from music_lstm.core.errors import MelodyError
    from music_lstm.eval.steering import _peer_system

    from dataclasses import replace

    named = replace(chorale(2, bars=2), name="piece")
    write_voices_midi(named.voices, tmp_path / "piece.mid")
    assert [list(v) for v in _peer_system(tmp_path)(named)] == [list(v) for v in named.voices]
    other = [(o, d, p + 1) for o, d, p in named.voices[0]]
    write_voices_midi([other, *named.voices[1:]], tmp_path / "piece.mid")
    with pytest.raises(MelodyError, match="soprano"):
        _peer_system(tmp_path)(named)
