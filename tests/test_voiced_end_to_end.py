"""A tiny voiced run: generate real durations with tempo, instrument, MusicXML and a piano roll, then
evaluate the generated pieces against the run's held-out pieces."""

import json

import numpy as np
import pytest

from music_lstm.io import midi_read
from music_lstm.app.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def voiced_run(tiny_run):
    return tiny_run("voiced")[:2]  # six pieces written at 100 bpm


def test_voiced_run_records_its_encoding_and_a_small_vocabulary(voiced_run):
    _, run = voiced_run
    assert json.loads((run / "config.json").read_text())["encoding"] == "voiced"
    vocab = json.loads((run / "vocab.json").read_text())["symbol_to_index"]
    assert "d1" in vocab and "d1/2" in vocab and any(s.endswith("~") for s in vocab) and len(vocab) < 80


def test_generate_writes_midi_musicxml_and_piano_roll_with_durations_tempo_and_instrument(voiced_run, tmp_path, capsys):
    from music21 import converter, instrument

    _, run = voiced_run
    out = tmp_path / "piece.mid"
    rc = main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "120", "--seed", "3",
               "--bpm", "72", "--instrument", "organ", "--format", "musicxml", "--plot"])
    assert rc == 0
    printed = capsys.readouterr().out
    for suffix in (".mid", ".musicxml", ".png"):
        assert out.with_suffix(suffix).is_file() and str(out.with_suffix(suffix)) in printed
    piece = midi_read.read_midi(out)
    assert piece.bpm == pytest.approx(72, abs=0.5)
    assert len({d for _, d, _ in piece.notes}) > 1  # real durations, not one fixed step
    onsets = sorted({o for o, _, _ in piece.notes})
    assert not np.allclose(np.diff(onsets), 0.5)
    assert converter.parse(str(out)).recurse().getElementsByClass(instrument.Instrument).first().midiProgram == 19
    xml = converter.parse(str(out.with_suffix(".musicxml")))
    assert sorted({p.midi for n in xml.flatten().notes for p in n.pitches}) == sorted({p for _, _, p in piece.notes})
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_tempo_defaults_to_the_training_data(voiced_run, tmp_path):
    _, run = voiced_run
    out = tmp_path / "p.mid"
    assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "60", "--seed", "1"]) == 0
    assert midi_read.read_midi(out).bpm == pytest.approx(100, abs=0.5)


def test_bad_instrument_is_one_line_error(voiced_run, tmp_path, capsys):
    _, run = voiced_run
    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "x.mid"), "--instrument", "kazoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kazoo" in err[0]


def test_evaluate_generated_prints_a_band_table_and_writes_json(voiced_run, tmp_path, capsys):
    data, run = voiced_run
    outs = tmp_path / "gen"
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(outs), "--num-outputs", "3",
                 "--length", "150", "--seed", "2"]) == 0
    files = sorted(str(p) for p in outs.glob("*.mid"))
    (tmp_path / "junk.mid").write_bytes(b"not midi")
    capsys.readouterr()
    js = tmp_path / "metrics.json"
    rc = main(["evaluate", "--run-dir", str(run), "--generated", *files, str(tmp_path / "junk.mid"),
               "--json", str(js)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "Bach 5-95%" in out and "pitch-class entropy" in out and "copy rate" in out and "/3" in out
    assert "junk.mid" in err and "not a MIDI file" in err
    result = json.loads(js.read_text())
    assert set(result["generated"]) == set(files)
    split = json.loads((run / "split.json").read_text())
    assert len(split["validation"]) == 2 and result["crop_onsets"] > 8
    assert set(result["reference"]) == set(result["summary"])


def test_evaluate_without_a_run_is_one_line_error(tmp_path, capsys):
    rc = main(["evaluate", "--run-dir", str(tmp_path / "none"), "--generated", str(tmp_path / "a.mid")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "split.json" in err[0]


def test_seed_with_durations_trains_and_writes_real_durations(voiced_run, tmp_path, capsys, tiny):
    data, _ = voiced_run
    run = tmp_path / "seedrun"
    assert main(["train", "--data-dir", str(data), "--run-dir", str(run), *tiny("--encoding", "seed", "--durations", "--epochs", "1")]) == 0
    assert json.loads((run / "config.json").read_text())["durations"] is True
    out = tmp_path / "s.mid"
    assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "60", "--seed", "0"]) == 0
    assert len({d for _, d, _ in midi_read.read_midi(out).notes}) > 1
    # a chord softmax and a duration softmax (measured better than one softmax over the pairs)
    import numpy as np

    from music_lstm.runs.run_folder import load_run
    from music_lstm.models.stepper import LSTMStepper

    loaded = load_run(run)
    assert loaded.factors is not None and len(loaded.model.outputs) == 2
    assert [o.shape[-1] for o in loaded.model.outputs] == list(loaded.factors.sizes)
    ids = np.asarray(loaded.corpus["train"][0][:40])[None, :]
    out_chord, out_duration = loaded.model(ids)
    want = loaded.factors.joint(np.asarray(out_chord), np.asarray(out_duration))
    got = LSTMStepper.from_keras(loaded.model, loaded.factors).probabilities(ids)
    assert np.allclose(want.sum(axis=-1), 1) and np.abs(got - want).max() <= 1e-4
    assert main(["evaluate", "--run-dir", str(run)]) == 0
    lstm = json.loads((run / "evaluation.json").read_text())["models"]["lstm"]
    assert np.isfinite(lstm["perplexity"]) and lstm["perplexity"] < len(loaded.vocab)
    # a checkpoint with one softmax (as --durations trained before) is refused in one line on --resume
    from music_lstm.models.model import build_model

    build_model(len(loaded.vocab), loaded.config).save(run / "checkpoint.keras")
    assert main(["train", "--resume", "--run-dir", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "checkpoint.keras" in err[-1] and "softmax" in err[-1]


def test_durations_flag_is_refused_for_the_event_encodings(tmp_path, capsys):
    rc = main(["train", "--encoding", "voiced", "--durations", "--run-dir", str(tmp_path / "r")])
    assert rc == 2 and "durations" in capsys.readouterr().err


def test_score_engraves_the_one_staff_musicxml_and_one_instrument_per_voice_is_refused(voiced_run, tmp_path, capsys):
    _, run = voiced_run
    out = tmp_path / "v.mid"
    assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "80", "--seed", "1", "--score"]) == 0
    assert "<svg" in out.with_suffix(".svg").read_text()[:500] and out.with_suffix(".musicxml").is_file()
    assert midi_read.read_midi(out).voices is None  # one track, as before
    capsys.readouterr()
    rc = main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "w.mid"), "--instrument", "choir,choir,strings,organ"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "one per voice needs a four-voice encoding; the run's is voiced" in err[0]
