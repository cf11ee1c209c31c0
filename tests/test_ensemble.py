"""Runs of one model's settings trained with other seeds on the same split (`train --holdout`), combined into
one run folder whose network averages theirs (kind lstm_ensemble): it loads, scores, steps and composes as
one network does."""

import contextlib
import dataclasses
import io
import json
import shutil

import numpy as np
import pytest

from music_lstm.app.cli import main
from music_lstm.core.errors import ConfigError, RunFolderError
from music_lstm.runs import run_folder
from music_lstm.runs.config import Config

from conftest import tiny_flags


def _cli(*argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, err.getvalue()


@pytest.fixture(scope="module")
def seeds(tiny_run, tmp_path_factory):
    """The shared tiny satb run and the same settings trained with seed 1 on its split."""
    first = tiny_run("satb")
    second = tmp_path_factory.mktemp("seed1") / "run"
    rc, log = _cli("train", "--data-dir", str(first.data), "--run-dir", str(second), "--holdout", str(first.run),
                   "--seed", "1", *tiny_flags())
    assert rc == 0, log
    return first.run, second


def test_the_kind_follows_the_members_and_bad_counts_are_refused():
    assert (Config(members=2).kind, Config(members=2).task) == ("lstm_ensemble", "compose")
    assert Config().kind == "lstm"
    with pytest.raises(ConfigError, match="invalid members: 0"):
        Config(members=0)
    with pytest.raises(ConfigError, match="invalid members: 2"):
        Config(members=2, melody_context=True)


def test_holdout_takes_the_split_of_the_given_run_and_another_seed_another_network(seeds):
    first, second = seeds
    assert run_folder.read_split(second) == run_folder.read_split(first)
    a, b = run_folder.load_run(first), run_folder.load_run(second)
    assert a.config.seed == 0 and b.config.seed == 1
    assert a.vocab.index_to_symbol == b.vocab.index_to_symbol
    assert not np.allclose(a.model.get_weights()[0], b.model.get_weights()[0])


def test_holdout_is_refused_with_resume_in_one_line(seeds, tmp_path):
    first, _ = seeds
    rc, log = _cli("train", "--resume", "--run-dir", str(tmp_path / "r"), "--holdout", str(first), *tiny_flags())
    assert rc == 2 and "--holdout" in log and len(log.strip().splitlines()) == 1


def test_a_holdout_without_a_split_or_with_pieces_not_in_the_data_is_one_line(seeds, tiny_run, tmp_path):
    first, _ = seeds
    data = tiny_run("satb").data
    rc, log = _cli("train", "--data-dir", str(data), "--run-dir", str(tmp_path / "a"), "--holdout", str(tmp_path / "none"),
                   *tiny_flags())
    assert rc == 2 and "split.json: missing" in log and len(log.strip().splitlines()) == 1
    other = tmp_path / "other"
    shutil.copytree(first, other)
    train, val = run_folder.read_split(other)
    run_folder.write_split(other, train + ["not_here.mid"], val)
    rc, log = _cli("train", "--data-dir", str(data), "--run-dir", str(tmp_path / "b"), "--holdout", str(other), *tiny_flags())
    assert rc == 2 and "not_here.mid" in log and log.strip().splitlines()[-1].startswith("music_lstm: error: ")
    assert not (tmp_path / "b" / run_folder.MODEL).exists()


def test_the_combined_network_is_the_mean_of_its_members_in_keras_and_in_numpy(seeds, tmp_path):
    from music_lstm.models import factory

    first, second = seeds
    out = run_folder.combine([first, second], tmp_path / "ens")
    run = run_folder.load_run(out)
    raw = json.loads((out / run_folder.CONFIG).read_text())
    assert (raw["kind"], raw["task"], raw["members"], raw["seed"]) == ("lstm_ensemble", "compose", 2, 0)
    assert run_folder.read_split(out) == run_folder.read_split(first)
    ids = np.random.default_rng(0).integers(1, len(run.vocab), (3, 20)).astype("int32")
    members = [np.asarray(run_folder.load_run(d).model(ids)) for d in (first, second)]
    whole = np.asarray(run.model(ids))
    np.testing.assert_allclose(whole, (members[0] + members[1]) / 2, atol=1e-6)
    stepper = factory.stepper(run.config.kind, run.model)
    np.testing.assert_allclose(stepper.probabilities(ids), whole, atol=1e-4)
    np.testing.assert_allclose(stepper.prime(ids), whole[:, -1], atol=1e-4)
    with pytest.raises(ValueError, match="not trained"):
        factory.build(run.config.kind, len(run.vocab), run.config)


def test_a_combined_run_composes_and_is_scored(seeds, tmp_path):
    first, second = seeds
    out = run_folder.combine([first, second], tmp_path / "ens")
    rc, log = _cli("generate", "--run-dir", str(out), "--num-outputs", "2", "--length", "40", "--seed", "3",
                   "--output", str(tmp_path / "piece.mid"))
    assert rc == 0, log
    assert sorted(p.name for p in tmp_path.glob("piece*.mid")) == ["piece_1.mid", "piece_2.mid"]
    rc, log = _cli("evaluate", "--run-dir", str(out))
    assert rc == 0, log
    assert json.loads((out / run_folder.EVALUATION).read_text())["models"]["lstm"]["symbols"] > 0


def test_a_combined_four_voice_run_harmonizes_a_tune_of_its_training_pieces(seeds, tmp_path):
    from music_lstm.encodings.satb import decode_satb
    from music_lstm.tasks.harmonizer import LSTMHarmonizer

    first, second = seeds
    run = run_folder.load_run(run_folder.combine([first, second], tmp_path / "ens"))
    tune = decode_satb(run.vocab.decode(run.corpus["train"][0])).voices[0][:8]
    for beam in (0, 4):  # sampled, and the beam search, which selects the members' states together
        out = LSTMHarmonizer.from_run(run).harmonize(tune, seed=1, beam=beam)[0]
        assert [n[2] for n in out.voices[0]] == [n[2] for n in tune] and all(out.voices[1:])


def test_runs_that_are_not_one_models_seeds_are_refused(seeds, tiny_run, tmp_path):
    first, second = seeds
    moved = tmp_path / "moved"
    shutil.copytree(second, moved)
    train, val = run_folder.read_split(moved)
    run_folder.write_split(moved, train[1:], val + train[:1])
    with pytest.raises(RunFolderError, match="--holdout"):
        run_folder.combine([first, moved], tmp_path / "a")
    with pytest.raises(RunFolderError, match="settings differ"):
        run_folder.combine([first, tiny_run("voiced").run], tmp_path / "b")
    longer = tmp_path / "longer"  # another budget is still the same model's seed
    shutil.copytree(second, longer)
    cfg = run_folder.read_config(longer / run_folder.CONFIG)
    run_folder.write_config(longer / run_folder.CONFIG, dataclasses.replace(cfg, epochs=9, max_minutes=3.0, patience=2))
    assert run_folder.load_run(run_folder.combine([first, longer], tmp_path / "e")).config.members == 2
    with pytest.raises(RunFolderError, match="two run folders"):
        run_folder.combine([first], tmp_path / "c")
    with pytest.raises(RunFolderError, match="only lstm runs"):
        run_folder.combine([tiny_run("melody").run, first], tmp_path / "d")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
