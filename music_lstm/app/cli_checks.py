"""The command line's checks: every value a flag takes, checked before any work starts.

Each flag's value is read by one of the `type=` functions here, shared by every command that takes the
flag, so `generate --seed -1` and `harmonize --seed -1` are refused by the same words. A refusal is one
line (`OneLineParser`) and exit status 2; nothing is read, loaded or written first. `check_paths` checks
what only the whole command line tells: where the output files go.

    python -m music_lstm generate --seed -1    # music_lstm generate: error: argument --seed: ...
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

MAX_SEED = 2**32 - 1  # NumPy's generators take seeds of 32 bits and more; a seed is kept to what every one takes
MAX_LENGTH = 20_000  # symbols `generate` writes at most (about 40 times the default, a few minutes on a CPU)
MAX_OUTPUTS = 64  # --num-outputs, --best-of and --beam: rows stepped as one batch
MAX_TEMPERATURE = 10.0  # above this every distribution is as good as uniform
MAX_TOP_K = 100_000
MAX_REPEAT = 1_000
MIN_BPM, MAX_BPM = 10.0, 400.0


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are one `ConfigError` line, as every other bad setting is (`main`
    prints it and exits 2): `invalid seed: -1 (must be ...)` for a value these checks refuse, argparse's
    own words for the rest."""

    def error(self, message: str):
        from ..core.errors import ConfigError

        m = re.match(r"argument (--[-\w]+)(?:/\S+)?: (.* \(must .*)$", message)
        if m:  # one of the checks below: named as the setting, the way Config and Sampling name theirs
            message = f"invalid {m.group(1)[2:].replace('-', '_')}: {m.group(2)}"
        raise ConfigError(f"{message} (see {self.prog} --help)")


def _number(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} (must be a number)") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"{text} (must be a finite number)")
    return x


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} (must be a whole number)") from None


def number_in(low: float, high: float, low_open: bool = False, what: str = "a number"):
    """A `type=` for a finite number in [low, high] ((low, high] with `low_open`)."""

    def check(text: str) -> float:
        x = _number(text)
        if not (low < x if low_open else low <= x) or x > high:
            bounds = f"above {low:g} and at most {high:g}" if low_open else f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"{text} (must be {what} {bounds})")
        return x

    check.__name__ = "number"  # argparse names the type in its own messages
    return check


def whole_in(low: int, high: int, what: str = "a whole number"):
    """A `type=` for a whole number in [low, high]."""

    def check(text: str) -> int:
        n = _whole(text)
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{text} (must be {what} from {low} to {high})")
        return n

    check.__name__ = "whole number"
    return check


finite = number_in(-math.inf, math.inf)
temperature = number_in(0.0, MAX_TEMPERATURE, what="a temperature")
rhythm_temperature = number_in(0.0, MAX_TEMPERATURE, low_open=True, what="a temperature")
probability_mass = number_in(0.0, 1.0, low_open=True, what="a probability mass")
bpm = number_in(MIN_BPM, MAX_BPM, what="a tempo in beats per minute")
seed = whole_in(0, MAX_SEED, what="a whole number")
length = whole_in(1, MAX_LENGTH, what="a count of symbols")
count = whole_in(1, MAX_OUTPUTS, what="a count")
beam = whole_in(0, MAX_OUTPUTS, what="a beam width (0 = sample)")
top_k = whole_in(0, MAX_TOP_K, what="a count of symbols (0 = all)")
repeats = whole_in(0, MAX_REPEAT, what="a count of repeats (0 = no guard)")


def output_file(text: str) -> str:
    """A `type=` for a file to write: a name, not an existing folder (the folder is `check_paths`'s)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("'' (must be a file name)")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} (must be a file to write, not a folder: e.g. {Path(text) / 'out.mid'})")
    return text


def _writable_folder(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (None when they can)."""
    if not folder.is_dir():
        return f"{folder} does not exist" if not folder.exists() else f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} cannot be written"
    return None


def check_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The output files' folder must exist and be writable: `--output`'s folder, or `--output-dir` (which
    is made when missing, so the nearest folder above it that exists must be writable)."""
    output = getattr(args, "output", None)
    if output is None:
        return
    output_dir = getattr(args, "output_dir", None)
    if output_dir is not None:
        where = Path(output_dir)
        if where.exists() and not where.is_dir():
            parser.error(f"argument --output-dir: {where} (must be a folder, not a file)")
        above = where
        while not above.exists() and above != above.parent:
            above = above.parent
        why = _writable_folder(above)
        if why:
            parser.error(f"argument --output-dir: {where} (must be made in a folder that can be written: {why})")
        target = where / Path(output).name
        if target.is_dir():
            parser.error(f"argument --output: {target} (must be a file to write, not a folder)")
        return
    why = _writable_folder(Path(output).parent)
    if why:
        parser.error(f"argument --output: {output} (must be in a folder that exists and can be written: {why})")
