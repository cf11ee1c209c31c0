"""The run folders that ship with the package: small enough, loadable, and what generate and harmonize
use without --run-dir when there is no runs/latest (saying so in one line)."""

from pathlib import Path

import pytest

from music_lstm.io import melody_input
from music_lstm.io import midi_read
from music_lstm.runs import run_folder
from music_lstm.app.cli import main

TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
TUNE_NOTES = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76),
              (8.0, 4.0, 72)]


def test_the_shipped_run_folders_hold_what_they_need_and_fit_in_20_mb():
    from music_lstm.runs.fill_run import SHIPPED_FILL_FILES, read_fill_config

    total = 0
    for name, files in (("compose", run_folder.SHIPPED_FILES), ("harmonize", SHIPPED_FILL_FILES),
                        ("harmonize_lstm", run_folder.SHIPPED_FILES)):
        folder = run_folder.SHIPPED / name
        assert sorted(p.name for p in folder.iterdir() if p.name != run_folder.SAMPLING) == sorted(files), name
        total += sum(p.stat().st_size for p in folder.iterdir())
    assert total <= 20 * 2**20
    assert read_fill_config(run_folder.SHIPPED / "harmonize").kind == "fill_lstm"  # the harmonizer that steers
    assert run_folder.read_config(run_folder.SHIPPED / "harmonize_lstm" / run_folder.CONFIG).melody_context
    compose = run_folder.read_config(run_folder.SHIPPED / "compose" / run_folder.CONFIG)
    assert not compose.melody_context and compose.common_key  # the longer four-voice tier, in one key
    assert run_folder.read_sampling(run_folder.SHIPPED / "compose") == {"temperature": 0.8, "rhythm_temperature": 1.2, "rhythm_top_p": 0.9}  # as measured (BENCHMARKS.md)


def test_resolve_run_takes_the_given_folder_then_runs_latest_then_the_shipped_one(tmp_path, monkeypatch):
    said = []
    monkeypatch.chdir(tmp_path)
    assert run_folder.resolve_run("mine", "compose", said.append) == Path("mine") and said == []
    assert run_folder.resolve_run(None, "harmonize", said.append) == run_folder.SHIPPED / "harmonize"
    assert len(said) == 1 and "shipped" in said[0]
    (tmp_path / "runs" / "latest").mkdir(parents=True)
    assert run_folder.resolve_run(None, "compose", said.append) == run_folder.LATEST
    assert len(said) == 2 and "runs/latest" in said[1]
    with pytest.raises(ValueError):
        run_folder.resolve_run(None, "sing")


@pytest.mark.slow
def test_a_fresh_install_harmonizes_a_typed_tune_with_the_shipped_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no runs/ here
    assert main(["harmonize", TUNE, "--output", "h.mid"]) == 0
    captured = capsys.readouterr()
    assert "shipped" in captured.err.splitlines()[0]
    piece = midi_read.read_midi(tmp_path / "h.mid")
    assert piece.voices is not None and piece.voices[0] == TUNE_NOTES and all(piece.voices[1:])
    # a tune in 3/4, asked for as a score: the MIDI beside it, the score barred in 3/4, in the tune's key
    waltz = "tinyNotation: 3/4 g4 g a f#4. g8 a4 b b c' b4. a8 g4 a g f# g2."
    assert main(["harmonize", waltz, "--format", "musicxml", "--output", "w.musicxml"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["wrote w.mid", "wrote w.musicxml"] and "G major" in captured.err
    assert melody_input.melody_time_signature(tmp_path / "w.musicxml") == "3/4"
    assert melody_input.read_melody(tmp_path / "w.musicxml")[0] == melody_input.read_melody(waltz)[0]


@pytest.mark.slow
def test_a_fresh_install_generates_four_parts_with_the_shipped_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--output", "g.mid", "--length", "60"]) == 0
    assert "shipped" in capsys.readouterr().err.splitlines()[0]
    piece = midi_read.read_midi(tmp_path / "g.mid")
    assert piece.voices is not None and all(piece.voices)


def _chord_at(voices, t):
    return [p for v in voices for o, d, p in v if o <= t < o + d]


def test_a_composed_ending_is_a_cadence_on_the_tonic_and_keeps_what_comes_before(tmp_path):
    """`cadence_ending` with the shipped harmonizer: four bars of C major cut to whole bars, the music
    before the last two bars kept note for note, the last chord a root-position C major triad on beat 3
    of the last bar, to the end in every voice, reached from G in root position (V, a seventh allowed) a beat before."""
    import numpy as np

    from music_lstm.core.ranges import BACH_RANGES
    from music_lstm.tasks.fill import FillWriter
    from music_lstm.tasks.steer import cadence_ending

    chords = [(72, 67, 64, 48), (74, 67, 65, 47), (72, 69, 64, 45), (71, 67, 62, 43)] * 4  # I V6 vi V, a beat each
    voices = [[(float(k), 1.0, c[v]) for k, c in enumerate(chords)] + [(16.0, 1.5, chords[0][v])] for v in range(4)]
    writer = FillWriter.from_run(run_folder.SHIPPED / "harmonize")
    for seed in (1, 2, 3):
        ending = cadence_ending(writer, voices, 0.0, seed=seed)
        assert (ending.sharps, ending.mode, ending.fermatas, ending.fermatas_written) == (0, "major", (14.0,), True)
        out = ending.voices
        for v in range(4):
            assert [n for n in out[v] if n[0] < 8.0] == voices[v][:8]  # bars 1 and 2 as they were
            ending = [n for n in out[v] if n[0] >= 8.0]  # every voice sings through the ending, no rest
            assert ending[0][0] == 8.0 and all(a[0] + a[1] == b[0] for a, b in zip(ending, ending[1:]))
            o, d, _ = out[v][-1]  # the last chord from beat 3 of bar 4 to the end (a voice may hold into it)
            assert o <= 14.0 and o + d == 16.0  # the piece cut to whole bars
        last = _chord_at(out, 14.0)
        assert min(last) % 12 == 0 and {p % 12 for p in last} <= {0, 4, 7} and 4 in {p % 12 for p in last}
        before = _chord_at(out, 13.0)
        assert {p % 12 for p in before} <= {7, 11, 2, 5} and 11 in {p % 12 for p in before}  # G's chord with its B
        assert min(before) % 12 == 7  # in root position: V-I
        for v, (lo, hi) in enumerate(BACH_RANGES):  # no voice of the ending beyond Bach's range
            assert all(lo <= p <= hi for o, _, p in out[v] if o >= 8.0)


def test_a_piece_too_short_for_an_ending_is_a_melody_error():
    from music_lstm.core.errors import MelodyError
    from music_lstm.tasks.fill import FillWriter
    from music_lstm.tasks.steer import cadence_ending

    voices = [[(0.0, 4.0, p), (4.0, 4.0, p)] for p in (72, 67, 64, 48)]
    with pytest.raises(MelodyError, match="too short"):
        cadence_ending(FillWriter.from_run(run_folder.SHIPPED / "harmonize"), voices, 0.0, seed=1)


@pytest.mark.slow
def test_generate_with_cadence_ends_each_piece_on_a_half_note_chord(tmp_path, capsys):
    assert main(["generate", "--run-dir", str(run_folder.SHIPPED / "compose"), "--output", str(tmp_path / "g.mid"),
                 "--length", "300", "--num-outputs", "2", "--seed", "3", "--cadence"]) == 0
    for name in ("g_1.mid", "g_2.mid"):
        piece = midi_read.read_midi(tmp_path / name)
        ends = {max(o + d for o, d, _ in v) for v in piece.voices}
        end = next(iter(ends))
        assert len(ends) == 1 and all(v[-1][0] <= end - 2.0 for v in piece.voices)  # a half-note chord ends it
        assert max(v[-1][0] for v in piece.voices) == end - 2.0  # struck on beat 3 of the last bar


def test_generate_with_cadence_on_a_run_of_one_line_is_one_line_and_exit_2(tmp_path, capsys):
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_folder.SHIPPED / "compose", run)
    config = json.loads((run / "config.json").read_text())
    config["encoding"] = "chords"
    (run / "config.json").write_text(json.dumps(config))
    code = main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "g.mid"), "--cadence"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "--cadence" in err[-1] and not (tmp_path / "g.mid").exists()


@pytest.mark.slow
def test_generate_with_cadence_writes_the_key_it_closes_in_and_the_last_fermata(tmp_path, capsys):
    from music21 import converter

    from music_lstm.io.chorale_scores import score_of

    assert main(["generate", "--run-dir", str(run_folder.SHIPPED / "compose"), "--output", str(tmp_path / "g.mid"),
                 "--length", "300", "--seed", "3", "--cadence", "--format", "musicxml"]) == 0
    score = score_of(converter.parse(str(tmp_path / "g.musicxml")))
    assert score.fermatas_written and score.fermatas == (max(o for o, _, _ in score.voices[0]),)
    assert score.voices[3][-1][2] % 12 == score.tonic  # the key signature is the one the last chord closes in
