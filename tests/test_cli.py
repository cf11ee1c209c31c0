"""The command line's wiring: each generate flag reaches `generate`, --version, the console script,
export-bach on a few chorales, a truly empty folder, and which errors become one line."""

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

    def fake(run_dir, output, **kw):
        seen.append({"run_dir": run_dir, "output": output, **kw})
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
    ("--allow-syncopation", None, lambda c: c["sampling"] == {"keep_beat": False}),
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
    assert capsys.readouterr().err == "music_lstm: error: invalid bpm: 5.0 (must be between 10 and 400)\n"


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
