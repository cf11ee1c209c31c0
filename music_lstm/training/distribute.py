"""Where training runs: the default device, every local GPU, or several machines (tf.distribute).

`none` trains on TensorFlow's default device (one GPU if there is one, else the CPU); `mirrored` keeps
a copy of the model on every local GPU (`MirroredStrategy`; the CPU if there is none); `multiworker`
spans processes or machines as the standard `TF_CONFIG` environment variable describes
(`MultiWorkerMirroredStrategy`). `--batch-size` is per replica, so a step takes batch_size x replicas
windows. Every worker builds the same in-memory dataset and keeps its share of each global batch
(auto-shard policy DATA). Only the chief writes the run folder; every other worker writes into a
temporary folder of its own and removes it at the end, as TensorFlow's multi-worker guide prescribes.

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}, "task": {"type": "worker", "index": 0}}' \\
        python -m music_lstm train --distribute multiworker --run-dir runs/multi
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import ConfigError, MusicLSTMError

STRATEGIES = ("none", "mirrored", "multiworker")


def strategy_for(name: str):
    """The `tf.distribute.Strategy` called `name`. Create it before any other TensorFlow op runs:
    a multi-worker strategy configures the collective runtime, which cannot change afterwards."""
    if name not in STRATEGIES:
        raise ConfigError(f"invalid distribute: {name!r} (choose from {', '.join(STRATEGIES)})")
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":  # every local GPU; with none, every CPU device (one, unless configured otherwise)
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy(None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")])
    task()  # a missing or malformed TF_CONFIG is a one-line error, not a hang or a traceback

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """Two gaps between Keras 3's `fit` and this strategy (keras-team/keras#20585), closed here:
        `fit` reduces a whole (x, y, weight) batch in one call, and reduces scalar logs over axis 0."""

        def reduce(self, reduce_op, value, axis=None):
            one = super().reduce

            def each(v):
                rank = self.experimental_local_results(v)[0].shape.rank
                return one(reduce_op, v, None if rank == 0 else axis)

            return tf.nest.map_structure(each, value)

    return MultiWorkerMirroredStrategy()


def task() -> tuple[str, int, dict]:
    """(task type, index, cluster) from `TF_CONFIG`; a MusicLSTMError says what is wrong with it."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise MusicLSTMError("TF_CONFIG: not set (--distribute multiworker needs the cluster and this task; see docs/CLI.md)")
    try:
        conf = json.loads(raw)
        cluster, kind, index = conf["cluster"], conf["task"]["type"], int(conf["task"]["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise MusicLSTMError(f"TF_CONFIG: not a valid cluster description ({type(e).__name__}: {e})") from None
    if kind not in ("chief", "worker"):
        raise MusicLSTMError(f"TF_CONFIG: task type {kind!r} is not supported (use chief or worker)")
    if not isinstance(cluster, dict) or not 0 <= index < len(cluster.get(kind) or []):
        raise MusicLSTMError(f"TF_CONFIG: task {kind} {index} is not in the cluster {cluster}")
    return kind, index, cluster


def is_chief(name: str) -> bool:
    """Whether this process writes the run folder: always, unless it is a multi-worker task other than
    the chief (the `chief` task if the cluster has one, else worker 0)."""
    if name != "multiworker":
        return True
    kind, index, cluster = task()
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


@contextlib.contextmanager
def writable_run_dir(run_dir: str | os.PathLike, name: str):
    """Yield the folder this process writes: `run_dir` on the chief; on any other worker a temporary
    folder, removed afterwards. Every worker runs the same callbacks and saves as the chief does (the
    multi-worker guide's advice: the steps stay in lockstep), but only the chief's files are kept.
    The folder lies under the system's temporary folder, so a run folder on a shared disk never shows it."""
    if is_chief(name):
        yield Path(run_dir)
        return
    kind, index, _ = task()
    tmp = tempfile.mkdtemp(prefix=f"music_lstm_{kind}{index}_")
    try:
        yield Path(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shard_by_data(ds):
    """Each worker reads the whole in-memory dataset and keeps its part of every global batch. (The
    default policy would first try to shard by file, which an in-memory dataset does not have.)"""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def any_worker(flag: bool, strategy) -> bool:
    """True if `flag` is true on any replica of any worker. A decision to stop must be the same on
    every worker, or the others wait forever for the one that left; a local clock cannot ensure that."""
    if strategy.num_replicas_in_sync == 1:
        return flag
    import tensorflow as tf

    value = strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(float(flag)))
    return bool(strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None).numpy() > 0)  # no MAX across workers
