"""A run folder records its network's kind and its task in config.json; one factory builds by the kind;
a folder saved before the kind was recorded (the shipped ones) is read by the settings' rule."""

import dataclasses
import json

import pytest

from music_lstm.core.errors import RunFolderError
from music_lstm.models import factory
from music_lstm.runs import run_folder
from music_lstm.runs.config import Config


@pytest.mark.parametrize("settings, kind, task", [
    ({}, "lstm", "compose"),
    ({"encoding": "chords", "durations": True}, "lstm", "compose"),
    ({"melody_context": True}, "melody_lstm", "harmonize"),
    ({"jsb": "x.json"}, "jsb_frames", "jsb"),
])
def test_config_json_records_the_kind_and_task_and_reads_them_back(tmp_path, settings, kind, task):
    cfg = Config(**settings)
    run_folder.write_config(tmp_path / run_folder.CONFIG, cfg)
    raw = json.loads((tmp_path / run_folder.CONFIG).read_text())
    assert (raw["kind"], raw["task"]) == (kind, task)
    back = run_folder.read_config(tmp_path / run_folder.CONFIG)
    assert back == cfg and (back.kind, back.task) == (kind, task)


def test_a_recorded_kind_that_contradicts_the_settings_is_one_line(tmp_path):
    path = tmp_path / run_folder.CONFIG
    run_folder.write_json(path, {**Config().to_dict(), "kind": "melody_lstm"})
    with pytest.raises(RunFolderError, match="records kind 'melody_lstm'") as e:
        run_folder.read_config(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("folder, task, kind, recorded", [("compose", "compose", "lstm", True),
                                                           ("harmonize_lstm", "harmonize", "melody_lstm", False)])
def test_the_shipped_folders_are_read_as_their_kind_recorded_or_by_the_settings_rule(folder, task, kind, recorded):
    raw = json.loads((run_folder.SHIPPED / folder / run_folder.CONFIG).read_text())
    if recorded:  # trained again since the kind was recorded: the folder says what it holds
        assert (raw["kind"], raw["task"]) == (kind, task)
    else:  # saved before the kind was recorded, never rewritten: read by the settings rule
        assert "kind" not in raw and "task" not in raw
    cfg = run_folder.read_config(run_folder.SHIPPED / folder / run_folder.CONFIG)
    assert (cfg.kind, cfg.task) == (kind, task)


def test_an_unknown_kind_is_refused_by_the_factory():
    with pytest.raises(ValueError, match="invalid network kind"):
        factory.build("transformer", 10, Config())


@pytest.mark.slow
def test_the_factory_builds_each_kind_and_gives_its_stepper():
    import numpy as np

    from music_lstm.models.melody_context import MelodyStepper
    from music_lstm.models.stepper import LSTMStepper

    cfg = Config(units=8, embed_dim=4, dense_units=8)
    plain = factory.build("lstm", 12, cfg)
    assert len(plain.inputs) == 1 and plain.output_shape[-1] == 12
    two = factory.build("lstm", 12, cfg, heads=(5, 3))
    assert [s[-1] for s in two.output_shape] == [5, 3]
    melody = factory.build("melody_lstm", 12, dataclasses.replace(cfg, melody_context=True))
    assert len(melody.inputs) == 3  # symbols, frames, the frame of each step
    assert type(factory.stepper("lstm", plain)) is LSTMStepper
    assert type(factory.stepper("jsb_frames", plain)) is LSTMStepper
    assert isinstance(factory.stepper("melody_lstm", melody), MelodyStepper)
    probs = factory.stepper("lstm", plain).step(np.array([1]))
    assert probs.shape == (1, 12) and abs(float(probs.sum()) - 1) < 1e-5
