"""Command line: `python -m music_lstm [train|generate|harmonize|evaluate|serve|export-bach] ...`.

With no command it trains on `bach/` into `runs/latest`, then writes `generated_midi.mid`.
Nothing here imports TensorFlow until a command needs it, so `--help` answers at once.

    python -m music_lstm --help
"""

from __future__ import annotations

import argparse
import os
import sys

from ..core.version import __version__
from ..core.quiet import quiet_tensorflow
from . import cli_checks as check

TENSORFLOW_COMMANDS = (None, "train", "train-fill", "generate", "harmonize", "rewrite", "evaluate", "serve")  # the ones that load TensorFlow
DESCRIPTION = "Learn music from a folder of MIDI files with an LSTM, and write new music as MIDI."
# Each command's --run-dir when none is given, before or after the command's name (None: runs/latest
# when it exists, else the model shipped for the task).
RUN_DIR_DEFAULTS = {None: "runs/latest", "train": "runs/latest", "evaluate": "runs/latest", "generate": None,
                    "harmonize": None, "rewrite": None, "serve": None, "train-fill": "runs/fill"}


def _train_args(p: argparse.ArgumentParser) -> None:
    from ..runs.config import Config
    from ..training.distribute import STRATEGIES
    from ..encodings import CHOICES, NAMES
    from ..encodings.jsb import ORDERS, VOICES_ORDER

    JSB_ORDERS = (*ORDERS, VOICES_ORDER)
    d = Config()
    p.add_argument("--data-dir", default=None, help="folder of .mid/.midi files (default: bach, or the resumed run's)")
    p.add_argument("--recursive", action="store_true", help="also read files in subfolders")
    p.add_argument("--jsb", default=None, metavar="FILE.json",
                   help="train on a JSB Chorales JSON file instead: its own train split, early stopping on its valid split "
                        "(evaluate scores its test split); not with --data-dir")
    p.add_argument("--jsb-order", default=None, choices=JSB_ORDERS,
                   help="--jsb: how a frame's pitches are written, high to low, low to high, relative, or voices "
                        "(default: high, voices for a voice-separated file)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"most epochs to train (default: {d.epochs})")
    p.add_argument("--max-minutes", type=check.finite, default=d.max_minutes, help=f"training time budget, 0 = none (default: {d.max_minutes})")
    p.add_argument("--seq-len", type=int, default=d.seq_len, help=f"window length in symbols (default: {d.seq_len})")
    p.add_argument("--units", type=int, default=d.units, help=f"cells per LSTM layer (default: {d.units})")
    p.add_argument("--embed-dim", type=int, default=d.embed_dim, help=f"symbol embedding size (default: {d.embed_dim})")
    p.add_argument("--dropout", type=check.finite, default=d.dropout, help=f"dropout after each LSTM (default: {d.dropout})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"windows per step on each replica (default: {d.batch_size})")
    p.add_argument("--learning-rate", type=check.finite, default=d.learning_rate, help=f"Adam learning rate (default: {d.learning_rate})")
    p.add_argument("--lr-decay", type=check.finite, default=d.lr_decay, help=f"learning rate factor after an epoch without improvement, 1 = constant (default: {d.lr_decay})")
    p.add_argument("--transpose", type=int, nargs=2, metavar=("LOW", "HIGH"), default=[d.transpose_low, d.transpose_high],
                   help=f"also train on the training pieces moved LOW..HIGH semitones, 0 0 = off (default: {d.transpose_low} {d.transpose_high})")
    p.add_argument("--patience", type=int, default=d.patience, help=f"epochs without improvement before stopping (default: {d.patience})")
    p.add_argument("--val-fraction", type=check.finite, default=d.val_fraction, help=f"share of pieces held out (default: {d.val_fraction})")
    p.add_argument("--encoding", default=d.encoding, choices=CHOICES, metavar="{" + ",".join(NAMES) + "}",
                   help="symbols: chords (one per onset, chords without octaves; 'seed' is its old name), voiced "
                        f"(pitches + durations per onset), grid (16th frames), satb (four sung lines; needs four-part files) "
                        f"(default: {d.encoding})")
    p.add_argument("--common-key", action=argparse.BooleanOptionalAction, default=None,
                   help="move every piece of a MIDI folder to the key signature of C major / A minor before encoding "
                        f"it; generated music goes back to its prompt's key (default: {'on' if d.common_key else 'off'})")
    p.add_argument("--melody-context", action="store_true",
                   help="satb: the network also reads the whole melody, to harmonize one (harmonize); such a run does not compose")
    p.add_argument("--durations", action="store_true", help="chords encoding: give each symbol its duration and keep rests")
    p.add_argument("--workers", type=int, default=None, help="parser processes (default: all cores)")
    p.add_argument("--no-cache", action="store_true", help="parse every file again, ignoring the parse cache")
    p.add_argument("--distribute", choices=STRATEGIES, default="none",
                   help="none: the default device; mirrored: every local GPU; multiworker: the machines in TF_CONFIG (default: none)")
    p.add_argument("--cache-dir", default=None, help="parse cache folder (default: $XDG_CACHE_HOME/music_lstm or ~/.cache/music_lstm)")


def _generate_args(p: argparse.ArgumentParser, with_seed: bool = True) -> None:
    from ..encodings import NAMES, get

    defaults = {name: get(name).default_sampling() for name in NAMES}

    def default(field: str) -> str:
        """The default of a sampling setting: the run's encoding's (each listed where they differ)."""
        values = {name: getattr(s, field) for name, s in defaults.items()}
        if len(set(values.values())) == 1:
            return f"(default: {next(iter(values.values()))})"
        return "(default: the run's encoding's: " + ", ".join(f"{n} {v}" for n, v in values.items()) + ")"

    four = ", ".join(n for n in NAMES if get(n).voices == 4)
    p.add_argument("--output", type=check.output_file, default="generated_midi.mid",
                   help="MIDI file to write, in a folder that exists (default: generated_midi.mid)")
    p.add_argument("--output-dir", default=None, help="folder for the output file(s), made when missing")
    p.add_argument("--length", type=check.length, default=500,
                   help=f"symbols to generate, 1 to {check.MAX_LENGTH} (default: 500)")
    p.add_argument("--num-outputs", type=check.count, default=1,
                   help=f"pieces to write, stepped as one batch, 1 to {check.MAX_OUTPUTS} (default: 1)")
    p.add_argument("--temperature", type=check.temperature, default=None,
                   help=f"0 = argmax, at most {check.MAX_TEMPERATURE:g} {default('temperature')}")
    p.add_argument("--rhythm-temperature", type=check.rhythm_temperature, default=None,
                   help=f"temperature among durations and rests (lengths) {default('rhythm_temperature')}")
    p.add_argument("--rhythm-top-p", type=check.probability_mass, default=None,
                   help=f"nucleus sampling mass among the lengths alone {default('rhythm_top_p')}")
    p.add_argument("--top-k", type=check.top_k, default=None, help="sample among the k likeliest symbols, 0 = all (default: 0)")
    p.add_argument("--top-p", type=check.probability_mass, default=None, help="nucleus sampling mass (default: 1.0 = off)")
    p.add_argument("--max-repeat", type=check.repeats, default=None,
                   help=f"most times a symbol may repeat in a row, 0 = no guard {default('max_repeat')}")
    p.add_argument("--max-chord-repeat", type=check.repeats, default=None,
                   help=f"chord-slice encodings: most times a chord may repeat in a row, 0 = no guard {default('max_chord_repeat')}")
    p.add_argument("--allow-parallels", action="store_true",
                   help=f"four-voice encodings ({four}): let two voices move in parallel perfect fifths, octaves or "
                        "unisons, and soprano and bass into hidden ones (by default sampling refuses them)")
    p.add_argument("--allow-clashes", action="store_true",
                   help=f"four-voice encodings ({four}): let two voices strike a minor second or major seventh together "
                        "(by default sampling refuses it)")
    p.add_argument("--allow-syncopation", action="store_true",
                   help=f"four-voice encodings ({four}): let a slice begun between two beats sound across the next "
                        "one, and a note end at a length the chorales hardly use (a dotted eighth, 7/4, 5/2; by default a slice ends by the next beat "
                        "and such a note is held on to the next common length, as in the chorales, so the music keeps its place in the bar)")
    p.add_argument("--primer", default=None, help="MIDI file whose symbols start the piece")
    p.add_argument("--include-primer", action="store_true", help="write the primer into the output too")
    _output_args(p)
    if with_seed:
        p.add_argument("--seed", type=check.seed, default=None,
                       help=f"random seed for a reproducible piece, 0 to {check.MAX_SEED}")


def _output_args(p: argparse.ArgumentParser) -> None:
    """The flags for what is written beside each piece: shared by generate and harmonize."""
    p.add_argument("--bpm", type=check.bpm, default=None,
                   help=f"tempo of the output, {check.MIN_BPM:g} to {check.MAX_BPM:g} (default: the training data's, else 90)")
    p.add_argument("--instrument", default="0",
                   help="General MIDI program 0-127, or piano, harpsichord, organ, guitar, strings, choir, flute; four-voice "
                        "encodings also take four separated by commas, soprano to bass (choir,choir,strings,organ) (default: 0 = piano)")
    p.add_argument("--format", default="midi", choices=("midi", "musicxml"),
                   help="midi, or musicxml to also write NAME.musicxml for notation programs: a chorale score on two staves "
                        "for four-voice encodings (default: midi)")
    p.add_argument("--plot", action="store_true", help="also write a piano roll NAME.png beside each MIDI file (voices coloured)")
    p.add_argument("--audio", action="store_true", help="also play each MIDI file through FluidSynth into NAME.wav (see --audio-format)")
    p.add_argument("--audio-format", default="wav", choices=("wav", "flac", "ogg"), help="--audio's format (default: wav)")
    p.add_argument("--soundfont", default=None, metavar="FILE",
                   help="SoundFont (.sf2/.sf3) for --audio (default: $MUSIC_LSTM_SOUNDFONT, else the system's General MIDI one)")
    p.add_argument("--score", action="store_true", help="also engrave NAME.musicxml into SVG pages NAME.svg, NAME-2.svg, ... (Verovio)")


def _harmonize_args(p: argparse.ArgumentParser) -> None:
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE

    p.add_argument("melody", metavar="MELODY",
                   help="a MIDI, MusicXML or .mxl file (a polyphonic one gives its top line), or tinyNotation text "
                        "such as \"tinyNotation: 4/4 c'4 d' e' f' g'2\"")
    _run_dir_arg(p, "satb run folder to read (default: runs/latest when it exists, else the model shipped with music_lstm)")
    p.add_argument("--output", type=check.output_file, default="harmonized.mid",
                   help="MIDI file to write, in a folder that exists (default: harmonized.mid)")
    p.add_argument("--num-outputs", type=check.count, default=1,
                   help=f"harmonizations to write, 1 to {check.MAX_OUTPUTS} (default: 1)")
    p.add_argument("--best-of", type=check.count, default=1, metavar="K",
                   help="sample K harmonizations for each output and keep the one the model finds likeliest (default: 1)")
    p.add_argument("--seed", type=check.seed, default=0, help=f"random seed, 0 to {check.MAX_SEED} (default: 0)")
    p.add_argument("--temperature", type=check.temperature, default=None,
                   help=f"0 = argmax, at most {check.MAX_TEMPERATURE:g} (default: {DEFAULT_TEMPERATURE} for a left-to-right "
                        "run, the sampler's 0.3 for a fill_lstm run)")
    p.add_argument("--beam", type=check.beam, default=0, metavar="K",
                   help="write the likeliest harmonizations a beam search of width K finds, instead of sampling "
                        "(--temperature, --best-of and --seed then do not apply; default: 0, sample)")
    p.add_argument("--keep", metavar="VOICES", default=None,
                   help="MELODY is a file of up to four parts: keep the parts named (comma-separated from "
                        "soprano,alto,tenor,bass) note for note and write the others; four parts are S, A, T, B, "
                        "fewer are the voices named, in order (a fill_lstm run folder)")
    _output_args(p)


def _rewrite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a four-part MIDI or MusicXML file")
    _run_dir_arg(p, "fill_lstm run folder to read (default: runs/latest when it exists, else the model shipped with music_lstm)")
    p.add_argument("--bars", required=True, metavar="A-B",
                   help="the bars to write again, 1-based and inclusive (2-3; a single bar: 4)")
    p.add_argument("--voices", default="soprano,alto,tenor,bass",
                   help="the voices to write again, comma-separated (default: soprano,alto,tenor,bass)")
    p.add_argument("--output", type=check.output_file, default="rewritten.mid",
                   help="MIDI file to write, in a folder that exists (default: rewritten.mid)")
    p.add_argument("--num-outputs", type=check.count, default=1,
                   help=f"versions to write, 1 to {check.MAX_OUTPUTS} (default: 1)")
    p.add_argument("--seed", type=check.seed, default=0, help=f"random seed, 0 to {check.MAX_SEED} (default: 0)")
    p.add_argument("--temperature", type=check.temperature, default=None,
                   help="each draw's temperature, 0 = argmax (default: the sampler's, 0.3)")
    _output_args(p)


def _train_fill_args(p: argparse.ArgumentParser) -> None:
    _run_dir_arg(p, "run folder to write (default: runs/fill)")
    p.add_argument("--holdout", required=True, metavar="SPLIT",
                   help="a run folder's split file whose \"validation\" pieces are kept out of training")
    p.add_argument("--minutes", type=float, default=30.0, help="training time budget (default: 30)")
    p.add_argument("--units", type=int, default=160, help="cells per direction of each LSTM layer (default: 160)")
    p.add_argument("--seed", type=check.seed, default=0, help="seed (default: 0)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N chorales only")
    p.add_argument("--init", default=None, metavar="RUN_DIR",
                   help="start from this fill_lstm run's network and optimizer state (train longer)")
    p.add_argument("--learning-rate", type=float, default=None, help="Adam's learning rate (default: 0.002)")
    p.add_argument("--transpose", type=int, default=0, metavar="N",
                   help="move half the training windows by 1 to N semitones up or down (default: 0, none)")
    p.add_argument("--dropout", type=float, default=None, help="dropout after each layer (default: 0.2)")
    p.add_argument("--sparse", type=float, default=0.0, metavar="SHARE",
                   help="the share of training windows with only 2-20%% of their cells to write (default: 0)")


def _run_dir_arg(p: argparse.ArgumentParser, help: str) -> None:
    """--run-dir after a command's name. Its default is not set here but in `main` (`RUN_DIR_DEFAULTS`):
    a subcommand's default would overwrite the value given before the command's name."""
    p.add_argument("--run-dir", default=argparse.SUPPRESS, help=help)


def build_parser() -> argparse.ArgumentParser:
    from ..runs.run_folder import DATA
    parser = check.OneLineParser(prog="music_lstm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"music_lstm {__version__}")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own start-up and runtime messages")
    parser.add_argument("--run-dir", default=argparse.SUPPRESS,
                        help="run folder, for the command too (default: the command's; runs/latest with no command)")
    # What every command also takes after its name; SUPPRESS keeps a value given before the name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="show TensorFlow's own messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_parser = sub.add_parser

    parser.commands = {}  # name -> its parser, whose name a refusal after parsing gives

    def add_parser(name, *a, **kw):
        parser.commands[name] = _add_parser(name, *a, parents=[common], **kw)
        return parser.commands[name]

    sub.add_parser = add_parser

    p = sub.add_parser("train", help="train on a folder of MIDI files into a run folder")
    _run_dir_arg(p, "run folder to write (default: runs/latest)")
    _train_args(p)
    p.add_argument("--seed", type=check.seed, default=0, help="seed for the split, shuffling and weights (default: 0)")
    p.add_argument("--holdout", default=None, metavar="RUN_DIR",
                   help="take the training and validation pieces of this run folder's split instead of a seeded "
                        "split: another seed, measured on the same held-out pieces")
    p.add_argument("--resume", action="store_true",
                   help="carry on from the run folder's last checkpoint with its saved settings (only --epochs, --max-minutes, --patience apply)")

    p = sub.add_parser("generate", help="write new MIDI from a trained run folder")
    _run_dir_arg(p, "run folder to read (default: runs/latest when it exists, else the model shipped with music_lstm)")
    _generate_args(p)
    p.add_argument("--cadence", action="store_true",
                   help="four-voice runs: end each piece on a cadence, its last two bars written again by the "
                        "harmonizer (fill_lstm) to a half-note tonic chord on beat 3, reached from its V")
    p.add_argument("--cadence-run-dir", default=None, metavar="RUN_DIR",
                   help="the fill_lstm run folder that writes the ending (default: the harmonizer shipped with "
                        "music_lstm)")

    p = sub.add_parser("harmonize", help="write alto, tenor and bass under a melody with a trained satb run folder")
    _harmonize_args(p)

    p = sub.add_parser("rewrite", help="write bars A-B of some voices of a four-part file again, every other note kept")
    _rewrite_args(p)

    p = sub.add_parser("train-fill", help="train the network that writes any voices or passage (fill_lstm) "
                                          "on music21's Bach chorales")
    _train_fill_args(p)

    p = sub.add_parser("evaluate", help="score a run on its held-out pieces against n-gram baselines, "
                       "or (--generated) compare generated MIDI with them on musical metrics, "
                       "or (--harmonize) harmonize their sopranos and compare with Bach's lower voices")
    _run_dir_arg(p, "run folder to read (default: runs/latest)")
    p.add_argument("--data-dir", default=None, help=f"folder of the run's MIDI files (default: the one recorded in {DATA})")
    p.add_argument("--generated", nargs="+", metavar="FILE.mid", default=None, help="generated MIDI files to measure")
    p.add_argument("--crop", type=int, default=None, help="onsets each piece is cropped to (default: the training pieces' median)")
    p.add_argument("--json", default=None, metavar="FILE.json", help="also write the figures as JSON")
    p.add_argument("--against", nargs="+", metavar="RUN_DIR", default=None,
                   help="--harmonize: also harmonize with these satb run folders, one row each")
    p.add_argument("--temperature", type=check.temperature, default=None,
                   help="--harmonize: sampling temperature of the harmonizers (default: harmonize's)")
    p.add_argument("--best-of", type=check.count, default=1, metavar="K",
                   help="--harmonize: keep the likeliest of K samples per chorale (default: 1)")
    p.add_argument("--beam", type=check.beam, default=0, metavar="K",
                   help="--harmonize: a beam search of width K instead of sampling (default: 0, sample)")
    p.add_argument("--harmonize", action="store_true",
                   help="satb runs: harmonize the soprano of each held-out chorale and compare with Bach's and an HMM's; "
                        "fill_lstm runs: every task and system side by side (eval/steering.py)")
    p.add_argument("--tasks", default=",".join(("soprano", "bass", "soprano+bass", "rewrite")),
                   help="--harmonize, fill_lstm runs: what is given, comma-separated from soprano, bass, soprano+bass, "
                        "rewrite (default: all four)")
    p.add_argument("--seeds", default="1", help="--harmonize, fill_lstm runs: sampling seeds, comma-separated; "
                                                "figures are their mean (default: 1)")
    p.add_argument("--peer", default=None, metavar="DIR",
                   help="--harmonize, fill_lstm runs: a folder of the peer's harmonizations, one MIDI file per "
                        "held-out piece (benchmarks/peer_deepbach.py)")
    p.add_argument("--limit", type=int, default=None, help="--harmonize, fill_lstm runs: the first N held-out pieces only")

    p = sub.add_parser("serve", help="a local web page to compose and harmonize in a browser (on 127.0.0.1 only)")
    _run_dir_arg(p, "run folder to read (default: runs/latest when it exists, else the models shipped with music_lstm)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on, 0 = any free one (default: 8000)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; any other than 127.0.0.1 lets other machines use the page, "
                        "with a warning (default: 127.0.0.1)")
    p.add_argument("--output-dir", default=None,
                   help="folder for each request's files, a new subfolder each (default: a temporary folder, removed at exit)")
    p.add_argument("--soundfont", default=None, metavar="FILE",
                   help="SoundFont for the page's audio (default: the system's General MIDI one)")
    p.add_argument("--token", default=None,
                   help="the token every request must carry (default: a new random one, printed in the page's address)")
    p.add_argument("--keep-requests", type=int, default=50, metavar="N",
                   help="request folders kept, the newest; older ones are removed (default: 50)")
    p.add_argument("--keep-mb", type=float, default=200.0, metavar="MB",
                   help="at most this many MB of request folders, the oldest removed first (default: 200)")
    p.add_argument("--rewrite-run-dir", default=None, metavar="RUN_DIR",
                   help="a fill_lstm run the page rewrites bars with, when the harmonizing run is not one "
                        "(default: the harmonizing run)")

    p = sub.add_parser("export-bach", help="write music21's Bach chorales as MIDI files")
    p.add_argument("--out", default="bach", help="folder to write (default: bach)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="write only the first N chorales (default: all)")
    return parser


def _config(args):
    from ..runs.config import Config

    return Config(
        encoding=args.encoding, durations=args.durations, seq_len=args.seq_len, embed_dim=args.embed_dim, units=args.units,
        dropout=args.dropout, batch_size=args.batch_size, epochs=args.epochs, learning_rate=args.learning_rate,
        lr_decay=args.lr_decay, transpose_low=args.transpose[0], transpose_high=args.transpose[1], patience=args.patience,
        val_fraction=args.val_fraction, max_minutes=args.max_minutes, seed=args.seed, jsb=args.jsb,
        jsb_order=args.jsb_order, melody_context=args.melody_context,
        common_key=Config.common_key if args.common_key is None else args.common_key,
    )


def _sampling(args):
    from ..core.sampling import Sampling

    """The sampling settings given on the command line, as a dict of the ones to change from the run's
    encoding's defaults (checked here, with those defaults, so a bad value is an error before any work)."""
    given = {k: getattr(args, k) for k in ("temperature", "rhythm_temperature", "rhythm_top_p", "top_k", "top_p", "max_repeat",
                                   "max_chord_repeat")
             if getattr(args, k) is not None}
    if args.allow_parallels:
        given["parallels_guard"] = False
    if args.allow_clashes:
        given["no_clash"] = False
    if args.allow_syncopation:
        given["keep_beat"] = given["common_lengths"] = False
    Sampling(**given)
    return given


def _train(args) -> None:
    from ..core.errors import ConfigError

    if args.jsb and args.data_dir:
        raise ConfigError("--jsb and --data-dir: give one (a JSB JSON file, or a folder of MIDI files)")
    if args.common_key and args.jsb:
        raise ConfigError("--common-key and --jsb: JSB Chorales frames are learned in the keys the file gives")
    if args.jsb_order and not args.jsb:
        raise ConfigError("--jsb-order applies only with --jsb")
    if args.holdout and (args.jsb or args.resume):
        raise ConfigError("--holdout: not with --jsb (the file gives its split) or --resume (the run keeps its own)")
    from ..training.train import train

    train(_config(args), args.data_dir, args.run_dir, resume=args.resume, holdout=args.holdout, recursive=args.recursive, workers=args.workers,
          use_cache=not args.no_cache, cache_dir=args.cache_dir, distribute=args.distribute)


def _evaluate(args) -> None:
    if args.harmonize:
        if args.generated:
            from ..core.errors import ConfigError

            raise ConfigError("--harmonize and --generated measure different things: give one of them")
        return _evaluate_harmonize(args)
    if args.generated:
        return _evaluate_generated(args)
    from ..eval.likelihood import evaluate, format_table
    from ..runs.run_folder import EVALUATION

    report = evaluate(args.run_dir)
    print(format_table(report))
    print(f"wrote {os.path.join(args.run_dir, EVALUATION)}")


def _evaluate_harmonize(args) -> None:
    from ..eval.harmonization import evaluate_run, format_table

    from ..core.errors import ConfigError
    from ..runs.fill_run import is_fill_run
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE

    if is_fill_run(args.run_dir):
        return _evaluate_fill(args)

    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    if temperature < 0 or args.best_of < 1 or args.beam < 0:
        raise ConfigError(f"invalid temperature {temperature}, best-of {args.best_of} or beam {args.beam} "
                          "(>= 0, >= 1, >= 0)")
    report = evaluate_run(args.run_dir, args.data_dir, args.json, temperature=temperature, best_of=args.best_of,
                          beam=args.beam, against=args.against or ())
    print(format_table(report))
    if args.json:
        print(f"wrote {args.json}")


def _evaluate_fill(args) -> None:
    from ..core.errors import ConfigError
    from ..eval.steering import TASKS, evaluate_fill, format_report
    from ..runs.run_folder import write_json

    tasks = [t.strip().replace("+", ",") for t in args.tasks.split(",") if t.strip()]
    tasks = [t.replace(",", "+") for t in tasks]
    bad = [t for t in tasks if t.replace("+", ",") not in TASKS]
    if bad or not tasks:
        raise ConfigError(f"invalid tasks: {args.tasks!r} (choose from soprano, bass, soprano+bass, rewrite)")
    try:
        seeds = [check.seed(x) for x in args.seeds.split(",") if x.strip()]
    except argparse.ArgumentTypeError as e:
        raise ConfigError(f"invalid seeds: {e}") from None
    if not seeds or (args.limit is not None and args.limit < 1):
        raise ConfigError(f"invalid seeds {args.seeds!r} or limit {args.limit}")
    against = (args.against or [None])[0]
    report = evaluate_fill(args.run_dir, [t.replace("+", ",") for t in tasks], seeds, against, args.peer, args.limit)
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


def _harmonize(args) -> None:
    from ..runs.fill_run import is_fill_run
    from ..runs.run_folder import resolve_run
    from ..tasks.harmonize import harmonize_files

    said = []
    folder = resolve_run(args.run_dir, "harmonize", said.append)
    if args.keep is not None or is_fill_run(folder):
        from ..tasks.steer import harmonize_fill_files, parse_voices

        keep = parse_voices(args.keep) if args.keep is not None else None
        for line in said:
            print(line, file=sys.stderr)
        paths = harmonize_fill_files(folder, args.melody, keep, args.output, num_outputs=args.num_outputs,
                                     seed=args.seed, temperature=args.temperature,
                                     outputs=_outputs(args))
        for path in paths:
            print(f"wrote {path}")
        return
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE

    paths = harmonize_files(
        args.run_dir, args.melody, args.output, num_outputs=args.num_outputs, best_of=args.best_of,
        temperature=DEFAULT_TEMPERATURE if args.temperature is None else args.temperature, seed=args.seed, outputs=_outputs(args), beam=args.beam,
    )
    for path in paths:
        print(f"wrote {path}")


def _rewrite(args) -> None:
    from ..tasks.steer import parse_bars, parse_voices, rewrite_files

    bars, voices = parse_bars(args.bars), parse_voices(args.voices)
    paths = rewrite_files(args.run_dir, args.file, bars, voices, args.output, num_outputs=args.num_outputs,
                          seed=args.seed, temperature=args.temperature, outputs=_outputs(args))
    for path in paths:
        print(f"wrote {path}")


def _train_fill(args) -> None:
    from ..training.fill_train import run_training

    run_training(args.holdout, args.run_dir, minutes=args.minutes, units=args.units, seed=args.seed, limit=args.limit,
                 init=args.init, learning_rate=args.learning_rate, transpose=args.transpose,
                 sparse=args.sparse, dropout=args.dropout)
    print(f"wrote {args.run_dir}")


def _evaluate_generated(args) -> None:
    from ..eval.metrics import evaluate_generated, format_table

    result = evaluate_generated(args.generated, args.run_dir, args.data_dir, args.crop, args.json)
    print(format_table(result))
    if args.json:
        print(f"wrote {args.json}")


def _outputs(args):
    """generate's and harmonize's output options, as one `tasks.outfiles.Outputs`."""
    from ..tasks.outfiles import Outputs

    return Outputs(fmt=args.format, plot=args.plot, audio=args.audio, audio_format=args.audio_format,
                   soundfont=args.soundfont, score=args.score, bpm=args.bpm, instrument=args.instrument)


def _generate(args) -> None:
    from ..tasks.generate import generate

    paths = generate(
        args.run_dir, args.output, length=args.length, sampling=_sampling(args), primer=args.primer,
        include_primer=args.include_primer, seed=args.seed, num_outputs=args.num_outputs, output_dir=args.output_dir,
        outputs=_outputs(args), cadence=args.cadence, cadence_run_dir=args.cadence_run_dir,
    )
    for path in paths:
        print(f"wrote {path}")


def _serve(args) -> None:
    from .serve import serve

    serve(args.run_dir, port=args.port, host=args.host, output_dir=args.output_dir, soundfont=args.soundfont,
          token=args.token, keep_requests=args.keep_requests, keep_mb=args.keep_mb, rewrite_run=args.rewrite_run_dir)


def _export_bach(args) -> None:
    from ..core.errors import ConfigError
    from ..io.bach_export import export_bach

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"invalid limit: {args.limit} (must be >= 1)")
    n = export_bach(args.out, log=lambda msg: print(msg, file=sys.stderr), limit=args.limit)
    print(f"wrote {n} chorales to {args.out}")


def main(argv: list[str] | None = None) -> int:
    from ..core.errors import MusicLSTMError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # every value is checked before any work: a bad one is one line (cli_checks)
        args = parser.parse_args(argv)
        if not hasattr(args, "run_dir"):
            args.run_dir = RUN_DIR_DEFAULTS.get(args.command)
        check.check_paths(parser.commands.get(args.command, parser), args)
    except MusicLSTMError as e:
        print(f"music_lstm: error: {e}", file=sys.stderr)
        return 2
    if not args.verbose and args.command in TENSORFLOW_COMMANDS:
        quiet_tensorflow()

    try:
        if args.command is None:  # the whole job: train on bach/, then generate
            args = build_parser().parse_args(["train", "--run-dir", args.run_dir])  # every default
            _train(args)
            _generate(build_parser().parse_args(["generate", "--run-dir", args.run_dir]))
        elif args.command == "train":
            _train(args)
        elif args.command == "generate":
            _generate(args)
        elif args.command == "harmonize":
            _harmonize(args)
        elif args.command == "rewrite":
            _rewrite(args)
        elif args.command == "train-fill":
            _train_fill(args)
        elif args.command == "evaluate":
            _evaluate(args)
        elif args.command == "serve":
            _serve(args)
        elif args.command == "export-bach":
            _export_bach(args)
    except MusicLSTMError as e:  # a known failure: one line. Anything else is a bug and keeps its traceback.
        print(f"music_lstm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("music_lstm: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
