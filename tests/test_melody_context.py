"""The harmonizing network that reads the whole melody (melody_context.py): its frames, its windows,
its stepper against the Keras model, a tiny trained run harmonizing a tune exactly, and the n-gram
harmonizer it is measured against."""

import numpy as np
import pytest

from music_lstm.models import melody_context
from music_lstm.training import melody_windows
from music_lstm.runs.config import Config
from music_lstm.encodings.satb import encode_satb
from music_lstm.core.errors import ConfigError

# Soprano C5 D5 E5 (a half note); alto moves in eighths under the D; tenor holds over the barline.
VOICES = [[(0, 1, 72), (1, 1, 74), (2, 2, 76)],
          [(0, 1, 67), (1, 0.5, 65), (1.5, 0.5, 67), (2, 2, 67)],
          [(0, 2, 64), (2, 2, 60)],
          [(0, 1, 48), (1, 1, 47), (2, 2, 48)]]


def test_frames_are_the_soprano_per_eighth_struck_where_a_note_begins():
    f = melody_context.frame_symbols(VOICES[0])
    c5, d5, e5 = (2 + 2 * p for p in (72, 74, 76))
    assert f.tolist() == [c5 + 1, c5, d5 + 1, d5, e5 + 1, e5, e5, e5]
    # a rest, and a note starting on the second sixteenth of a frame
    f = melody_context.frame_symbols([(0, 0.5, 60), (1.25, 0.75, 62)])
    assert f.tolist() == [2 + 2 * 60 + 1, melody_context.REST, 2 + 2 * 62 + 1, 2 + 2 * 62]


def test_frames_read_from_a_stream_equal_frames_from_its_soprano_notes():
    symbols = encode_satb(VOICES)
    soprano, starts = melody_context.stream_soprano(symbols)
    assert soprano == [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 2.0, 76)]
    assert starts.tolist() == [0, 1, 1.5, 2, 4]
    frames, at = melody_context.piece_inputs(symbols)
    assert frames.tolist() == melody_context.frame_symbols(VOICES[0]).tolist()
    # each input position points at the frame where the symbol it predicts begins: the first group's
    # slots at 0, the second group's (from the first group's length on) at frame 2 (time 1)
    assert at[:4].tolist() == [0, 0, 0, 0] and at[4:9].tolist() == [2] * 5 and at[9:14].tolist() == [3] * 5
    assert at.max() == len(frames) - 1  # the last length points past the end: clipped


def test_windows_carry_the_melody_from_their_first_prediction_in_the_order_dataset_cuts_them():
    from music_lstm.training.dataset import windows

    streams = [encode_satb(VOICES)] * 2
    x, _, _ = windows([np.arange(1, len(s) + 1) for s in streams], 8)
    frames, at = melody_windows.windows(streams, 8)
    assert frames.shape == (len(x), melody_context.WINDOW_FRAMES) and at.shape == (len(x), 8)
    whole, positions = melody_context.piece_inputs(streams[0])
    starts = [0, 4, 8, 11]  # dataset._starts(20, 8)
    for row, s in enumerate(starts):
        first = positions[s]
        assert frames[row, :len(whole) - first].tolist() == whole[first:].tolist()
        assert (frames[row, len(whole) - first:] == melody_context.PAD).all()
        assert (frames[row, at[row]] == whole[positions[s:s + 8]]).all()


def test_melody_context_needs_the_satb_encoding():
    with pytest.raises(ConfigError, match="melody_context"):
        Config(encoding="voiced", melody_context=True)


def test_the_stepper_gives_the_models_probabilities_and_the_saved_model_loads_without_the_package(tmp_path):
    import keras

    from music_lstm.models import factory
    from music_lstm.models.lstm import builtin_copy

    model = melody_context.build_model(30, Config(units=16, embed_dim=8, melody_context=True))
    symbols = encode_satb(VOICES)
    frames, at = melody_context.piece_inputs(symbols)
    ids = np.random.default_rng(0).integers(1, 30, (1, len(symbols)))
    expected = np.asarray(model([ids, frames[None], at[None]]))
    builtin_copy(model).save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    stepper = factory.stepper("melody_lstm", loaded)  # the kind a run folder records
    assert isinstance(stepper, melody_context.MelodyStepper)
    stepper.set_melody(frames)
    stepper.reset(1)
    got = np.stack([stepper.step(ids[:, t], at[None, t]) for t in range(ids.shape[1])], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(stepper.probabilities(ids, frames, at), expected, atol=1e-5)
    # the melody matters: another melody gives other probabilities
    stepper.set_melody(frames[::-1].copy())
    stepper.reset(1)
    other = np.stack([stepper.step(ids[:, t], at[None, t]) for t in range(ids.shape[1])], axis=1)
    assert np.abs(other - expected).max() > 1e-6  # an untrained network: near-uniform, but not the same


def test_the_ngram_stepper_gives_the_ngram_distribution_after_each_id():
    from music_lstm.models.ngram import KneserNey, NgramStepper

    kn = KneserNey(3, 6).fit([np.array([1, 2, 3, 1, 2, 4, 5])])
    stepper = NgramStepper(kn)
    seq = np.array([[1, 2, 3], [2, 4, 5]])
    probs = stepper.probabilities(seq)
    assert probs.shape == (2, 3, 6)
    np.testing.assert_allclose(probs[0, 1], kn.probs([1, 2]))
    np.testing.assert_allclose(probs[1, 2], kn.probs([2, 4, 5]))
    np.testing.assert_allclose(probs.sum(-1), 1.0)


TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
TUNE_NOTES = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76),
              (8.0, 4.0, 72)]


@pytest.fixture
def melody_run(tiny_run):
    return tiny_run("melody")[:2]


@pytest.mark.slow
def test_a_melody_run_harmonizes_a_tune_exactly_and_evaluates_against_the_baselines(melody_run, tmp_path, capsys):
    import json

    from music_lstm.io import midi_read
    from music_lstm.app.cli import main

    _, run = melody_run
    out = tmp_path / "h.mid"
    assert main(["harmonize", TUNE, "--run-dir", str(run), "--output", str(out), "--best-of", "2"]) == 0
    piece = midi_read.read_midi(out)
    assert piece.voices[0] == TUNE_NOTES and all(piece.voices[1:])
    assert "trained to compose" not in capsys.readouterr().err  # a melody run reads the whole tune
    report = tmp_path / "r.json"
    assert main(["evaluate", "--run-dir", str(run), "--harmonize", "--json", str(report), "--against", str(run),
                 "--temperature", "0"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "LSTM, whole melody" in header and "KN 6-gram, soprano forced" in header and "HMM" in header
    rows = json.loads(report.read_text())["rows"]
    assert rows["LSTM, whole melody"]["nll"] > 0 and rows["KN 6-gram, soprano forced"]["nll"] > 0
    # the same run again, --against: its own column, the same figures (argmax: no sampling noise)
    assert rows[f"LSTM, whole melody ({run})"] == rows["LSTM, whole melody"]
    # such a run does not compose, and says so in one line
    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "g.mid")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--melody-context" in err[0] and not (tmp_path / "g.mid").exists()
