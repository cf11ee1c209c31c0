"""A tiny satb run, the default encoding: four-part files in, four named tracks and a chorale score out,
each voice a line in its training range, no parallel perfect intervals while the guard is on; a primer's
voices kept; the voice-leading table in `evaluate --generated`; audio and score pages beside the MIDI;
and a folder with no four-part file ends with one line naming the other encoding."""

import json
import os
import shutil

import pytest

from midi_bytes import SHIFTS  # the training pieces' keys

from music_lstm.io import midi_read
from music_lstm.core.ranges import voice_ranges
from music_lstm.eval import voice_leading
from music_lstm.app.cli import main

NAMES = (b"Soprano", b"Alto", b"Tenor", b"Bass")
SHARPS = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: -5, 8: -4, 3: -3, 10: -2, 5: -1}  # a major key's signature


@pytest.fixture
def satb_run(tiny_run):
    return tiny_run("satb")[:2]  # trained with no --encoding: the default


def _training_ranges(data, run):
    train = json.loads((run / "split.json").read_text())["train"]
    return voice_ranges([midi_read.read_midi(data / name).voices for name in train])


def _generated(run, out, *flags):
    assert main(["generate", "--run-dir", str(run), "--output", str(out), *flags]) == 0


@pytest.mark.slow
def test_satb_is_the_default_and_recorded_with_its_dropout(satb_run):
    _, run = satb_run
    config = json.loads((run / "config.json").read_text())
    assert (config["encoding"], config["dropout"], config["transpose_low"], config["transpose_high"]) == ("satb", 0.3, 0, 0)
    assert config["common_key"] is True


@pytest.mark.slow
def test_generate_writes_four_named_monophonic_voices_in_range_without_parallels(satb_run, tmp_path, capsys):
    data, run = satb_run
    out = tmp_path / "chorale.mid"
    _generated(run, out, "--length", "400", "--num-outputs", "3", "--seed", "1", "--instrument", "choir,choir,strings,organ")
    ranges = _training_ranges(data, run)
    for k in (1, 2, 3):
        path = tmp_path / f"chorale_{k}.mid"
        raw = path.read_bytes()
        assert raw.count(b"MTrk") == 4 and all(name in raw for name in NAMES)
        assert bytes([0xC0, 52]) in raw and bytes([0xC2, 48]) in raw and bytes([0xC3, 19]) in raw  # a program per channel
        voices = midi_read.read_midi(path).voices
        assert voices is not None and all(voices)
        for line, (low, high) in zip(voices, ranges):
            assert all(o + d <= o2 + 1e-6 for (o, d, _), (o2, _, _) in zip(line, line[1:]))  # one note at a time
            # a note at 0 may be held over from the prompt; every note struck after it is the sampler's
            assert all(low <= p <= high for o, _, p in line if o > 0), (low, high, line)
        assert voice_leading.measure(voices)["parallels"] == 0.0
        # kept in time: written from where it falls in the beat, no slice begun between beats sounds past the next
        cuts = sorted({o for v in voices for o, _, _ in v} | {o + d for v in voices for o, d, _ in v})
        assert all(b <= int(a) + 1 + 1e-6 for a, b in zip(cuts, cuts[1:]) if a % 1 > 1e-6)


@pytest.mark.slow
def test_the_sampling_defaults_and_flags_reach_the_grammar_and_the_sampler(satb_run, monkeypatch, tmp_path):
    from music_lstm.tasks import generate
    from music_lstm.encodings import satb

    _, run = satb_run
    made, settings = [], []
    real_grammar, real_ids = satb.Grammar, generate.generate_ids

    def grammar(*a, **kw):
        made.append(kw)
        return real_grammar(*a, **kw)

    def ids(step, probs, length, sampling, *a, **kw):
        settings.append(sampling)
        return real_ids(step, probs, length, sampling, *a, **kw)

    monkeypatch.setattr(satb, "Grammar", grammar)
    monkeypatch.setattr(generate, "generate_ids", ids)
    _generated(run, tmp_path / "a.mid", "--length", "20", "--seed", "1")
    _generated(run, tmp_path / "b.mid", "--length", "20", "--seed", "1", "--allow-parallels", "--allow-clashes",
               "--allow-syncopation", "--temperature", "0.6")
    assert [(m["guard"], m["no_clash"], m["keep_beat"], m["common_lengths"]) for m in made] == [(True,) * 4, (False,) * 4]
    assert made[0]["ranges"] is not None and len(made[0]["ranges"]) == 4
    assert [(s.temperature, s.rhythm_temperature) for s in settings] == [(0.8, 0.8), (0.6, 0.8)]


@pytest.mark.slow
def test_a_runs_sampling_json_comes_before_the_encodings_defaults_and_after_the_flags(satb_run, monkeypatch, tmp_path):
    import shutil

    from music_lstm.tasks import generate
    from music_lstm.runs import run_folder

    _, run = satb_run
    own = tmp_path / "run"
    shutil.copytree(run, own)
    run_folder.write_sampling(own, {"temperature": 0.9, "rhythm_top_p": 0.85})
    settings, real_ids = [], generate.generate_ids

    def ids(step, probs, length, sampling, *a, **kw):
        settings.append(sampling)
        return real_ids(step, probs, length, sampling, *a, **kw)

    monkeypatch.setattr(generate, "generate_ids", ids)
    _generated(own, tmp_path / "a.mid", "--length", "20", "--seed", "1")
    _generated(own, tmp_path / "b.mid", "--length", "20", "--seed", "1", "--temperature", "0.6")
    assert [(s.temperature, s.rhythm_temperature, s.rhythm_top_p) for s in settings] == [(0.9, 0.8, 0.85), (0.6, 0.8, 0.85)]
    (own / run_folder.SAMPLING).write_text('{"temperature": -1}')
    assert main(["generate", "--run-dir", str(own), "--output", str(tmp_path / "c.mid")]) == 2  # one line, no traceback
    (own / run_folder.SAMPLING).write_text('{"warmth": 1}')
    assert main(["generate", "--run-dir", str(own), "--output", str(tmp_path / "c.mid")]) == 2


@pytest.mark.slow
def test_musicxml_is_a_chorale_score_and_the_piano_roll_is_written(satb_run, tmp_path):
    from music21 import converter

    _, run = satb_run
    out = tmp_path / "hymn.mid"
    _generated(run, out, "--length", "200", "--seed", "2", "--format", "musicxml", "--plot")
    score = converter.parse(str(out.with_suffix(".musicxml")))
    assert len(score.parts) == 2 and score.metadata.bestTitle == "Chorale: hymn"
    # the signature of the key the music is in: one of the training pieces' keys (a common-key run writes
    # each piece back in its prompt's key), the one major scale (with the pieces' one C#) holding every note
    pitches = {p % 12 for line in midi_read.read_midi(out).voices for _, _, p in line}
    tonics = [t for t in range(12) if {(p - t) % 12 for p in pitches} <= {0, 1, 2, 4, 5, 7, 9, 11}]
    assert len(tonics) == 1 and tonics[0] in {s % 12 for s in SHIFTS}, (sorted(pitches), tonics)
    signatures = {s.sharps for s in score.recurse().getElementsByClass("KeySignature")}
    assert signatures == {SHARPS[tonics[0]]}, (signatures, tonics)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_four_part_primer_keeps_its_voices(satb_run, tmp_path):
    data, run = satb_run
    primer = data / json.loads((run / "split.json").read_text())["train"][0]  # every symbol in the vocabulary
    given = midi_read.read_midi(primer).voices
    end = max(o + d for line in given for o, d, _ in line)
    out = tmp_path / "primed.mid"
    _generated(run, out, "--primer", str(primer), "--include-primer", "--length", "60", "--seed", "4")
    written = midi_read.read_midi(out).voices
    for before, after in zip(given, written):
        # the primer's notes, each in its own voice; its last note may be held on into the new music
        assert [(o, p) for o, _, p in after if o < end - 1e-6] == [(o, p) for o, _, p in before]


@pytest.mark.slow
def test_evaluate_generated_prints_and_writes_the_voice_leading_comparison(satb_run, tmp_path, capsys):
    _, run = satb_run
    out = tmp_path / "e.mid"
    _generated(run, out, "--length", "400", "--num-outputs", "2", "--seed", "5")
    capsys.readouterr()
    report = tmp_path / "report.json"
    files = [str(tmp_path / "e_1.mid"), str(tmp_path / "e_2.mid")]
    assert main(["evaluate", "--run-dir", str(run), "--generated", *files, "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "pitch-class entropy" in printed and "parallel 5ths/8ves per 100 trans." in printed
    figures = json.loads(report.read_text())["voice_leading"]
    assert set(figures["generated"]) == set(files)
    assert all(v["parallels"] == 0.0 for v in figures["generated"].values())


@pytest.mark.slow
def test_evaluate_generated_reads_the_files_in_one_order_whatever_the_order_given(satb_run, tmp_path, monkeypatch):
    from music_lstm.eval import metrics

    _, run = satb_run
    _generated(run, tmp_path / "o.mid", "--length", "200", "--num-outputs", "3", "--seed", "8")
    files = [str(tmp_path / f"o_{k}.mid") for k in (1, 2, 3)]
    seen, real = [], metrics.voice_report_pieces

    def report(generated, *a, **kw):  # the classifier's folds follow the order the pieces arrive in
        seen.append(list(generated))
        return real(generated, *a, **kw)

    monkeypatch.setattr(metrics, "voice_report_pieces", report)
    for order in (files, files[::-1], files[1:] + files[:1]):
        metrics.evaluate_generated(order, run, log=lambda m: None)
    assert seen == [sorted(files)] * 3


def _audio_or_skip():
    from music_lstm.core.errors import RenderError
    from music_lstm.io.render import find_soundfont

    try:
        find_soundfont()
        ok = shutil.which("fluidsynth") is not None
    except RenderError:
        ok = False
    if not ok:
        if os.environ.get("MUSIC_LSTM_REQUIRE_AUDIO"):
            pytest.fail("MUSIC_LSTM_REQUIRE_AUDIO is set but fluidsynth or a General MIDI SoundFont is missing")
        pytest.skip("fluidsynth or a General MIDI SoundFont is not installed")


@pytest.mark.slow
def test_audio_and_score_pages_beside_the_midi(satb_run, tmp_path, capsys):
    _audio_or_skip()
    _, run = satb_run
    out = tmp_path / "sung.mid"
    _generated(run, out, "--length", "120", "--seed", "6", "--audio", "--score")
    printed = capsys.readouterr().out
    wav, svg = out.with_suffix(".wav"), out.with_suffix(".svg")
    assert wav.read_bytes()[:4] == b"RIFF" and f"wrote {wav}" in printed
    assert "<svg" in svg.read_text()[:500] and f"wrote {svg}" in printed and out.with_suffix(".musicxml").is_file()


@pytest.mark.slow
def test_flac_audio(satb_run, tmp_path):
    _audio_or_skip()
    _, run = satb_run
    out = tmp_path / "f.mid"
    _generated(run, out, "--length", "80", "--seed", "7", "--audio", "--audio-format", "flac")
    assert out.with_suffix(".flac").read_bytes()[:4] == b"fLaC"


@pytest.mark.slow
def test_a_missing_soundfont_is_one_line_before_any_file_is_written(satb_run, tmp_path, capsys):
    _, run = satb_run
    out = tmp_path / "x.mid"
    rc = main(["generate", "--run-dir", str(run), "--output", str(out), "--audio", "--soundfont", str(tmp_path / "no.sf2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"music_lstm: error: {tmp_path / 'no.sf2'}: no such SoundFont file")
    assert not out.exists()


def test_a_folder_without_four_part_files_says_to_use_voiced(tmp_path, capsys, tiny):
    import midi_bytes

    folder = tmp_path / "piano"
    folder.mkdir()
    for k in range(2):
        midi_bytes.write(folder / f"solo{k}.mid", [midi_bytes.track_bytes([(i, 1, 60 + i % 5) for i in range(16)])])
    rc = main(["train", "--data-dir", str(folder), "--run-dir", str(tmp_path / "run"), "--encoding", "satb", *tiny()])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"music_lstm: error: {folder}: no usable MIDI file (2 skipped)")
    assert "use --encoding voiced" in err[-1] and "four parts" in err[-1]
    assert any("solo0.mid" in line and "four voices" in line for line in err)  # each file's reason
    assert not (tmp_path / "run").exists()
