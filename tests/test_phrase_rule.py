"""The phrase rule (`core.phrases.phrase_ends`) and its benchmark's figures (benchmarks/phrase_rule.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from music_lstm.core.phrases import phrase_ends
from music_lstm.core.scores import Score4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from phrase_rule import agreement  # noqa: E402


def test_a_long_note_on_a_beat_no_shorter_than_the_one_before_ends_a_phrase():
    tune = [(0, 1, 67), (1, 1, 69), (2, 2, 71), (4, 2, 72), (6, 2, 71), (8, 1, 69), (9, 1, 67), (10, 2, 69)]
    # 2 (a half after a quarter), 4 and 6 (halves after halves), 10 the last note
    assert phrase_ends(tune) == (2.0, 4.0, 6.0, 10.0)


def test_a_long_note_after_a_longer_one_off_the_beat_or_short_is_no_end():
    tune = [(0, 4, 67), (4, 2.5, 69), (6.5, 2, 71), (8.5, 1, 72), (9.5, 0.5, 71), (10, 2, 69)]
    # 4: shorter than the note before; 6.5: off the beat; 8.5: under half a bar; 10: the last note
    assert phrase_ends(tune) == (10.0,)  # the first note has none before it


def test_a_note_before_a_rest_ends_a_phrase():
    assert phrase_ends([(0, 1, 67), (1, 1, 69), (3, 1, 71), (4, 1, 72)]) == (1.0, 4.0)


def test_agreement_counts_ends_within_a_quarter_note():
    s = Score4(([(0, 1, 60), (1, 2, 62), (3, 1, 64), (4, 4, 65)], [], [], []), fermatas=(1.5, 6.0), fermatas_written=True)
    a = agreement([s], lambda sop, meter, pickup: (1.0, 3.0, 4.0))  # 1.0 near 1.5; 3.0 and 4.0 are 3 and 2 from 6
    assert (a["precision"], a["recall"]) == (1 / 3, 1 / 2)
    assert abs(a["f1"] - 2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)) < 1e-12


def test_the_benchmarks_help_imports_no_tensorflow():
    code = ("import runpy, sys; sys.argv = ['phrase_rule.py', '--help']\n"
            "try:\n    runpy.run_path('benchmarks/phrase_rule.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'music21' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--smoke" in done.stdout
