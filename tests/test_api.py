"""The Python API (api.py, result.py, streams.py): `music_lstm.harmonize` and `music_lstm.compose` return a
`Chorale` whose voices, `.write` and `.to_music21` keep the tune note for note; the network is loaded once;
`import music_lstm` loads no TensorFlow; bad input is the command line's one-line error; docs/API.md runs."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import music_lstm as m
from music_lstm.app import api
from music_lstm.io import melody_input
from music_lstm.io import midi_read
from music_lstm.runs import run_folder
from music_lstm.app.cli import main
from music_lstm.core.errors import ConfigError, MelodyError, RunFolderError
from music_lstm.core.events import VOICE_NAMES

ROOT = Path(__file__).parent.parent
TUNE = "tinyNotation: 3/4 e'4 d' c' d'2 e'4 e'2."  # quarters, halves, a dotted half: lengths the tiny run knows


def notes_of(text: str):
    """The tune's notes as music21 reads them, apart from the package's own reader."""
    from music21 import converter

    text = text.replace("^", "")  # a fermata mark: the package's own, not tinyNotation's
    return [(float(n.offset), float(n.quarterLength), n.pitch.midi) for n in converter.parse(text).flatten().notes]


def line_of(part):
    """A music21 part's notes, ties joined."""
    return [(float(n.offset), float(n.quarterLength), n.pitch.midi) for n in part.stripTies().flatten().notes]


def same(a, b) -> bool:
    return len(a) == len(b) and all(abs(x[0] - y[0]) < 1e-3 and abs(x[1] - y[1]) < 1e-3 and x[2] == y[2]
                                    for x, y in zip(a, b))


def quiet(_line):
    pass


@pytest.fixture(scope="module")
def satb(tiny_run):
    return tiny_run("satb").run


@pytest.fixture(scope="module")
def chorale(satb):
    return m.harmonize(TUNE, run_dir=satb, seed=3, log=quiet)


# --- import stays instant --------------------------------------------------------------------------------

def test_import_music_lstm_loads_neither_tensorflow_nor_music21_until_a_call_needs_them():
    code = ("import music_lstm as m, sys\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow at import'\n"
            "assert 'music21' not in sys.modules, 'music21 at import'\n"
            "assert callable(m.harmonize) and callable(m.compose) and m.Chorale.__name__ == 'Chorale'\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow on reaching the API'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_music_lstm_harmonize_is_the_api_function_after_the_task_modules_are_imported():
    # the task modules (tasks/harmonize.py, tasks/harmonizer.py), imported first, must not hide the function
    code = ("import music_lstm.tasks.harmonize, music_lstm.tasks.harmonizer\n"
            "import music_lstm as m\n"
            "from music_lstm import harmonize\n"
            "from music_lstm.app import api\n"
            "assert harmonize is m.harmonize is api.harmonize and callable(m.harmonize)\n"
            "from music_lstm.core.errors import MelodyError\n"
            "try:\n"
            "    m.harmonize('tinyNotation: 4/4 x9', run_dir='nowhere')\n"
            "except MelodyError as e:\n"
            "    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "not tinyNotation: 'x9'" in r.stdout


# --- what harmonize returns -------------------------------------------------------------------------------

def test_harmonize_returns_four_voices_the_tune_on_top_and_the_networks_own_score(chorale, satb):
    from music_lstm.tasks.harmonizer import LSTMHarmonizer

    assert isinstance(chorale, m.Chorale) and len(chorale.voices) == 4 and all(chorale.voices)
    assert chorale.melody == chorale.voices[0] and same(chorale.melody, notes_of(TUNE))
    assert chorale.time_signature == "3/4" and chorale.task == "harmonize" and chorale.run_dir == satb
    assert re.fullmatch(r"[A-G][b#]? (major|minor)", chorale.key)
    assert chorale.key == melody_input.melody_key(chorale.melody)
    # what the harmonizer itself writes for this seed, score and all
    notes, _ = melody_input.read_melody(TUNE)
    own = LSTMHarmonizer.from_run(run_folder.load_run(satb)).harmonize(notes, seed=np.random.default_rng(3))[0]
    assert chorale.voices == tuple(own.voices)
    assert chorale.log_prob == pytest.approx(own.log_prob) and chorale.log_prob < 0
    assert chorale.key in repr(chorale) and "3/4" in repr(chorale) and str(satb) in repr(chorale)


def test_num_outputs_gives_a_list_and_the_prefix_may_be_left_out(chorale, satb):
    several = m.harmonize(TUNE, run_dir=satb, seed=3, num_outputs=2, best_of=2, log=quiet)
    assert isinstance(several, list) and len(several) == 2
    assert all(isinstance(c, m.Chorale) and same(c.melody, notes_of(TUNE)) for c in several)
    bare = m.harmonize(TUNE[len("tinyNotation:"):], run_dir=satb, seed=3, log=quiet)
    assert bare.voices == chorale.voices and bare.time_signature == "3/4"


# --- write, by suffix -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["x.mid", "x.midi", "X.MID"])
def test_write_midi_reads_back_as_four_voices_with_the_tune_on_top(chorale, tmp_path, name):
    path = chorale.write(tmp_path / name)
    assert path == tmp_path / name and path.read_bytes()[:4] == b"MThd"
    piece = midi_read.read_midi(path)
    assert piece.voices is not None and len(piece.voices) == 4
    assert same(piece.voices[0], notes_of(TUNE))
    assert all(same(a, b) for a, b in zip(piece.voices, chorale.voices))
    assert [p.name for p in tmp_path.iterdir()] == [name]  # atomic: no temporary file left beside it


@pytest.mark.parametrize("name", ["x.musicxml", "x.xml", "x.mxl"])
def test_write_musicxml_reads_back_as_four_voices_with_the_tune_on_top(chorale, tmp_path, name):
    from music21 import converter

    path = chorale.write(tmp_path / name)
    assert zipfile.is_zipfile(path) == (name == "x.mxl")
    score = converter.parse(str(path))
    lines = [v for part in score.parts for v in part.voicesToParts().parts]  # two staves of two voices
    assert len(lines) == 4
    assert same(line_of(lines[0]), notes_of(TUNE))
    assert all(same(line_of(a), b) for a, b in zip(lines, chorale.voices))
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_write_refuses_a_suffix_it_cannot_tell_and_writes_nothing(chorale, tmp_path):
    with pytest.raises(ConfigError, match=r"x\.wav: cannot tell what to write from its suffix '\.wav'"):
        chorale.write(tmp_path / "x.wav")
    assert not list(tmp_path.iterdir())


# --- to_music21 -------------------------------------------------------------------------------------------

def test_to_music21_is_a_score_of_four_parts_whose_top_part_is_the_tune(chorale):
    from music21 import key, meter, stream

    from music_lstm.io.streams import music21_key

    score = chorale.to_music21()
    assert isinstance(score, stream.Score) and len(score.parts) == 4
    assert [p.partName for p in score.parts] == list(VOICE_NAMES)
    assert same(line_of(score.parts[0]), notes_of(TUNE))
    assert all(same(line_of(p), v) for p, v in zip(score.parts, chorale.voices))
    assert all(p.getElementsByClass(stream.Measure) for p in score.parts)  # in measures, ready to show
    first = score.parts[0].recurse()
    assert first.getElementsByClass(meter.TimeSignature)[0].ratioString == "3/4"
    assert first.getElementsByClass(key.KeySignature)[0].sharps == music21_key(chorale.key).sharps


# --- the network, loaded once -----------------------------------------------------------------------------

def test_the_network_is_loaded_once_across_calls_and_again_when_its_folder_changes(satb, tmp_path, monkeypatch):
    own = tmp_path / "run"
    shutil.copytree(satb, own)  # the shared run is never touched
    loads, real = [], run_folder.load_run
    monkeypatch.setattr(run_folder, "load_run", lambda path: loads.append(path) or real(path))
    api.clear_cache()
    m.harmonize(TUNE, run_dir=own, log=quiet)
    m.harmonize(TUNE, run_dir=own, seed=1, log=quiet)
    m.compose(run_dir=own, length=20, seed=1, log=quiet)
    monkeypatch.chdir(tmp_path)
    m.harmonize(TUNE, run_dir="run", log=quiet)  # the same folder by another name
    assert len(loads) == 1
    model = own / run_folder.MODEL
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # trained again
    m.harmonize(TUNE, run_dir=own, log=quiet)
    assert len(loads) == 2


def test_run_dir_is_the_folder_used_else_runs_latest(satb, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    shutil.copytree(satb, tmp_path / "runs" / "latest")
    assert m.harmonize(TUNE).run_dir == run_folder.LATEST
    assert "using runs/latest" in capsys.readouterr().err  # said once, when loaded, as the command line says it
    assert m.harmonize(TUNE, run_dir=satb, log=quiet).run_dir == satb
    assert m.compose(length=20, seed=2, log=quiet).run_dir == run_folder.LATEST
    with pytest.raises(RunFolderError) as e:
        m.harmonize(TUNE, run_dir=tmp_path / "nowhere", log=quiet)
    assert main(["harmonize", TUNE, "--run-dir", str(tmp_path / "nowhere")]) == 2
    assert f"music_lstm: error: {e.value}" in capsys.readouterr().err.splitlines()


# --- melodies of every kind ------------------------------------------------------------------------------

def test_a_music21_stream_is_a_melody(chorale, satb):
    from music21 import converter, note, stream

    part = converter.parse(TUNE)  # a Part
    from_part = m.harmonize(part, run_dir=satb, seed=3, log=quiet)
    assert from_part.voices == chorale.voices and from_part.time_signature == "3/4"
    from_score = m.harmonize(chorale.to_music21(), run_dir=satb, seed=3, log=quiet)  # four parts: the soprano
    assert same(from_score.melody, notes_of(TUNE))
    bare = stream.Stream()
    for o, d, p in notes_of(TUNE):
        bare.insert(o, note.Note(p, quarterLength=d))
    assert same(m.harmonize(bare, run_dir=satb, log=quiet).melody, notes_of(TUNE))
    with pytest.raises(MelodyError, match=r"^music21 Stream: no notes$"):
        m.harmonize(stream.Stream(), run_dir=satb, log=quiet)


def test_a_path_is_a_melody(chorale, satb, tmp_path):
    path = chorale.write(tmp_path / "four.mid")  # four voices: the soprano is the tune
    for melody in (path, str(path)):
        assert same(m.harmonize(melody, run_dir=satb, log=quiet).melody, notes_of(TUNE))


@pytest.mark.parametrize("melody", ["tinyNotation: 4/4 c'4 x9", "tinyNotation: 4/4", "tinyNotation: 4/4 <c e g>4",
                                    "missing.mid", "folder/tune.musicxml"])
def test_a_bad_melody_is_the_command_lines_one_line_melody_error(melody, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MelodyError) as e:
        m.harmonize(melody, run_dir="nowhere", log=quiet)  # refused before any run folder is read
    assert main(["harmonize", melody, "--run-dir", "nowhere"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"music_lstm: error: {e.value}"]
    assert not list(tmp_path.iterdir())


def test_neither_text_a_path_nor_a_stream_is_a_melody_error():
    with pytest.raises(MelodyError, match=r"^int: a melody is tinyNotation text"):
        m.harmonize(42, run_dir="nowhere")


@pytest.mark.parametrize("setting,flag", [({"temperature": -1}, ["--temperature", "-1"]),
                                          ({"best_of": 0}, ["--best-of", "0"]),
                                          ({"seed": -1}, ["--seed", "-1"]),
                                          ({"num_outputs": 0}, ["--num-outputs", "0"]),
                                          ({"beam": 2.5}, ["--beam", "2.5"])])
def test_a_bad_setting_is_the_command_lines_config_error(setting, flag, capsys):
    with pytest.raises(ConfigError) as e:
        m.harmonize(TUNE, run_dir="nowhere", **setting)
    assert main(["harmonize", TUNE, "--run-dir", "nowhere", *flag]) == 2
    assert capsys.readouterr().err.startswith(f"music_lstm: error: {e.value}")  # the CLI adds: see --help


# --- compose ----------------------------------------------------------------------------------------------

def test_compose_returns_the_piece_generate_writes_for_the_same_seed(satb, tmp_path):
    piece = m.compose(run_dir=satb, length=40, seed=5, log=quiet)
    assert isinstance(piece, m.Chorale) and piece.task == "compose" and len(piece.voices) == 4
    assert piece.time_signature == "4/4" and np.isfinite(piece.log_prob) and piece.log_prob < 0
    assert main(["generate", "--run-dir", str(satb), "--length", "40", "--seed", "5",
                 "--output", str(tmp_path / "g.mid")]) == 0
    written = midi_read.read_midi(tmp_path / "g.mid").voices
    assert all(same(a, b) for a, b in zip(written, piece.voices))
    two = m.compose(run_dir=satb, length=40, seed=5, num_outputs=2, log=quiet)
    assert len(two) == 2 and two[0].voices != two[1].voices
    assert m.compose(run_dir=satb, length=40, seed=5, log=quiet).voices == piece.voices  # reproducible
    with pytest.raises(ConfigError, match=r"^invalid length: 0 "):
        m.compose(run_dir=satb, length=0)


def test_compose_with_cadence_is_the_piece_generate_cadence_writes(tmp_path):
    """The API's ending is the command line's: the same seed, the same four voices, the last two bars
    written again and the piece's first bars as the plain composition has them."""
    from music_lstm.runs.run_folder import SHIPPED

    run = SHIPPED / "compose"
    plain = m.compose(run_dir=run, length=300, seed=4, log=quiet)
    ended = m.compose(run_dir=run, length=300, seed=4, cadence=True, log=quiet)
    assert main(["generate", "--run-dir", str(run), "--length", "300", "--seed", "4", "--cadence",
                 "--output", str(tmp_path / "g.mid")]) == 0
    written = midi_read.read_midi(tmp_path / "g.mid").voices
    assert all(same(a, b) for a, b in zip(written, ended.voices))
    assert all([n for n in a if n[0] < 8] == [n for n in b if n[0] < 8] for a, b in zip(plain.voices, ended.voices))
    assert ended.voices != plain.voices


def test_compose_lifts_the_guards_it_is_told_to_and_only_those(satb, monkeypatch):
    from music_lstm.tasks import generate

    seen = []

    def pieces(run, length, given, *a, **kw):
        seen.append(given)
        return iter(())

    monkeypatch.setattr(generate, "compose_pieces", pieces)
    m.compose(run_dir=satb, length=40, seed=5, num_outputs=1, allow_syncopation=True, log=quiet)
    m.compose(run_dir=satb, length=40, seed=5, num_outputs=1, allow_clashes=True, log=quiet)
    assert seen == [{"keep_beat": False, "common_lengths": False}, {"no_clash": False}]


# --- the Done-when line and the docs ----------------------------------------------------------------------

@pytest.mark.slow
def test_on_a_fresh_install_the_one_liner_writes_four_parts_with_the_shipped_model_and_no_tensorflow_line(tmp_path):
    code = "import music_lstm as m; m.harmonize(\"tinyNotation: 4/4 c'4 d' e' f' g'2\").write('x.mid')"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "GRPC_"))}  # nothing set by the user
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr.splitlines() == [line for line in r.stderr.splitlines() if line.startswith("no runs/latest here")]
    assert len(r.stderr.splitlines()) == 1  # the one line saying the shipped model is used
    piece = midi_read.read_midi(tmp_path / "x.mid")
    assert piece.voices is not None and all(piece.voices)
    assert same(piece.voices[0], notes_of("tinyNotation: 4/4 c'4 d' e' f' g'2"))


@pytest.mark.slow
def test_the_examples_in_docs_api_md_run_with_the_shipped_models(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)  # no runs/latest: the shipped models, as on a fresh install
    namespace = {}
    exec(compile("\n".join(blocks), "docs/API.md", "exec"), namespace)
    assert {"tune.mid", "tune.musicxml", "chorale.mid"} <= {p.name for p in tmp_path.iterdir()}
    assert same(namespace["chorale"].melody, notes_of(namespace["tune"]))
    assert namespace["piece"].run_dir == run_folder.SHIPPED / "compose"
