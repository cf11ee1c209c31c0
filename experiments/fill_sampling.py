"""Choosing the fill sampler's temperature and rounds on training-side pieces (the run's
"validation_loss" chorales: kept out of training, never the held-out 41): chord agreement with Bach,
cadences at fermatas, the bass's eighths and the alto's repeated notes, per setting.

    python experiments/fill_sampling.py --run-dir runs/fill --pieces 12
    python experiments/fill_sampling.py --run-dir music_lstm/shipped/harmonize --pieces 24 \
        --settings "0.3:24:16+APPROACHES=0,0.3:24:16+REPEAT_WEIGHT=1"   # the sampler's switches, one setting each
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--pieces", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1, help="sampling seed (default: 1)")
    ap.add_argument("--moves", help="a JSON file of move weights (experiments/fill_moves.py) in place of the run's")
    ap.add_argument("--settings", default="0.7:24,1.0:24,0.5:24,0.7:48", help="temperature:rounds[:cadence rounds[:r0|r1, repeats sharpened or at the network's odds]], then "
                    "+NAME=VALUE for each of `tasks.fill`'s switches set otherwise (1/0 for true/false), comma-separated")
    a = ap.parse_args(argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from music_lstm.eval.bach_style import style_table
    from music_lstm.eval.steering import training_side
    from music_lstm.tasks.fill import FillWriter

    pieces = training_side(a.run_dir, a.pieces)
    writer = FillWriter.from_run(a.run_dir)
    if a.moves:
        writer.moves = np.array(json.loads(Path(a.moves).read_text())["moves"])
    from music_lstm.tasks import fill as fill_module

    defaults = {k: getattr(fill_module, k) for k in dir(fill_module) if k.isupper()}
    for setting in a.settings.split(","):
        setting, *switches = setting.split("+")
        for k, v in defaults.items():
            setattr(fill_module, k, v)
        for sw in switches:
            k, v = sw.split("=")
            old = defaults[k]
            setattr(fill_module, k, v if isinstance(old, str) else v == "1" if isinstance(old, bool) else type(old)(float(v)))
        parts = setting.split(":")
        temp, rounds = float(parts[0]), int(parts[1])
        cadence = int(parts[2]) if len(parts) > 2 else 0
        fill_module.KEEP_REPEAT_ODDS = parts[3] != "r0" if len(parts) > 3 else fill_module.KEEP_REPEAT_ODDS
        writer_rounds = rounds
        t0 = time.time()
        outs = []
        for s in pieces:
            given = s.with_voices((s.voices[0], [], [], []))
            outs.append(writer.harmonize(given, seed=np.random.default_rng(a.seed), temperature=temp,
                                         rounds=writer_rounds, cadence_rounds=cadence)[0].voices)
        table = style_table(pieces, {"fill": outs}, two_sample=False)
        def moves(vs, voice):
            """The share of a voice's moves by 0, 1, 2, 3-4 and 5 or more semitones."""
            x = np.array([abs(b[2] - a[2]) for v in vs for a, b in zip(v[voice], v[voice][1:])])
            return np.array([np.mean(x == 0), np.mean(x == 1), np.mean(x == 2), np.mean((x == 3) | (x == 4)), np.mean(x >= 5)])

        def odd_lengths(vs):
            """The share of the written voices' notes (alto, tenor, bass) of a length the chorales hardly use."""
            from music_lstm.core.events import common_length

            x = [d for v in vs for voice in v[1:] for _, d, _ in voice[:-1]]  # each voice's last note may be cut
            return float(np.mean([not common_length(d) for d in x]))

        def passing(vs):
            """The share of the written voices' notes struck off the beat (a note either side, no rest) that
            come and go by step (1 or 2 semitones), as passing and neighbour notes do."""
            x = [abs(b[2] - a[2]) in (1, 2) and abs(c[2] - b[2]) in (1, 2) for v in vs for voice in v[1:]
                 for a, b, c in zip(voice, voice[1:], voice[2:])
                 if abs(b[0] % 1) > 1e-3 and abs(a[0] + a[1] - b[0]) < 1e-6 and abs(b[0] + b[1] - c[0]) < 1e-6]
            return float(np.mean(x)) if x else 0.0

        def no_chord(vs):
            """The share of four-voice onset slices on the beat, and off it, that make no chord (`eval.voice_leading.chord_type`)."""
            from music_lstm.eval.voice_leading import chord_type
            from music_lstm.eval.voice_leading import voice_slices

            sl = [x for v in vs for x in voice_slices(v) if x.full]
            on = np.array([abs(x.offset % 1) < 1e-3 or abs(x.offset % 1 - 1) < 1e-3 for x in sl])
            bad = np.array([chord_type({p % 12 for p in x.pitches}) is None for x in sl])
            return f"{bad[on].mean():.3f}/{bad[~on].mean():.3f}"

        def crossings(vs):
            """The share of four-voice slices where the alto is under the tenor, and where the tenor is under the bass."""
            from music_lstm.eval.voice_leading import voice_slices

            sl = [x for v in vs for x in voice_slices(v) if x.full]
            return "/".join(f"{np.mean([x.pitches[u] < x.pitches[u + 1] for x in sl]):.3f}" for u in (1, 2))

        def doubled_thirds(vs):
            """The share of four-voice slices on the beat that are a major triad or a dominant seventh with its
            third (a dominant's leading tone) in two voices."""
            from music_lstm.eval.voice_leading import chord_type, voice_slices

            n = bad = 0
            for v in vs:
                for x in voice_slices(v):
                    if x.full and abs(x.offset % 1) < 1e-3:
                        n += 1
                        pcs = [p % 12 for p in x.pitches]
                        if chord_type(set(pcs)) in ("major", "dominant7"):
                            root = next(r for r in set(pcs) if (r + 4) % 12 in pcs and ((r + 7) % 12 in pcs or (r + 10) % 12 in pcs
                                                                                       or len(set(pcs)) == 2))
                            bad += pcs.count((root + 4) % 12) >= 2
            return bad / max(n, 1)

        def swings(vs):
            """The share of the bass's runs of four notes that swing between two pitches (A B A B)."""
            x = [a == c != b == d for v in vs for a, b, c, d in zip(*(([p for _, _, p in v[3]])[k:] for k in range(4)))]
            return float(np.mean(x)) if x else 0.0

        def steps(vs, voice=3):
            return moves(vs, voice)[1:3].sum()

        bach_steps = steps([s.voices for s in pieces])
        inner = (steps(outs, 1) + steps(outs, 2)) / 2
        bach_inner = (steps([s.voices for s in pieces], 1) + steps([s.voices for s in pieces], 2)) / 2
        shares = " ".join(f"{'satb'[v]} " + "/".join(f"{m:.2f}" for m in moves(outs, v)) for v in (1, 2, 3))
        bach_shares = " ".join(f"{'satb'[v]} " + "/".join(f"{m:.2f}" for m in moves([s.voices for s in pieces], v)) for v in (1, 2, 3))
        c = table["columns"]["fill"]
        print(f"T {temp} rounds {rounds} cadence rounds {cadence} {setting} {'+'.join(switches)}: chord {c['chord_agreement']:.3f} bass {c['bass_agreement']:.3f} "
              f"cadences {c['cadence_share']:.3f} (Bach {table['columns']['Bach']['cadence_share']:.3f}) "
              f"bass eighths {c['bass_eighths']:.3f} (Bach {table['columns']['Bach']['bass_eighths']:.3f}) "
              f"alto repeats {c['alto_repeated']:.3f} inner voices inside {c['inner_inside']:.2f} bass steps {steps(outs):.3f} (Bach {bach_steps:.3f}) "
              f"inner steps {inner:.3f} (Bach {bach_inner:.3f}) "
              f"off the beat by step {passing(outs):.3f} (Bach {passing([s.voices for s in pieces]):.3f}) "
              f"odd lengths {odd_lengths(outs):.4f} (Bach {odd_lengths([s.voices for s in pieces]):.4f}) "
              f"no chord on/off the beat {no_chord(outs)} (Bach {no_chord([s.voices for s in pieces])}) "
              f"crossings A-T/T-B {crossings(outs)} (Bach {crossings([s.voices for s in pieces])}) "
              f"doubled major thirds {doubled_thirds(outs):.4f} (Bach {doubled_thirds([s.voices for s in pieces]):.4f}) "
              f"bass swings {swings(outs):.4f} (Bach {swings([s.voices for s in pieces]):.4f}) "
              f"({time.time() - t0:.0f} s)\n    moves 0/1/2/3-4/5+: {shares}  Bach: {bach_shares}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
