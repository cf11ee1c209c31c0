"""The command line's wiring: each generate flag reaches `generate`, --version, the console script,
export-bach on a few chorales, a truly empty folder, and which errors become one line."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from music_lstm import __version__
from music_lstm.app.cli import main
from music_lstm.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def calls(monkeypatch):
    """Run `generate` from the command line with a stand-in that records what it was given."""
    from music_lstm.tasks import generate

    seen = []

    def fake(run_dir, output, outputs, **kw):  # the output options one `Outputs`, its fields checked one by one
        seen.append({"run_dir": run_dir, "output": output, **kw, **dataclasses.asdict(outputs)})
        return []

    monkeypatch.setattr(generate, "generate", fake)
    return seen


FLAGS = [  # flag, value, what it must change
    ("--temperature", "0.9", lambda c: c["sampling"].get("temperature") == 0.9),
    ("--rhythm-temperature", "0.3", lambda c: c["sampling"].get("rhythm_temperature") == 0.3),
    ("--rhythm-top-p", "0.8", lambda c: c["sampling"].get("rhythm_top_p") == 0.8),
    ("--top-k", "5", lambda c: c["sampling"].get("top_k") == 5),
    ("--top-p", "0.7", lambda c: c["sampling"].get("top_p") == 0.7),
    ("--max-repeat", "2", lambda c: c["sampling"].get("max_repeat") == 2),
    ("--max-chord-repeat", "3", lambda c: c["sampling"].get("max_chord_repeat") == 3),
    ("--allow-parallels", None, lambda c: c["sampling"] == {"parallels_guard": False}),
    ("--allow-clashes", None, lambda c: c["sampling"] == {"no_clash": False}),
    ("--allow-syncopation", None, lambda c: c["sampling"] == {"keep_beat": False, "common_lengths": False}),
    ("--audio", None, lambda c: c["audio"] is True),
    ("--audio-format", "flac", lambda c: c["audio_format"] == "flac"),
    ("--soundfont", "gm.sf2", lambda c: c["soundfont"] == "gm.sf2"),
    ("--score", None, lambda c: c["score"] is True),
    ("--length", "7", lambda c: c["length"] == 7),
    ("--num-outputs", "2", lambda c: c["num_outputs"] == 2),
    ("--seed", "5", lambda c: c["seed"] == 5),
    ("--primer", "p.mid", lambda c: c["primer"] == "p.mid"),
    ("--include-primer", None, lambda c: c["include_primer"] is True),
    ("--bpm", "120", lambda c: c["bpm"] == 120.0),
    ("--instrument", "organ", lambda c: c["instrument"] == "organ"),
    ("--format", "musicxml", lambda c: c["fmt"] == "musicxml"),
    ("--plot", None, lambda c: c["plot"] is True),
    ("--output-dir", "out", lambda c: c["output_dir"] == "out"),
    ("--output", "x.mid", lambda c: c["output"] == "x.mid"),
]


def test_every_generate_flag_changes_what_generate_is_given(calls):
    assert main(["generate"]) == 0
    default = calls[-1]
    assert default["sampling"] == {}  # no sampling flag: the run's encoding's own defaults
    assert not any(check(default) for _, _, check in FLAGS)  # the defaults differ from every value below
    for flag, value, check in FLAGS:
        assert main(["generate", flag] + ([value] if value else [])) == 0
        assert check(calls[-1]), flag
        changed = {k for k in default if calls[-1][k] != default[k]}
        assert len(changed) == 1, (flag, changed)  # that flag, and nothing else


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"music_lstm {__version__}"


def test_the_console_script_runs_main():
    script = shutil.which("music-lstm", path=str(Path(sys.executable).parent))
    assert script, "music-lstm is not installed beside this Python: pip install -e .[test]"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == f"music_lstm {__version__}"
    out = subprocess.run([script, "generate", "--run-dir", str(ROOT / "no-such-run")], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip().endswith("no such run folder (train first: python -m music_lstm train)")


@pytest.mark.slow
def test_export_bach_writes_the_first_chorales_as_readable_midi(tmp_path, capsys):
    from music_lstm.io import midi_read

    assert main(["export-bach", "--out", str(tmp_path / "bach"), "--limit", "2"]) == 0
    files = sorted((tmp_path / "bach").glob("*.mid"))
    assert len(files) == 2 and f"wrote 2 chorales to {tmp_path / 'bach'}" in capsys.readouterr().out
    for f in files:
        assert len(midi_read.read_midi(f).notes) > 20


def test_export_bach_limit_must_be_positive(capsys):
    assert main(["export-bach", "--limit", "0"]) == 2
    assert capsys.readouterr().err.strip() == "music_lstm: error: invalid limit: 0 (must be >= 1)"


def test_a_truly_empty_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--data-dir", str(tmp_path / "empty"), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"music_lstm: error: {tmp_path / 'empty'}: no .mid or .midi files"
    assert not (tmp_path / "run").exists()


def test_a_bad_value_is_a_config_error_of_one_line(capsys):
    with pytest.raises(ConfigError):
        from music_lstm.core.sampling import Sampling

        Sampling(top_p=0)
    assert main(["generate", "--bpm", "5"]) == 2
    assert capsys.readouterr().err == ("music_lstm: error: invalid bpm: 5 (must be a tempo in beats per minute from 10 to 400) "
                                       "(see music_lstm generate --help)\n")


def test_a_bug_keeps_its_traceback(monkeypatch):
    from music_lstm.tasks import generate

    def bug(*a, **kw):
        raise ValueError("a bug, not a user's mistake")

    monkeypatch.setattr(generate, "generate", bug)
    with pytest.raises(ValueError, match="a bug"):
        main(["generate"])


def test_verbose_leaves_tensorflow_its_messages(monkeypatch):
    from music_lstm.app import cli

    quieted = []
    monkeypatch.setattr(cli, "quiet_tensorflow", lambda: quieted.append(True))
    monkeypatch.setattr(cli, "_generate", lambda args: None)
    assert main(["generate"]) == 0 and quieted == [True]
    assert main(["--verbose", "generate"]) == 0 and main(["generate", "--verbose"]) == 0 and quieted == [True]


# --- every value checked before any work (cli_checks) ---------------------------------------------------

TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2"


@pytest.fixture
def harmonize_calls(monkeypatch, tmp_path):
    """The left-to-right harmonizer's wiring: a runs/latest that is not a fill_lstm run."""
    from music_lstm.tasks import harmonize

    (tmp_path / "runs" / "latest").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(harmonize, "harmonize_files", lambda *a, **kw: seen.append((a, kw)) or [])
    return seen


@pytest.mark.parametrize("argv, words", [
    (["generate", "--seed", "-1"], ("invalid seed: -1", "4294967295")),
    (["generate", "--seed", str(2**32)], ("invalid seed",)),
    (["harmonize", TUNE, "--seed", "-1"], ("invalid seed: -1",)),
    (["generate", "--temperature", "inf"], ("invalid temperature: inf", "finite")),
    (["harmonize", TUNE, "--temperature", "inf"], ("invalid temperature: inf", "finite")),
    (["harmonize", TUNE, "--temperature", "nan"], ("invalid temperature: nan", "finite")),
    (["generate", "--top-p", "nan"], ("invalid top_p",)),
    (["generate", "--rhythm-top-p", "1.5"], ("invalid rhythm_top_p",)),
    (["generate", "--rhythm-temperature", "0"], ("invalid rhythm_temperature",)),
    (["generate", "--bpm", "inf"], ("invalid bpm",)),
    (["generate", "--length", "1000000000"], ("invalid length: 1000000000", "20000")),
    (["generate", "--num-outputs", "100000"], ("invalid num_outputs",)),
    (["harmonize", TUNE, "--beam", "100000"], ("invalid beam",)),
    (["harmonize", TUNE, "--best-of", "0"], ("invalid best_of",)),
    (["evaluate", "--harmonize", "--temperature", "nan"], ("invalid temperature",)),
    (["train", "--learning-rate", "nan"], ("invalid learning_rate",)),
])
def test_a_bad_value_is_refused_in_one_line_before_any_work(argv, words, calls, harmonize_calls, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("music_lstm: error: "), err
    for w in words:
        assert w in err[0], err[0]
    assert not calls and not harmonize_calls  # nothing ran


def test_an_output_that_is_a_folder_or_in_a_missing_folder_is_refused_and_nothing_is_written(
        tmp_path, calls, harmonize_calls, capsys):
    before = sorted(tmp_path.rglob("*"))
    for argv in (["generate", "--output", str(tmp_path)], ["harmonize", TUNE, "--output", str(tmp_path)],
                 ["generate", "--output", str(tmp_path / "no" / "g.mid")],
                 ["generate", "--output-dir", str(tmp_path), "--output", "."],
                 ["generate", "--output-dir", str(tmp_path / "no"), "--output", "g.mid/"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "output" in err[0], err
    assert not calls and not harmonize_calls and sorted(tmp_path.rglob("*")) == before
    (tmp_path / "a_file").write_text("x")
    assert main(["generate", "--output-dir", str(tmp_path / "a_file")]) == 2
    assert main(["generate", "--output-dir", str(tmp_path / "new" / "deeper"), "--output", "g.mid"]) == 0  # made later
    assert calls[-1]["output_dir"] == str(tmp_path / "new" / "deeper")


def test_a_bad_value_from_the_shell_is_one_line_exit_2_without_tensorflow(tmp_path):
    out = subprocess.run([sys.executable, "-m", "music_lstm", "generate", "--seed", "-1", "--output", str(tmp_path / "g.mid")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "music_lstm: error: invalid seed: -1 (must be a whole number from 0 to 4294967295) (see music_lstm generate --help)"]
    assert not list(tmp_path.iterdir())


# --- a --run-dir before the command's name (issue 21, bug 1) ---------------------------------------------

def test_a_run_dir_given_before_the_command_reaches_it(calls, harmonize_calls):
    assert main(["--run-dir", "runs/x", "generate"]) == 0
    assert calls[-1]["run_dir"] == "runs/x"  # was None: generate's own default overwrote it
    assert main(["--run-dir", "runs/x", "generate", "--run-dir", "runs/y"]) == 0
    assert calls[-1]["run_dir"] == "runs/y"  # after the name wins
    assert main(["generate"]) == 0
    assert calls[-1]["run_dir"] is None  # none given: runs/latest, else the shipped model (resolve_run)
    assert main(["--run-dir", "runs/x", "harmonize", TUNE]) == 0
    assert harmonize_calls[-1][0][0] == "runs/x"
    assert main(["harmonize", TUNE]) == 0
    assert harmonize_calls[-1][0][0] is None


def test_a_run_dir_before_evaluate_or_train_reaches_it(monkeypatch):
    from music_lstm.app import cli

    seen = []
    monkeypatch.setattr(cli, "_evaluate", lambda args: seen.append(args.run_dir))
    monkeypatch.setattr(cli, "_train", lambda args: seen.append(args.run_dir))
    monkeypatch.setattr(cli, "quiet_tensorflow", lambda: None)
    assert main(["--run-dir", "runs/x", "evaluate"]) == main(["--run-dir", "runs/x", "train"]) == 0
    assert main(["evaluate"]) == 0
    assert seen == ["runs/x", "runs/x", "runs/latest"]


# --- harmonize samples under generate's grammar (issue 21, bug 4) ---------------------------------------

@pytest.mark.slow
def test_harmonize_samples_under_the_guards_generate_uses_for_the_run():
    import dataclasses

    from music_lstm.core.ranges import BACH_RANGES
    from music_lstm.encodings import satb
    from music_lstm.io import melody_input
    from music_lstm.runs.run_folder import SHIPPED, load_run, read_sampling
    from music_lstm.tasks.harmonizer import LSTMHarmonizer

    run = load_run(SHIPPED / "harmonize_lstm")
    harmonizer = LSTMHarmonizer.from_run(run)
    encoding = run.config.encoder()
    sampling = dataclasses.replace(encoding.default_sampling(), **read_sampling(run.path))
    ours = harmonizer._grammar(8)
    assert (ours.guard, ours.no_clash, ours.keep_beat) == (sampling.parallels_guard, sampling.no_clash, sampling.keep_beat)
    assert ours.no_clash and ours.keep_beat and ours.no_crossing  # generate's guards, and voices that do not cross
    bach = satb.Grammar(run.vocab.index_to_symbol, 8, ranges=BACH_RANGES)
    assert (ours.in_range == bach.in_range).all()  # Bach's voice ranges, as docs/CLI.md says
    # The guards hold in what comes out: no two voices struck together a minor second or major seventh apart.
    melody, _ = melody_input.read_melody("tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 f'4 e' d' c' d'2 c'2")
    for out in harmonizer.harmonize(melody, num_outputs=4, temperature=1.0, seed=3):
        struck: dict[float, list[int]] = {}
        for voice in out.voices:
            for o, _, p in voice:
                struck.setdefault(round(o, 6), []).append(p)
        for pitches in struck.values():
            assert not any(abs(a - b) % 12 in (1, 11) for i, a in enumerate(pitches) for b in pitches[i + 1:]), pitches
