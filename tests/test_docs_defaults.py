"""The defaults the docs quote are the code's: each `(default X)` next to a `--flag` in docs/CLI.md against the
parser's default (or, for a sampling flag whose parser default is None, the `Sampling` default the command falls
back to), and satb's sampling defaults wherever a doc quotes them against `SATB.default_sampling`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from music_lstm.app.cli import build_parser
from music_lstm.encodings import get
from music_lstm.core.sampling import Sampling

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "docs" / "CLI.md"
# Which command a section of docs/CLI.md is about, by a word of its heading.
SECTIONS = {"Generating": "generate", "Output": "generate", "Harmonizing": "harmonize", "serve": "serve",
            "Evaluating": "evaluate", "evaluate --generated": "evaluate", "Training": "train", "MIDI folder": "train",
            "JSB": "train", "Parse cache": "train", "GPUs": "train"}
# `generate`'s sampling flags default to None: the run's sampling.json, else the encoding's defaults, else these.
SAMPLING_FLAGS = {"--temperature": "temperature", "--rhythm-temperature": "rhythm_temperature", "--top-k": "top_k",
                  "--top-p": "top_p", "--rhythm-top-p": "rhythm_top_p", "--max-repeat": "max_repeat",
                  "--max-chord-repeat": "max_chord_repeat"}
FLAG = re.compile(r"`(--[a-z][a-z0-9-]*)[^`]*`")
DEFAULT = re.compile(r"\(default:? (`[^`]+`|[^;,:)\s]+)")


def parser_defaults() -> dict[str, dict[str, object]]:
    """{command: {--flag: default}} from every subparser of the command line."""
    out = {}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = {opt: a.default for a in sub._actions for opt in a.option_strings if opt.startswith("--")}
    return out


def effective(command: str, flag: str, default):
    if default is None and command in ("generate", "evaluate") and flag in SAMPLING_FLAGS:
        return getattr(Sampling(), SAMPLING_FLAGS[flag])
    return default


def quoted_defaults(text: str) -> list[tuple[str, str, str, int]]:
    """(command, --flag, quoted value, line) for each `(default X)` that follows a flag in its table row or
    sentence, up to the next flag; values for one encoding (`X for \\`satb\\``) are left to the satb test."""
    found, command = [], None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            command = next((c for word, c in SECTIONS.items() if word in line), None)
            continue
        if command is None:
            continue
        if line.startswith("| `--"):  # a table row documents the (first) flag of its first cell
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            flag, rest = FLAG.search(cells[0]).group(1), " | ".join(cells[1:])
            d = DEFAULT.search(rest)
            if d:
                found.append((command, flag, d.group(1).strip("`"), n))
            elif len(cells) == 3 and re.fullmatch(r"`[^`]+`|off|on|\d[\d.]*", cells[1]):
                found.append((command, flag, cells[1].strip("`"), n))  # the "| flag | default | what |" table
            continue
        flags = list(FLAG.finditer(line))
        for i, m in enumerate(flags):
            end = flags[i + 1].start() if i + 1 < len(flags) else len(line)
            d = DEFAULT.search(line, m.end(), end)
            if d:
                found.append((command, m.group(1), d.group(1).strip("`"), n))
    return found


def same(quoted: str, code) -> bool:
    if isinstance(code, bool):
        return quoted in (("on", "true") if code else ("off", "false"))
    if isinstance(code, (int, float)):
        try:
            return float(quoted) == float(code)
        except ValueError:
            return False
    if isinstance(code, (list, tuple)):
        return quoted.split() == [str(c) for c in code]
    return quoted == str(code)


def test_cli_md_quotes_the_parsers_defaults():
    defaults = parser_defaults()
    quotes = quoted_defaults(CLI.read_text(encoding="utf-8"))
    assert len(quotes) >= 10, quotes  # the doc's defaults are found at all
    wrong, checked = [], 0
    for command, flag, value, line in quotes:
        owners = [command] if flag in defaults.get(command, {}) else [c for c in defaults if flag in defaults[c]]
        if not owners:
            wrong.append(f"CLI.md:{line}: {flag} is no option of any command")
            continue
        code = effective(owners[0], flag, defaults[owners[0]][flag])
        if code is None:  # a default the parser leaves to the run or the system (bpm, soundfont, workers)
            continue
        checked += 1
        if not same(value, code):
            wrong.append(f"CLI.md:{line}: {owners[0]} {flag} quoted as {value!r}, the code's default is {code!r}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 8


SATB_QUOTES = [  # the ways the docs quote satb's own sampling defaults: (regex, which Sampling field)
    (r"(\d(?:\.\d+)?) for `satb`", "temperature"),
    (r"satb: T (\d(?:\.\d+)?)", "temperature"),
    (r"satb: T \d(?:\.\d+)?, lengths (\d(?:\.\d+)?)", "rhythm_temperature"),
    (r"`satb`[^.]*?pitches are sampled at (\d(?:\.\d+)?)", "temperature"),
    (r"default_sampling`?: pitches at (\d(?:\.\d+)?)", "temperature"),
    (r"default_sampling`?: pitches at \d(?:\.\d+)?, lengths at (\d(?:\.\d+)?)", "rhythm_temperature"),
    (r"satb default is pitches at (\d(?:\.\d+)?)", "temperature"),
    (r"satb default is pitches at \d(?:\.\d+)?, lengths at\s+(\d(?:\.\d+)?)", "rhythm_temperature"),
    (r"The encoding has its own sampling defaults \(temperature (\d(?:\.\d+)?)", "temperature"),
    (r"The encoding has its own sampling defaults \(temperature \d(?:\.\d+)?, rhythm temperature (\d(?:\.\d+)?)",
     "rhythm_temperature"),
]


def satb_quotes(paths) -> list[tuple[str, str, float]]:
    out = []
    for path in paths:
        text = " ".join(path.read_text(encoding="utf-8").split())  # a quote may break across lines
        for pattern, field in SATB_QUOTES:
            out += [(path.name, field, float(m.group(1))) for m in re.finditer(pattern, text)]
    return out


def test_every_doc_quotes_satbs_own_sampling_defaults():
    code = get("satb").default_sampling()
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # docs/notes/ is history, not quoted
    quotes = satb_quotes(docs)
    assert len({name for name, _, _ in quotes}) >= 4, quotes  # CLI, DESIGN, DECISIONS, ENCODINGS, BENCHMARKS
    wrong = [f"{name}: satb {field} quoted as {v}, the code's is {getattr(code, field)}"
             for name, field, v in quotes if v != getattr(code, field)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("doc, found", [
    ("## Generating music\n| `--length N` | symbols (default 500) |\n", [("generate", "--length", "500")]),
    ("## Harmonizing a melody\n- `--temperature` (default 0.5) and `--seed` (default 0, so)\n",
     [("harmonize", "--temperature", "0.5"), ("harmonize", "--seed", "0")]),
    ("## The local page: `serve`\n- `--host` (default 127.0.0.1: only this machine)\n", [("serve", "--host", "127.0.0.1")]),
    ("## Generating music\n| `--temperature T` | default: 0.8 for `satb` |\n", []),
])
def test_quoted_defaults_are_read_from_prose_and_tables(doc, found):
    assert [q[:3] for q in quoted_defaults(doc)] == found


def test_the_fill_samplers_rounds_sweeps_and_passing_weight_in_cli_md_are_the_codes():
    from music_lstm.tasks import fill

    text = " ".join(CLI.read_text().split())
    rounds = re.search(r"(\d+) rounds for a harmonization, (\d+) for a rewritten passage", text)
    assert rounds and (int(rounds[1]), int(rounds[2])) == (fill.ROUNDS, fill.REWRITE_ROUNDS)
    words = {"three": 3, "six": 6, "nine": 9, "twelve": 12}
    sweeps = re.search(r"then (\w+) sweeps", text)
    assert sweeps and words.get(sweeps[1], -1) == fill.SWEEPS
    passing = re.search(r"off the beat is weighted ([\d.]+) for each move", text)
    assert passing and float(passing[1]) == fill.PASSING
