"""Harmonizing a melody: reading it (MIDI, MusicXML, tinyNotation) and refusing bad ones, the HMM
baseline on a hand-made corpus, and the forced-soprano LSTM keeping the melody exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

import midi_bytes
from music_lstm.io import melody_input
from music_lstm.io import midi_read
from music_lstm.io import musicxml
from music_lstm.encodings.satb import encode_satb
from music_lstm.core.errors import MelodyError, MusicLSTMError
from music_lstm.models.hmm_harmonizer import HMMHarmonizer, chord_states, beats, state_parts
from music_lstm.core.vocab import Vocab

TUNE = "tinyNotation: 4/4 c'4 d'8 e' f'4 g' a'2 g'4. f'8 e'4 r4 d'2 c'2"
TUNE_NOTES = [(0.0, 1.0, 72), (1.0, 0.5, 74), (1.5, 0.5, 76), (2.0, 1.0, 77), (3.0, 1.0, 79), (4.0, 2.0, 81),
              (6.0, 1.5, 79), (7.5, 0.5, 77), (8.0, 1.0, 76), (10.0, 2.0, 74), (12.0, 2.0, 72)]


# --- reading a melody --------------------------------------------------------------------------------

def test_tinynotation_melody_reads_note_for_note():
    notes, message = melody_input.read_melody(TUNE)
    assert notes == TUNE_NOTES
    assert message is None


def test_midi_melody_reads_note_for_note(tmp_path):
    path = midi_bytes.write(tmp_path / "tune.mid", [midi_bytes.track_bytes(TUNE_NOTES)])
    notes, message = melody_input.read_melody(path)
    assert notes == TUNE_NOTES and message is None


def test_musicxml_melody_reads_note_for_note(tmp_path):
    path = tmp_path / "tune.musicxml"
    musicxml.write_musicxml(TUNE_NOTES, path)
    notes, message = melody_input.read_melody(path)
    assert notes == TUNE_NOTES and message is None


def test_polyphonic_file_gives_its_top_line_and_says_so(tmp_path):
    melody = [(0, 2, 76), (2, 1, 74), (3, 1, 72)]
    inner = [(0, 1, 60), (1, 1, 62), (2, 2, 55)]  # struck under the held E5 at beat 1: an inner voice
    path = midi_bytes.write(tmp_path / "two.mid", [midi_bytes.track_bytes(melody + inner)])
    notes, message = melody_input.read_melody(path)
    assert notes == [(0.0, 2.0, 76), (2.0, 1.0, 74), (3.0, 1.0, 72)]
    assert "top line" in message and "\n" not in message


def test_four_voice_file_gives_its_soprano(tmp_path):
    path = midi_bytes.chorale(tmp_path / "c.mid", bars=2)
    piece = midi_read.read_midi(path)
    notes, message = melody_input.read_melody(path)
    assert notes == list(piece.voices[0])
    assert "soprano" in message


def test_low_melody_is_moved_up_by_octaves_and_says_so():
    notes, message = melody_input.read_melody("tinyNotation: 4/4 C4 D E F")
    assert [p for _, _, p in notes] == [60, 62, 64, 65]  # C3 D3 E3 F3 moved up one octave
    assert "moved up 1 octave" in message


def _one_line_error(source, *words):
    with pytest.raises(MelodyError) as info:
        melody_input.read_melody(source)
    text = str(info.value)
    assert "\n" not in text and isinstance(info.value, MusicLSTMError)
    for w in words:
        assert w in text, text
    return text


def test_empty_file_is_one_line_error(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    _one_line_error(tmp_path / "empty.mid", "empty.mid", "empty")


def test_unreadable_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    _one_line_error(tmp_path / "junk.mid", "junk.mid")
    (tmp_path / "junk.xml").write_text("<score-partwise><part")
    _one_line_error(tmp_path / "junk.xml", "junk.xml", "MusicXML")
    (tmp_path / "notes.txt").write_text("hello")
    _one_line_error(tmp_path / "notes.txt", "notes.txt", "neither a MIDI nor a MusicXML")
    _one_line_error(tmp_path / "missing.mid", "missing.mid", "no such file")


def test_no_notes_is_one_line_error():
    _one_line_error("tinyNotation: 4/4 r1 r1", "no notes")


def test_bad_tinynotation_token_is_named():
    _one_line_error("tinyNotation: 4/4 c'4 zz d'4", "'zz'")


def test_chords_only_is_refused(tmp_path):
    chords = [(t, 1, p) for t in range(4) for p in (60, 64, 67)]
    path = midi_bytes.write(tmp_path / "chords.mid", [midi_bytes.track_bytes(chords)])
    _one_line_error(path, "chords.mid", "chords only")


def test_melody_out_of_reach_in_every_octave_is_refused():
    _one_line_error("tinyNotation: 4/4 C4 c''4", "outside a soprano's reach")


def test_absurdly_long_melody_is_refused():
    _one_line_error("tinyNotation: 4/4 " + "c'8 " * 2001, "too long")
    _one_line_error("tinyNotation: 4/4 " + "c'1 " * 251, "too long")


# --- the HMM baseline ------------------------------------------------------------------------------

C_MAJOR = (72, 67, 64, 48)  # soprano C5 over a C major chord, bass C3
G_MAJOR = (74, 67, 59, 43)  # soprano D5 over a G major chord (G4 B3), bass G2


def _corpus_piece(chords):
    return tuple([(float(t), 1.0, chord[v]) for t, chord in enumerate(chords)] for v in range(4))


def test_hmm_picks_the_chord_the_soprano_note_determines():
    corpus = [_corpus_piece([C_MAJOR, G_MAJOR, G_MAJOR, C_MAJOR, G_MAJOR, C_MAJOR]),
              _corpus_piece([G_MAJOR, C_MAJOR, C_MAJOR, G_MAJOR, C_MAJOR, G_MAJOR])]
    hmm = HMMHarmonizer(min_pieces=1, all_keys=False).fit(corpus)
    melody = [(0.0, 1.0, 72), (1.0, 1.0, 72), (2.0, 1.0, 74), (3.0, 1.0, 72), (4.0, 2.0, 74)]
    states = hmm.decode([0, 0, 2, 0, 2, 2])
    c, g = (0, (0, 4, 7)), (7, (2, 7, 11))
    assert [state_parts(s) for s in states] == [c, c, g, c, g, g]
    voices = hmm.harmonize(melody)
    assert voices[0] == melody
    for t, expected in zip(range(6), [0, 0, 7, 0, 7, 7]):
        sounding = [next(p for o, d, p in v if o <= t < o + d) for v in voices]
        assert sounding[3] % 12 == expected  # the bass on the chord's bass
        assert sounding == sorted(sounding, reverse=True)  # no crossing
        assert {p % 12 for p in sounding} == ({0, 4, 7} if expected == 0 else {2, 7, 11})  # complete chords


def test_hmm_nll_is_lower_for_the_corpus_chords_than_for_others():
    corpus = [_corpus_piece([C_MAJOR, G_MAJOR] * 4)]
    hmm = HMMHarmonizer(min_pieces=1, all_keys=False).fit(corpus)
    usual, beats_usual = hmm.nll_bits(_corpus_piece([C_MAJOR, G_MAJOR, C_MAJOR, G_MAJOR]))
    odd = (72, 65, 60, 53)  # soprano C5 over an F major chord: never seen
    strange, beats_strange = hmm.nll_bits(_corpus_piece([C_MAJOR, G_MAJOR, odd, G_MAJOR]))
    assert beats_usual == beats_strange == 4.0
    assert 0 <= usual < 1.0 < strange


# --- the forced-soprano LSTM -------------------------------------------------------------------------

def _training_pieces():
    """Four-part pieces whose symbols cover every struck and held pitch a test tune needs."""
    pieces = []
    for shift in range(-5, 10):
        top = [(float(t), 1.0, 70 + shift + (t % 3)) for t in range(8)] + [(8.0, 2.0, 72 + shift)]
        halves = [(8.0 + 0.5 * k, 0.5, 60 + shift + k) for k in range(4)]
        alto = [(float(t), 1.0, 64 + shift) for t in range(7)] + halves  # a rest at 7
        tenor = [(0.0, 4.0, 57 + shift), (4.0, 6.0, 55 + shift)]
        bass = [(float(t), 2.0, 48 + shift - t % 2) for t in range(0, 10, 2)]
        pieces.append((top, alto, tenor, bass))
    return pieces


@pytest.fixture(scope="module")
def tiny():
    """An LSTMHarmonizer over a tiny untrained network (random weights) and the vocabulary of the
    training pieces."""
    from music_lstm.runs.config import Config
    from music_lstm.tasks.harmonizer import LSTMHarmonizer
    from music_lstm.models.model import build_model

    pieces = _training_pieces()
    vocab = Vocab.from_sequences(encode_satb(p) for p in pieces)
    model = build_model(len(vocab), Config(units=8, embed_dim=4, dense_units=8))
    return LSTMHarmonizer.from_keras(model, vocab), pieces


@pytest.mark.slow
@pytest.mark.parametrize("form", ["tinyNotation", "midi", "musicxml"])
def test_lstm_output_soprano_is_the_melody_exactly(tiny, tmp_path, form):
    harmonizer, _ = tiny
    if form == "tinyNotation":
        source = TUNE
    elif form == "midi":
        source = midi_bytes.write(tmp_path / "tune.mid", [midi_bytes.track_bytes(TUNE_NOTES)])
    else:
        source = tmp_path / "tune.musicxml"
        musicxml.write_musicxml(TUNE_NOTES, source)
    melody, _ = melody_input.read_melody(source)
    outs = harmonizer.harmonize(melody, num_outputs=3, best_of=2, seed=1)
    assert len(outs) == 3
    for out in outs:
        assert out.voices[0] == TUNE_NOTES
        assert all(len(v) > 0 for v in out.voices[1:])
        end = max(o + d for o, d, _ in TUNE_NOTES)
        for v in out.voices[1:]:
            assert max(o + d for o, d, _ in v) <= end + 1e-9  # the lower voices end with the melody
        assert math.isfinite(out.log_prob) and out.log_prob < 0


@pytest.mark.slow
def test_best_of_keeps_the_likeliest_of_the_same_samples(tiny):
    harmonizer, _ = tiny
    melody, _ = melody_input.read_melody(TUNE)
    many = harmonizer.harmonize(melody, num_outputs=4, best_of=1, seed=7)
    best = harmonizer.harmonize(melody, num_outputs=1, best_of=4, seed=7)
    likeliest = max(many, key=lambda h: h.log_prob)
    assert best[0].symbols == likeliest.symbols
    assert best[0].log_prob == pytest.approx(likeliest.log_prob)


def test_a_beam_of_one_is_the_argmax_and_a_wider_beam_keeps_the_melody_and_scores_what_it_wrote(tiny):
    harmonizer, _ = tiny
    melody, _ = melody_input.read_melody(TUNE)
    greedy = harmonizer.harmonize(melody, temperature=0)[0]
    one = harmonizer.harmonize(melody, beam=1)[0]
    assert one.symbols == greedy.symbols and one.log_prob == pytest.approx(greedy.log_prob)
    wide = harmonizer.harmonize(melody, beam=6, num_outputs=3)
    assert len(wide) == 3 and wide[0].log_prob >= wide[1].log_prob >= wide[2].log_prob
    assert len({tuple(h.symbols) for h in wide}) == 3  # three different harmonizations
    for h in wide:
        assert h.voices[0] == melody
        # its score is the network's own log-probability of the symbols it chose (A, T, B, lengths)
        ids = harmonizer.vocab.encode(h.symbols)
        probs = harmonizer.stepper.probabilities(ids[None, :])[0]
        chosen = [t for t in range(1, len(ids)) if t % 5 != 0]  # every slot but the soprano's
        assert h.log_prob == pytest.approx(sum(math.log(probs[t - 1, ids[t]]) for t in chosen), rel=1e-4)
    with pytest.raises(ValueError):
        harmonizer.harmonize(melody, beam=2, num_outputs=3)


class _Uniform:
    """A stand-in network that gives every symbol the same probability."""

    def __init__(self, size):
        self.size = size

    def probabilities(self, ids):
        return np.full(ids.shape + (self.size,), 1.0 / self.size)


def test_nll_counts_only_alto_tenor_and_bass_symbols():
    from music_lstm.tasks.harmonizer import LSTMHarmonizer

    pieces = _training_pieces()
    vocab = Vocab.from_sequences(encode_satb(p) for p in pieces)
    harmonizer = LSTMHarmonizer(_Uniform(len(vocab)), vocab)
    piece = pieces[0]
    groups = len(encode_satb(piece)) // 5
    bits, quarters, unknown = harmonizer.nll_bits(piece)
    assert quarters == 10.0 and unknown == 0
    assert bits == pytest.approx(3 * groups * math.log2(len(vocab)))


def test_melody_pitch_the_model_never_saw_is_one_line_error(tiny):
    harmonizer, _ = tiny
    with pytest.raises(MelodyError, match="outside what this model was trained on"):
        harmonizer.harmonize([(0.0, 1.0, 100)])


@pytest.mark.slow
def test_evaluate_harmonize_reports_both_systems_against_bach(tiny):
    from music_lstm.eval.harmonization import evaluate_harmonize, format_table

    harmonizer, pieces = tiny
    hmm = HMMHarmonizer(min_pieces=1).fit(pieces[:10])
    report = evaluate_harmonize(harmonizer, pieces[10:13], hmm, seed=0)
    assert set(report.rows) == {"LSTM, soprano forced", "HMM, chord per beat", "Bach"}
    for name, row in report.rows.items():
        assert 0 <= row["bass"] <= 1 and 0 <= row["chord"] <= 1
        if name != "Bach":
            assert row["nll"] > 0
    assert report.rows["Bach"]["chord"] == 1.0
    table = format_table(report)
    assert "bits per quarter note" in table and "HMM, chord per beat" in table and len(table.splitlines()) == 9


@pytest.mark.slow
def test_harmonize_files_writes_four_tracks_whose_soprano_is_the_melody(tiny, tmp_path):
    from music_lstm.tasks.harmonize import harmonize_files
    from music_lstm.tasks.outfiles import Outputs

    harmonizer, _ = tiny
    logged = []
    paths = harmonize_files(None, TUNE, tmp_path / "out.mid", num_outputs=2, seed=3, harmonizer=harmonizer,
                            log=logged.append)
    assert [p.name for p in paths] == ["out_1.mid", "out_2.mid"]
    for p in paths:
        piece = midi_read.read_midi(p)
        assert piece.voices is not None and piece.voices[0] == TUNE_NOTES
    assert "F major" in logged[-1] or "C major" in logged[-1]
    mid, xml = harmonize_files(None, TUNE, tmp_path / "out.mid", outputs=Outputs(fmt="musicxml"), harmonizer=harmonizer,
                               log=logged.append)
    assert mid.suffix == ".mid" and xml.suffix == ".musicxml"
    assert melody_input.read_melody(xml)[0] == TUNE_NOTES  # the score's soprano part, read back


def test_harmonize_files_writes_nothing_for_a_bad_melody(tiny, tmp_path):
    from music_lstm.tasks.harmonize import harmonize_files

    harmonizer, _ = tiny
    for bad in ("tinyNotation: 4/4 r1", "tinyNotation: 4/4 c'4 zz", str(tmp_path / "missing.mid"),
                "tinyNotation: 4/4 c'''4"):  # the last one, C7, is moved down to C5 and harmonized
        try:
            harmonize_files(None, bad, tmp_path / "bad.mid", harmonizer=harmonizer, log=lambda m: None)
        except MelodyError as e:
            assert "\n" not in str(e)
            assert not (tmp_path / "bad.mid").exists()
        else:
            assert bad.endswith("c'''4") and (tmp_path / "bad.mid").exists()


@pytest.mark.slow
def test_melody_starting_after_zero_keeps_its_offsets(tiny):
    harmonizer, _ = tiny
    melody = [(3.0, 1.0, 72), (4.0, 0.5, 74), (4.5, 1.5, 76)]  # an upbeat at beat 3
    [out] = harmonizer.harmonize(melody, seed=2)
    assert out.voices[0] == melody
    assert min(o for v in out.voices[1:] for o, _, _ in v) == 3.0


def test_rhythm_the_models_lengths_cannot_fill_is_one_line_error(tiny):
    harmonizer, _ = tiny  # its lengths are quarters and eighths: no triplet
    melody, _ = melody_input.read_melody("tinyNotation: 4/4 trip{c'8 d' e'} f'4")
    with pytest.raises(MelodyError, match="cannot be written with this model's lengths"):
        harmonizer.harmonize(melody, name="tune")


def test_a_run_of_another_encoding_cannot_harmonize():
    from types import SimpleNamespace

    from music_lstm.tasks.harmonizer import LSTMHarmonizer
    from music_lstm.eval.harmonization import evaluate_harmonize

    run = SimpleNamespace(path="runs/latest", config=SimpleNamespace(encoding="voiced"))
    with pytest.raises(MelodyError, match="runs/latest: a voiced run cannot harmonize"):
        LSTMHarmonizer.from_run(run)
    with pytest.raises(MelodyError, match="--encoding satb"):
        evaluate_harmonize(run, [_corpus_piece([C_MAJOR, G_MAJOR])])


@pytest.mark.slow
def test_every_group_changes_something_even_inside_a_long_melody_note(tiny):
    from music_lstm.encodings.satb import decode_satb, encode_satb

    harmonizer, _ = tiny
    outs = harmonizer.harmonize([(0.0, 4.0, 72), (4.0, 4.0, 74)], num_outputs=4, temperature=1.0, seed=5)
    for out in outs:
        assert out.voices[0] == [(0.0, 4.0, 72), (4.0, 4.0, 74)]
        # The stream written is the stream Bach's notes would give: no group where nothing happens.
        assert encode_satb(decode_satb(out.symbols).voices) == out.symbols


@pytest.fixture
def satb_run(tiny_run):
    """The session's tiny satb run, trained by the package's own `train` on synthetic four-part files."""
    return tiny_run("satb")[:2]


@pytest.mark.slow
def test_a_satb_run_harmonizes_a_file_and_evaluates_on_its_held_out_pieces(satb_run, tmp_path):
    import json

    from music_lstm.eval.harmonization import evaluate_harmonize
    from music_lstm.runs.run_folder import load_run
    from music_lstm.tasks.harmonize import harmonize_files

    data, run_dir = satb_run
    run = load_run(run_dir)
    split = json.loads((run_dir / "split.json").read_text())
    source = data / split["train"][0]
    [path] = harmonize_files(run_dir, source, tmp_path / "h.mid", log=lambda m: None)
    melody, _ = melody_input.read_melody(source)
    assert midi_read.read_midi(path).voices[0] == melody
    voices = lambda names: [midi_read.read_midi(data / n).voices for n in names]  # noqa: E731
    hmm = HMMHarmonizer(min_pieces=1).fit(voices(split["train"]))
    pieces = split["validation"] + split["train"]  # held-out pieces in keys the run never saw are left out
    report = evaluate_harmonize(run, voices(pieces), hmm)
    assert report.pieces + len(report.skipped) == len(pieces) and report.pieces >= len(split["train"])
    assert all("outside what this model was trained on" in s or "lengths" in s for s in report.skipped)
    assert report.rows["LSTM, soprano forced"]["at_or_below_p90"] >= 0 and report.rows["HMM, chord per beat"]["nll"] > 0
