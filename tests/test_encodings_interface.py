"""The encodings' one interface: the registry and its alias, a refused piece as a skip reason, and
four-part output carried through `decode_continuation`."""

import pytest
from midi_bytes import chorale

from music_lstm import encodings
from music_lstm.encodings.ingest import encode_folder
from music_lstm.encodings.common import Decoded, Encoding
from music_lstm.core.errors import ConfigError, EncodingError
from music_lstm.core.events import Piece


def test_the_registry_gives_each_encoding_and_the_old_name_of_chords():
    assert encodings.NAMES == ("chords", "voiced", "grid", "satb") and encodings.DEFAULT == "satb"
    for name in encodings.NAMES:
        enc = encodings.get(name)
        assert isinstance(enc, Encoding) and enc.name == name and enc.voices == (4 if name == "satb" else None)
    assert encodings.get("seed").name == "chords" and encodings.get("seed", durations=True).spec == "chords+durations"
    assert encodings.from_spec("chords+durations").durations and not encodings.from_spec("voiced").durations
    with pytest.raises(ConfigError, match="invalid durations: the voiced encoding always has them"):
        encodings.get("voiced", durations=True)
    with pytest.raises(ConfigError, match="invalid encoding: 'midi'"):
        encodings.get("midi")


def test_a_piece_the_encoding_refuses_is_skipped_with_its_reason(tmp_path, monkeypatch):
    folder = tmp_path / "midi"
    folder.mkdir()
    from music_lstm.io import midi_read

    short = len(midi_read.read_midi(chorale(folder / "a.mid", bars=2)).notes)
    chorale(folder / "b.mid", bars=6, shift=2)
    voiced = type(encodings.get("voiced"))
    encode = voiced.encode

    def refuse_long(self, piece):
        if len(piece.notes) > short:
            raise EncodingError("no four voices (a chord of five notes at bar 2)")
        return encode(self, piece)

    monkeypatch.setattr(voiced, "encode", refuse_long)
    lines = []
    corpus = encode_folder(folder, "voiced", workers=1, use_cache=False, progress=False, log=lines.append)
    assert list(corpus.sequences) == ["a.mid"]
    assert corpus.skipped == {"b.mid": "no four voices (a chord of five notes at bar 2)"}
    assert "skipped b.mid: no four voices (a chord of five notes at bar 2)" in [line.replace(f"{folder}/", "") for line in lines]


class FourLines(Encoding):
    """A stand-in four-part encoding: one symbol per quarter note, `S.A.T.B` pitches."""

    name, voices = "four", 4

    def encode(self, piece):
        raise EncodingError("not used here")

    def decode(self, symbols, open_start=False):
        lines = [[], [], [], []]
        for t, sym in enumerate(symbols):
            for v, p in enumerate(sym.split(".")):
                lines[v].append((float(t), 1.0, int(p)))
        notes = sorted(n for line in lines for n in line)
        return Decoded(notes, len(symbols), 0, float(len(symbols)), voices=lines)


def test_decode_continuation_keeps_the_four_lines_and_starts_them_at_zero():
    d = FourLines().decode_continuation(["72.67.64.48"], ["74.67.65.47", "76.67.64.48"])
    assert d.voices[0] == [(0.0, 1.0, 74), (1.0, 1.0, 76)]
    assert d.voices[3] == [(0.0, 1.0, 47), (1.0, 1.0, 48)]
    assert d.events == 2 and d.end == 2.0 and len(d.notes) == 8
    assert Decoded([], 0, 0).voices is None  # one stream of notes unless an encoding gives lines


def test_default_transpositions_encode_the_moved_piece_and_keep_an_impossible_key_as_is():
    piece = Piece([(0, 1, 60), (1, 1, 64), (1, 1, 120)])
    voiced = encodings.get("voiced")
    up, down, off = voiced.transpositions(piece, [2, -2, 9])
    assert up == voiced.encode(piece.transpose(2)) and down == voiced.encode(piece.transpose(-2))
    assert off == voiced.encode(piece)  # 120 + 9 is no MIDI pitch


def test_satb_refuses_a_piece_without_four_voices_with_its_reason():
    enc = encodings.get("satb")
    with pytest.raises(EncodingError, match=r"^no four voices: 1 part with notes \(four voices need four parts\)$"):
        enc.encode(Piece(notes=[(0, 1, 60)], no_voices="1 part with notes (four voices need four parts)"))
    voices = ([(0, 2, 72)], [(0, 1, 67), (1, 1, 65)], [(0, 2, 64)], [(0, 2, 48)])
    decoded = enc.decode(enc.encode(Piece(notes=sorted(n for v in voices for n in v), voices=voices)))
    assert decoded.voices == [[(float(o), float(d), p) for o, d, p in v] for v in voices]
    assert decoded.notes == sorted(n for v in decoded.voices for n in v) and decoded.repairs == 0


def test_satb_continuation_cuts_every_voice_at_the_prompt_end():
    enc = encodings.get("satb")
    voices = ([(0, 2, 72), (2, 1, 74)], [(0, 3, 67)], [(0, 1, 64), (1, 2, 62)], [(0, 3, 48)])
    symbols = enc.encode(Piece(notes=sorted(n for v in voices for n in v), voices=voices))
    cut = symbols.index("d1") + 1  # the prompt: the first beat
    decoded = enc.decode_continuation(symbols[:cut], symbols[cut:])
    assert decoded.voices == [[(0.0, 1.0, 72), (1.0, 1.0, 74)], [(0.0, 2.0, 67)], [(0.0, 2.0, 62)], [(0.0, 2.0, 48)]]
    assert decoded.repairs == 0 and decoded.end == 2.0


def test_satb_has_its_own_sampling_defaults_and_the_others_keep_theirs():
    from music_lstm.core.sampling import Sampling

    satb = encodings.get("satb").default_sampling()
    assert (satb.temperature, satb.rhythm_temperature, satb.parallels_guard, satb.no_clash, satb.keep_beat) == (0.8, 0.8, True, True, True)
    assert encodings.get("voiced").default_sampling() == Sampling()


def test_satb_training_voices_are_every_struck_note_per_voice_as_decoding_gives_them():
    from music_lstm.encodings.satb import training_voices

    pieces = [([(0, 2, 72), (2, 1, 74)], [(0, 1, 67), (1, 1, 67), (2, 1, 65)], [(0, 1, 64), (2, 1, 55)], [(0, 3, 48)]),
              ([(0, 1, 76)], [(0, 1, 69)], [(0, 1, 60)], [(0, 1, 41)])]
    enc = encodings.get("satb")
    streams = [enc.encode(Piece(notes=sorted(n for v in p for n in v), voices=p)) for p in pieces]
    symbols = sorted({s for st in streams for s in st})
    ids = [[symbols.index(s) for s in st] for st in streams]
    found = training_voices(symbols, ids)
    assert [sorted(p for _, _, p in v) for v in found] == [[72, 74, 76], [65, 67, 67, 69], [55, 60, 64], [41, 48]]
