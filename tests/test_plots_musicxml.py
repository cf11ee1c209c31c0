"""The piano roll is a readable PNG of the notes; MusicXML output holds the same music."""

import numpy as np
import pytest

from music_lstm.io import midi_read
from music_lstm.io import midi_write
from music_lstm.io import musicxml
from music_lstm.core.events import slices
from music_lstm.io.plotting import piano_roll

NOTES = [(0, 2, 48), (0, 1, 64), (0, 1, 67), (1, 1, 65), (2, 0.5, 60), (2.5, 1.5, 62), (4.5, 1, 55)]


def test_piano_roll_is_a_png_with_a_bar_for_notes_and_blank_where_silent(tmp_path):
    from matplotlib import image

    path = tmp_path / "roll.png"
    piano_roll(NOTES, path, title="roll")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = image.imread(path)[..., :3]
    blue = (img[..., 2] > 0.5) & (img[..., 0] < 0.3)  # note bars are blue; nothing else is
    assert blue.sum() > 500
    cols = np.flatnonzero(blue.any(axis=0))
    rows = np.flatnonzero(blue.any(axis=1))
    assert cols.max() - cols.min() > img.shape[1] / 2  # the notes span the time axis
    assert rows.max() - rows.min() > img.shape[0] / 3  # and the pitch axis: 48 to 67
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically


def test_piano_roll_does_not_import_matplotlib_until_called():
    import subprocess
    import sys

    code = "import sys, music_lstm.io.plotting; assert 'matplotlib' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_musicxml_holds_the_same_pitches_durations_rests_and_tempo(tmp_path):
    from music21 import converter

    path = tmp_path / "out.musicxml"
    musicxml.write_musicxml(NOTES, path, bpm=100)
    score = converter.parse(str(path)).stripTies()
    back = [
        (float(el.offset), float(el.quarterLength), p.midi)
        for el in score.flatten().notes
        for p in el.pitches
    ]
    want = [(s.offset, s.duration, s.pitches) for s in slices(NOTES)]
    got = [(s.offset, s.duration, s.pitches) for s in slices(back)]
    assert got == want  # same pitches sounding over the same spans, the rest at 4 included
    assert [m.number for m in score.flatten().getElementsByClass("MetronomeMark")] == [100]


@pytest.mark.parametrize("bpm", [60, 132])
def test_midi_carries_the_tempo_and_instrument(tmp_path, bpm):
    from music21 import converter, instrument

    path = tmp_path / "out.mid"
    midi_write.write_midi(NOTES, path, bpm=bpm, program=19)
    assert midi_read.read_midi(path).bpm == pytest.approx(bpm, abs=0.5)
    inst = converter.parse(str(path)).recurse().getElementsByClass(instrument.Instrument).first()
    assert inst.midiProgram == 19
