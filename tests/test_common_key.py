"""`train --common-key`: every piece learned in C major's key signature, music written back in its own key."""

import json

import numpy as np
import pytest
from midi_bytes import SHIFTS  # the training pieces' keys

from music_lstm.io import midi_read
from music_lstm.io import midi_write
from music_lstm.app.cli import main
from music_lstm.core.keys import key_shift
from music_lstm.core.events import Piece

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


def scale(tonic: int, octave: int = 60) -> list:
    return [(float(k), 1.0, octave + tonic + s) for k, s in enumerate([0, 2, 4, 5, 7, 9, 11, 12])]


@pytest.mark.parametrize("tonic, shift", [(0, 0), (2, -2), (7, 5), (5, -5), (10, 2), (6, -6), (11, 1)])
def test_key_shift_moves_the_major_scale_that_holds_the_piece_onto_c(tonic, shift):
    assert key_shift(Piece(scale(tonic))) == shift
    moved = {(p + shift) % 12 for _, _, p in scale(tonic)}
    assert moved == C_MAJOR


def test_key_shift_weighs_notes_by_how_long_they_sound():
    a_minor = [(0, 4.0, 57), (4, 2.0, 60), (6, 2.0, 64), (8, 1.0, 68), (9, 4.0, 69)]  # A minor with its G#
    assert key_shift(Piece(a_minor)) == 0
    d_major = scale(2)
    assert key_shift(Piece(d_major + [(8.0, 0.5, 65)])) == -2  # a passing F natural in D major
    assert key_shift(Piece(d_major + [(8.0, 20.0, 65)])) != -2  # an F held longer than the rest together


@pytest.fixture
def common_run(tiny_run):
    """The session's satb run: trained in one key, the default (`--common-key`)."""
    return tiny_run("satb")[:2]


def _in_key(pitches, shift) -> bool:
    return {(p - shift) % 12 for p in pitches} <= C_MAJOR | {1}  # the fixture's one chromatic note, C#


@pytest.mark.slow
def test_a_common_key_run_learns_every_piece_in_c_and_records_each_shift(common_run):
    from music_lstm.runs import run_folder

    data, run = common_run
    assert json.loads((run / "config.json").read_text())["common_key"] is True
    split = json.loads((run / "split.json").read_text())
    corpus = run_folder.load_corpus(run / run_folder.CORPUS)
    for part, listed in (("train", "train"), ("val", "validation")):
        want = [(-SHIFTS[int(n[len("piece"):-len(".mid")])] + 6) % 12 - 6 for n in split[listed]]
        assert corpus[f"{part}_shifts"].tolist() == want
    pitches = [s for s in json.loads((run / "vocab.json").read_text())["symbol_to_index"] if s[0] in "ABCDEFG"]
    assert pitches and all(_in_key([midi_io_pitch(s)], 0) for s in pitches)  # held out too: C's notes only


def midi_io_pitch(symbol: str) -> int:
    from music_lstm.core.pitches import parse_pitch_name

    return parse_pitch_name(symbol.rstrip("~"))


@pytest.mark.slow
def test_generated_music_goes_back_to_the_key_its_prompt_came_from(common_run, tmp_path):
    _, run = common_run
    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "g.mid"), "--num-outputs", "6",
                 "--length", "120", "--seed", "3"]) == 0
    keys = []
    for k in range(1, 7):
        notes = midi_read.read_midi(tmp_path / f"g_{k}.mid").notes
        found = [s for s in set(SHIFTS) if _in_key([p for _, _, p in notes], s)]
        assert found, f"g_{k}.mid is in none of the training keys"
        keys.append(found[0])
    assert len(set(keys)) > 1  # not all in C: each in its prompt's key


@pytest.mark.slow
def test_a_common_key_run_harmonizes_a_tune_in_its_own_key(common_run, tmp_path):
    _, run = common_run
    tune = [(0.0, 1.0, 74), (1.0, 1.0, 76), (2.0, 1.0, 78), (3.0, 1.0, 74)]  # D E F# D: D major
    path = tmp_path / "tune.mid"
    midi_write.write_midi(tune, path)
    out = tmp_path / "h.mid"
    assert main(["harmonize", str(path), "--run-dir", str(run), "--output", str(out), "--seed", "1"]) == 0
    voices = midi_read.read_midi(out).voices
    assert [p for _, _, p in voices[0]] == [74, 76, 78, 74]  # the tune as it was given
    assert _in_key([p for v in voices[1:] for _, _, p in v], 2)  # the lower voices in D, not in C
    assert np.mean([p for _, _, p in voices[3]]) < 62


def test_common_key_is_on_for_midi_folders_and_never_for_jsb_frames(tmp_path):
    from music_lstm.runs.config import Config

    assert Config().common_key and not Config(common_key=False).common_key
    assert not Config(jsb="x.json").common_key  # JSB frames are learned in the file's keys
    assert main(["train", "--jsb", "x.json", "--common-key", "--run-dir", str(tmp_path / "r")]) == 2


def test_a_run_saved_before_common_key_existed_keeps_its_keys():
    from pathlib import Path

    import music_lstm
    from music_lstm.runs.config import Config
    from music_lstm.runs.run_folder import load_run

    old = {k: v for k, v in Config().__dict__.items() if k != "common_key"}
    assert Config.from_dict(old).common_key is False and Config.from_dict({**old, "common_key": True}).common_key
    assert load_run(Path(music_lstm.__file__).parent / "shipped" / "harmonize_lstm").config.common_key is False  # made before the option
