"""render: a four-part MIDI file played to audio as long as the music and not silent; a four-part
chorale engraved as SVG with two staves and four voices; one-line errors for a missing SoundFont, a
missing synthesizer and files that are not what they should be; nothing half-written.

The audio tests need `fluidsynth` and a General MIDI SoundFont (apt-get install fluidsynth
timgm6mb-soundfont); without them they are skipped, unless MUSIC_LSTM_REQUIRE_AUDIO is set (CI sets
it), when they fail.
"""

import os
import shutil
import wave
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from music_lstm.io import render
from music_lstm.io import midi_write
from music_lstm.io import musicxml
from music_lstm.core.errors import RenderError

BPM = 120.0
# Eight quarter notes of four-part harmony (C major, I-IV-V-I twice): four seconds at 120 bpm.
CHORDS = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)] * 2
VOICES = [[(float(t), 1.0, chord[k]) for t, chord in enumerate(CHORDS)] for k in range(4)]
SECONDS = len(CHORDS) * 60.0 / BPM
RELEASE = 2.0  # the longest a General MIDI choir or organ sound rings after its note-off


def _one_line(e: Exception) -> str:
    text = str(e)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def _fake_soundfont(path):
    path.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    return path


def _audio_or_skip():
    try:
        sf = render.find_soundfont()
    except RenderError:
        sf = None
    if sf is None or shutil.which("fluidsynth") is None:
        if os.environ.get("MUSIC_LSTM_REQUIRE_AUDIO"):
            pytest.fail("MUSIC_LSTM_REQUIRE_AUDIO is set but fluidsynth or a General MIDI SoundFont is missing")
        pytest.skip("fluidsynth or a General MIDI SoundFont is not installed")


@pytest.fixture
def chorale_midi(tmp_path):
    path = tmp_path / "chorale.mid"
    midi_write.write_voices_midi(VOICES, path, bpm=BPM, programs=(52, 52, 48, 19))
    return path


def _read_wav(path):
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return frames.astype(np.float64) / 32768.0, w.getframerate()


def test_wav_lasts_as_long_as_the_music_and_is_not_silent(chorale_midi, tmp_path):
    _audio_or_skip()
    out = render.render_audio(chorale_midi, tmp_path / "chorale.wav")
    samples, rate = _read_wav(out)
    assert rate == 44100
    seconds = len(samples) / rate
    assert SECONDS - 1.0 <= seconds <= SECONDS + 1.0 + RELEASE, seconds
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 0.01, rms  # -40 dBFS: clearly audible, not a file of zeros or noise floor
    # Sound all the way through: every second of the music has some, not just the first chord.
    per_second = [np.sqrt(np.mean(samples[s * rate : (s + 1) * rate] ** 2)) for s in range(int(SECONDS))]
    assert min(per_second) > 0.003, per_second
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_sample_rate_is_the_one_asked_for(chorale_midi, tmp_path):
    _audio_or_skip()
    _, rate = _read_wav(render.render_audio(chorale_midi, tmp_path / "c.wav", sample_rate=22050))
    assert rate == 22050


@pytest.mark.parametrize("fmt, magic", [("flac", b"fLaC"), ("ogg", b"OggS")])
def test_flac_and_ogg_are_written_in_their_own_format(chorale_midi, tmp_path, fmt, magic):
    _audio_or_skip()
    out = render.render_audio(chorale_midi, tmp_path / f"c.{fmt}", fmt=fmt)
    assert out.read_bytes()[:4] == magic


def test_soundfont_that_fluidsynth_cannot_load_is_an_error_not_the_default_sound(chorale_midi, tmp_path):
    # fluidsynth exits 0 and falls back to the system's default SoundFont when the one given fails to load.
    _audio_or_skip()
    broken = _fake_soundfont(tmp_path / "broken.sf2")
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, tmp_path / "c.wav", soundfont=broken)
    text = _one_line(e.value)
    assert str(broken) in text and "could not load" in text
    assert not (tmp_path / "c.wav").exists()


def test_midi_without_notes_is_an_error_not_a_silent_file(tmp_path):
    _audio_or_skip()
    empty = tmp_path / "empty.mid"
    midi_write.write_voices_midi([[], [], [], []], empty, bpm=BPM)
    with pytest.raises(RenderError) as e:
        render.render_audio(empty, tmp_path / "c.wav")
    text = _one_line(e.value)
    assert str(empty) in text and "silence" in text
    assert not (tmp_path / "c.wav").exists()


def test_unknown_audio_format_is_one_line_naming_the_choices(chorale_midi, tmp_path):
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, tmp_path / "c.mp3", fmt="mp3")
    text = _one_line(e.value)
    assert "'mp3'" in text and "wav, flac, ogg" in text


def test_no_soundfont_anywhere_is_one_line_saying_how_to_get_one(chorale_midi, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "SOUNDFONT_PATHS", (str(tmp_path / "none" / "default-GM.sf2"),))
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, tmp_path / "c.wav")
    text = _one_line(e.value)
    assert "apt-get install fluid-soundfont-gm" in text and "--soundfont FILE" in text
    assert not (tmp_path / "c.wav").exists()


def test_soundfont_file_given_but_missing_names_the_file(chorale_midi, tmp_path):
    missing = tmp_path / "nowhere.sf2"
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, tmp_path / "c.wav", soundfont=missing)
    text = _one_line(e.value)
    assert str(missing) in text and "no such SoundFont" in text


def test_file_given_as_soundfont_that_is_not_one_is_refused(chorale_midi, tmp_path):
    not_sf = tmp_path / "notes.sf2"
    not_sf.write_text("hello")
    with pytest.raises(RenderError) as e:
        render.find_soundfont(not_sf)
    assert str(not_sf) in _one_line(e.value) and "not a SoundFont" in str(e.value)


def test_soundfont_search_takes_the_first_that_exists(tmp_path):
    second = _fake_soundfont(tmp_path / "b.sf2")
    assert render.find_soundfont(None, search=[tmp_path / "a.sf2", second]) == second.resolve()


def test_missing_synthesizer_is_one_line_saying_how_to_install_it(chorale_midi, tmp_path, monkeypatch):
    sf = _fake_soundfont(tmp_path / "gm.sf2")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, tmp_path / "c.wav", soundfont=sf)
    text = _one_line(e.value)
    assert "fluidsynth not found" in text and "apt-get install fluidsynth" in text


def test_failing_synthesizer_leaves_the_old_file_and_no_temporary_one(chorale_midi, tmp_path, monkeypatch):
    sf = _fake_soundfont(tmp_path / "gm.sf2")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "fluidsynth"
    fake.write_text("#!/bin/sh\necho 'fluidsynth: error: bad preset' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "c.wav").write_bytes(b"old")
    with pytest.raises(RenderError) as e:
        render.render_audio(chorale_midi, out_dir / "c.wav", soundfont=sf)
    text = _one_line(e.value)
    assert str(chorale_midi) in text and "bad preset" in text
    assert sorted(p.name for p in out_dir.iterdir()) == ["c.wav"] and (out_dir / "c.wav").read_bytes() == b"old"


@pytest.mark.parametrize(
    "content, reason", [(None, "no such MIDI file"), (b"RIFF not midi", "not a Standard MIDI File")]
)
def test_input_that_is_not_midi_is_one_line_naming_it(tmp_path, content, reason):
    midi = tmp_path / "in.mid"
    if content is not None:
        midi.write_bytes(content)
    with pytest.raises(RenderError) as e:
        render.render_audio(midi, tmp_path / "c.wav", soundfont=_fake_soundfont(tmp_path / "gm.sf2"))
    text = _one_line(e.value)
    assert str(midi) in text and reason in text


def test_missing_verovio_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    import sys

    xml = tmp_path / "s.musicxml"
    xml.write_text("<?xml version='1.0'?><score-partwise></score-partwise>")
    monkeypatch.setitem(sys.modules, "verovio", None)  # import verovio raises ImportError
    with pytest.raises(RenderError) as e:
        render.render_score(xml, tmp_path / "s.svg")
    assert "pip install verovio" in _one_line(e.value)


# --- the engraved score ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chorale_xml(tmp_path_factory):
    path = tmp_path_factory.mktemp("score") / "chorale.musicxml"
    musicxml.write_chorale_musicxml(VOICES, path, bpm=BPM, title="Test Chorale")
    return path


def _classes(el) -> list[str]:
    return (el.get("class") or "").split()


def _all(root, cls):
    return [e for e in root.iter() if cls in _classes(e)]


def test_score_svg_is_well_formed_with_four_voices_on_two_staves(chorale_xml, tmp_path):
    pages = render.render_score(chorale_xml, tmp_path / "chorale.svg")
    assert pages == [tmp_path / "chorale.svg"]
    root = ET.parse(pages[0]).getroot()  # raises if the SVG is not well-formed XML
    assert root.tag.endswith("svg")
    systems = _all(root, "system")
    assert systems
    for system in systems:
        for measure in _all(system, "measure"):
            staves = _all(measure, "staff")
            assert len(staves) == 2
            assert [len(_all(staff, "layer")) for staff in staves] == [2, 2]  # soprano+alto, tenor+bass
    notes = _all(root, "note")
    assert len(notes) == sum(len(v) for v in VOICES)
    assert "Test Chorale" in "".join(root.itertext())


def test_score_pages_are_name_then_name_dash_k_and_stale_pages_go(chorale_xml, tmp_path):
    stale = tmp_path / "chorale-9.svg"
    (tmp_path / "chorale-3.svg").write_text("old page")
    small = {"pageHeight": 900, "adjustPageHeight": False, "scale": 100, "pageWidth": 900}  # one system a page
    pages = render.render_score(chorale_xml, tmp_path / "chorale.svg", options=small)
    assert len(pages) == 2
    assert pages == [tmp_path / "chorale.svg", tmp_path / "chorale-2.svg"]
    for page in pages:
        ET.parse(page)
    assert not (tmp_path / "chorale-3.svg").exists()
    assert not stale.exists()


@pytest.mark.parametrize(
    "content, reason", [(None, "no such MusicXML file"), ("<html></html>", "not a MusicXML score")]
)
def test_score_input_that_is_not_musicxml_is_one_line_naming_it(tmp_path, content, reason):
    path = tmp_path / "in.musicxml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RenderError) as e:
        render.render_score(path, tmp_path / "out.svg")
    text = _one_line(e.value)
    assert str(path) in text and reason in text
    assert not (tmp_path / "out.svg").exists()


def test_score_engraves_in_a_thread_other_than_the_one_that_imported_verovio(chorale_xml, tmp_path):
    # Verovio keeps its font folder per thread; `serve` engraves each request in a thread of its own.
    import threading

    results = []
    for k in range(2):
        worker = threading.Thread(target=lambda k=k: results.append(render.render_score(chorale_xml, tmp_path / f"t{k}.svg")))
        worker.start()
        worker.join()
    assert [p.name for p, in results] == ["t0.svg", "t1.svg"]
    assert all("<svg" in p.read_text() for p, in results)


def test_the_soundfont_environment_variable_comes_before_the_search_and_after_the_flag(tmp_path, monkeypatch):
    first, env, flag = (_fake_soundfont(tmp_path / n) for n in ("a.sf2", "env.sf2", "flag.sf2"))
    monkeypatch.setenv(render.SOUNDFONT_ENV, str(env))
    assert render.find_soundfont(None, search=[first]) == env
    assert render.find_soundfont(flag, search=[first]) == flag
    monkeypatch.setenv(render.SOUNDFONT_ENV, str(tmp_path / "gone.sf2"))
    with pytest.raises(RenderError, match="gone.sf2"):
        render.find_soundfont(None, search=[first])
    monkeypatch.delenv(render.SOUNDFONT_ENV)
    assert render.find_soundfont(None, search=[first]) == first.resolve()


# --- the SoundFont loaded once (`io.synth`, what `serve` writes its WAVs with) ---------------------------

def test_the_loaded_synth_writes_what_the_fluidsynth_program_writes_file_after_file(chorale_midi, tmp_path):
    """A fresh synthesizer writes the program's own samples; after another file (an organ chord) the same
    notes and sound again: the same length, loudness and spectrum. (Only the chorus's and reverb's phase runs
    on from file to file, which moves the samples, not the music.)"""
    from music_lstm.io.synth import LoadedSynth

    _audio_or_skip()
    synth = LoadedSynth()
    other = tmp_path / "other.mid"
    midi_write.write_voices_midi([[(0.0, 8.0, 72)], [(0.0, 8.0, 67)], [(0.0, 8.0, 64)], [(0.0, 8.0, 48)]], other,
                                 bpm=BPM, programs=(19, 19, 19, 19))
    cli, rate = _read_wav(render.render_audio(chorale_midi, tmp_path / "cli.wav"))
    first, _ = _read_wav(synth.render(chorale_midi, tmp_path / "first.wav"))
    assert abs(len(first) - len(cli)) <= rate // 100
    n = min(len(first), len(cli))
    assert np.corrcoef(first[:n, 0], cli[:n, 0])[0, 1] > 0.99
    synth.render(other, tmp_path / "organ.wav")
    again, _ = _read_wav(synth.render(chorale_midi, tmp_path / "again.wav"))

    def spectrum(x):  # the long-term log spectrum, in bands of 64 bins
        f = np.abs(np.fft.rfft(x[:, 0], n=2**18))[: 2**17]
        return np.log(f.reshape(-1, 64).mean(axis=1) + 1e-9)

    assert abs(len(again) - len(cli)) <= rate // 4  # where the last release falls under the trimming threshold
    assert np.sqrt(np.mean(again**2)) == pytest.approx(np.sqrt(np.mean(cli**2)), rel=0.05)
    assert np.corrcoef(spectrum(again), spectrum(cli))[0, 1] > 0.98
    assert np.corrcoef(spectrum(_read_wav(tmp_path / "organ.wav")[0]), spectrum(cli))[0, 1] < \
        np.corrcoef(spectrum(again), spectrum(cli))[0, 1]  # the measure tells another sound apart
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_loaded_synth_refuses_a_file_without_notes_and_one_that_is_not_midi(tmp_path):
    from music_lstm.io.synth import LoadedSynth

    _audio_or_skip()
    synth = LoadedSynth()
    empty, text = tmp_path / "empty.mid", tmp_path / "text.mid"
    midi_write.write_voices_midi([[], [], [], []], empty, bpm=BPM)
    text.write_text("not midi")
    for bad, why in ((empty, "silence"), (text, "MIDI")):
        with pytest.raises(RenderError) as e:
            synth.render(bad, tmp_path / "out.wav")
        assert str(bad) in _one_line(e.value) and why in _one_line(e.value)
        assert not (tmp_path / "out.wav").exists()


def test_without_fluidsynths_library_the_loaded_synth_is_one_line(monkeypatch):
    from music_lstm.io import synth

    monkeypatch.setattr(synth, "_NAMES", ("no-such-fluidsynth-library",))
    monkeypatch.setattr(synth.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(RenderError) as e:
        synth._library()
    assert "libfluidsynth" in _one_line(e.value) and "apt-get install fluidsynth" in _one_line(e.value)
