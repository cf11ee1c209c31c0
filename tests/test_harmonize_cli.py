"""`python -m music_lstm harmonize` and `evaluate --harmonize`: each flag reaches `harmonize_files`, a
bad melody is one line with exit 2 and no file, and a tiny satb run
harmonizes a typed tune (its soprano the tune exactly) and evaluates on its held-out chorales."""

import dataclasses
import json
import shutil

import midi_bytes
import pytest

from music_lstm.io import melody_input
from music_lstm.io import midi_read
from music_lstm.app.cli import main

TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
TUNE_NOTES = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76),
              (8.0, 4.0, 72)]


# --- the wiring, with a stand-in for the work -----------------------------------------------------------

@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Run `harmonize` from the command line with a stand-in that records what it was given: the
    left-to-right harmonizer's wiring (a runs/latest that is not a fill_lstm run)."""
    from music_lstm.tasks import harmonize

    (tmp_path / "runs" / "latest").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    seen = []

    def fake(run_dir, source, output, outputs, **kw):  # the output options one `Outputs`, its fields one by one
        seen.append({"run_dir": run_dir, "source": source, "output": output, **kw, **dataclasses.asdict(outputs)})
        return [output]

    monkeypatch.setattr(harmonize, "harmonize_files", fake)
    return seen


FLAGS = [  # flag, value, what it must change
    ("--run-dir", "runs/other", lambda c: c["run_dir"] == "runs/other"),
    ("--output", "x.mid", lambda c: c["output"] == "x.mid"),
    ("--num-outputs", "3", lambda c: c["num_outputs"] == 3),
    ("--best-of", "4", lambda c: c["best_of"] == 4),
    ("--seed", "7", lambda c: c["seed"] == 7),
    ("--temperature", "0.9", lambda c: c["temperature"] == 0.9),
    ("--format", "musicxml", lambda c: c["fmt"] == "musicxml"),
    ("--plot", None, lambda c: c["plot"] is True),
    ("--audio", None, lambda c: c["audio"] is True),
    ("--audio-format", "flac", lambda c: c["audio_format"] == "flac"),
    ("--soundfont", "gm.sf2", lambda c: c["soundfont"] == "gm.sf2"),
    ("--score", None, lambda c: c["score"] is True),
    ("--instrument", "choir,choir,strings,organ", lambda c: c["instrument"] == "choir,choir,strings,organ"),
    ("--bpm", "120", lambda c: c["bpm"] == 120.0),
    ("--beam", "4", lambda c: c["beam"] == 4),
]


def test_every_harmonize_flag_changes_what_harmonize_files_is_given(calls, capsys):
    assert main(["harmonize", TUNE]) == 0
    default = calls[-1]
    assert default["source"] == TUNE and default["output"] == "harmonized.mid"
    assert default["run_dir"] is None  # harmonize_files resolves it: runs/latest, else the shipped model
    assert capsys.readouterr().out == "wrote harmonized.mid\n"
    for flag, value, changed in FLAGS:
        assert main(["harmonize", TUNE, flag] + ([value] if value is not None else [])) == 0
        assert changed(calls[-1]), flag
        assert not changed(default), f"{flag} is already the default"


# --- bad melodies: one line, exit 2, nothing written (the melody is read before the run folder) ----------

def _bad(tmp_path, capsys, source, *words):
    out = tmp_path / "h.mid"
    assert main(["harmonize", str(source), "--run-dir", str(tmp_path / "no_run"), "--output", str(out),
                 "--format", "musicxml", "--plot"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("music_lstm: error: "), captured.err
    for w in words:
        assert w in lines[0], lines[0]
    assert captured.out == "" and list(tmp_path.glob("h*")) == []


def test_empty_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty.mid").write_bytes(b"")
    _bad(tmp_path, capsys, tmp_path / "empty.mid", "empty.mid", "empty")


def test_no_notes_is_one_line_and_writes_nothing(tmp_path, capsys):
    _bad(tmp_path, capsys, "tinyNotation: 4/4 r1 r1", "no notes")
    path = midi_bytes.write(tmp_path / "silent.mid", [midi_bytes.track_bytes([])])
    _bad(tmp_path, capsys, path, "silent.mid")


def test_chords_only_is_one_line_and_writes_nothing(tmp_path, capsys):
    chords = [(t, 1, p) for t in range(4) for p in (60, 64, 67)]
    path = midi_bytes.write(tmp_path / "chords.mid", [midi_bytes.track_bytes(chords)])
    _bad(tmp_path, capsys, path, "chords.mid", "chords only")


def test_ten_thousand_notes_is_one_line_and_writes_nothing(tmp_path, capsys):
    _bad(tmp_path, capsys, "tinyNotation: 4/4 " + "c'16 " * 10_000, "too long", "10000 notes")


def test_bad_settings_are_one_line_before_the_melody_is_read(tmp_path, capsys):
    for flag, value in (("--num-outputs", "0"), ("--best-of", "0"), ("--temperature", "-1"),
                        ("--instrument", "kazoo9"), ("--beam", "-1")):
        assert main(["harmonize", TUNE, "--run-dir", str(tmp_path / "no_run"), flag, value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and (flag.lstrip("-").replace("-", "_") in err[0] or "instrument" in err[0]), err


def test_evaluate_harmonize_and_generated_together_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--run-dir", str(tmp_path / "no_run"), "--harmonize", "--generated", "x.mid"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--harmonize and --generated" in err[0]


def test_evaluate_harmonize_without_a_run_is_one_line_naming_it(tmp_path, capsys):
    assert main(["evaluate", "--run-dir", str(tmp_path / "no_run"), "--harmonize"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / "no_run") in err[0] and "split.json" in err[0]


# --- a tiny satb run --------------------------------------------------------------------------------------

@pytest.fixture
def satb_run(tiny_run):
    """The session's tiny satb run that sees its pieces in every key: its held-out pieces and a typed tune
    in C are within its pitches, held notes and lengths."""
    return tiny_run("satb_all_keys")[:2]


@pytest.mark.slow
def test_cli_harmonize_writes_four_tracks_whose_soprano_is_the_tune(satb_run, tmp_path, capsys):
    _, run = satb_run
    capsys.readouterr()
    out = tmp_path / "h.mid"
    assert main(["harmonize", TUNE, "--run-dir", str(run), "--output", str(out), "--num-outputs", "2",
                 "--best-of", "2", "--format", "musicxml", "--plot", "--instrument", "choir"]) == 0
    captured = capsys.readouterr()
    written = [tmp_path / n for n in ("h_1.mid", "h_2.mid", "h_1.musicxml", "h_1.png", "h_2.musicxml", "h_2.png")]
    assert captured.out.splitlines() == [f"wrote {p}" for p in written]
    assert all(p.stat().st_size > 0 for p in written)
    assert captured.err.strip().splitlines() == [  # a compose run says what it cannot hear
        f"harmonizing 7 notes in C major with the run folder {run} (a run trained to compose: it reads the tune "
        "only up to the chord it writes; train --melody-context for one that reads the whole tune)"]
    for p in written[:2]:
        piece = midi_read.read_midi(p)
        assert piece.voices is not None and len(piece.voices) == 4
        assert piece.voices[0] == TUNE_NOTES
        assert all(piece.voices[1:])
    assert melody_input.read_melody(written[2])[0] == TUNE_NOTES  # the score's soprano part, read back


@pytest.mark.slow
def test_cli_harmonize_says_when_it_moved_the_tune_and_is_reproducible(satb_run, tmp_path, capsys):
    _, run = satb_run
    high = "tinyNotation: 4/4 c''4 d'' e'' f'' g''2 e''2 c''1"  # TUNE an octave up, above a soprano's reach
    for name in ("a.mid", "b.mid"):
        assert main(["harmonize", high, "--run-dir", str(run), "--output", str(tmp_path / name), "--seed", "4"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "moved down 1 octave" in err[0] and "run folder" in err[1] and len(err) == 4
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    assert midi_read.read_midi(tmp_path / "a.mid").voices[0] == TUNE_NOTES


@pytest.mark.slow
def test_a_run_of_another_encoding_is_one_line_naming_satb(satb_run, tmp_path, capsys):
    _, run = satb_run
    other = tmp_path / "run"
    shutil.copytree(run, other)
    config = json.loads((other / "config.json").read_text())
    config["encoding"] = "voiced"
    (other / "config.json").write_text(json.dumps(config))
    for argv in (["harmonize", TUNE, "--output", str(tmp_path / "h.mid")], ["evaluate", "--harmonize"]):
        assert main([*argv[:1], "--run-dir", str(other), *argv[1:]]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert "--encoding satb" in err[-1] and str(other) in err[-1]
    assert not (tmp_path / "h.mid").exists()


@pytest.mark.slow
def test_evaluate_harmonize_prints_the_table_with_lstm_and_hmm_rows(satb_run, tmp_path, capsys):
    _, run = satb_run
    capsys.readouterr()
    report = tmp_path / "harmonizer.json"
    assert main(["evaluate", "--run-dir", str(run), "--harmonize", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "LSTM, soprano forced" in header and "HMM, chord per beat" in header and "Bach" in header
    assert "bits per quarter note" in out and out.strip().endswith(f"wrote {report}")
    saved = json.loads(report.read_text())
    validation = json.loads((run / "split.json").read_text())["validation"]
    assert saved["pieces"] + len(saved["skipped"]) == len(validation) and saved["pieces"] >= 1
    assert saved["rows"]["Bach"]["nll"] is None and saved["rows"]["HMM, chord per beat"]["nll"] > 0
    assert 0 <= saved["rows"]["LSTM, soprano forced"]["chord"] <= 1


def test_the_melody_gives_the_scores_time_signature_and_its_key_by_its_last_note():
    from music_lstm.io.melody_input import melody_key, melody_time_signature, read_melody

    tune = "tinyNotation: 3/4 g4 g a f#4. g8 a4 b b c' b4. a8 g4 a g f# g2."
    assert melody_time_signature(tune) == "3/4" and melody_time_signature("tinyNotation: c4 d e") == "4/4"
    # music21's analysis of this tune says E minor (it leans on F#); it ends on G, the relative major's tonic
    assert melody_key(read_melody(tune)[0]) == "G major"


def test_an_output_named_as_a_score_writes_the_midi_beside_it():
    from pathlib import Path

    from music_lstm.tasks.outfiles import output_paths

    assert output_paths("tune.musicxml", 1) == [Path("tune.mid")]
    assert output_paths("out/tune.xml", 2) == [Path("out/tune_1.mid"), Path("out/tune_2.mid")]
    assert output_paths("tune.mid", 1) == [Path("tune.mid")]
