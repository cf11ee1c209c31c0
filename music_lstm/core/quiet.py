"""TensorFlow loaded without its C++ start-up lines, for the command line, the Python API and the benchmarks."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow() -> None:
    """Load TensorFlow with its C++ start-up lines hidden (`I0000 ... cuda drivers`, and on a CPU machine
    `E0000 ... failed call to cuInit`, an "error" that is none): they are for TensorFlow's developers.

    The log level must be set before TensorFlow is imported; some lines are written by absl before any
    level applies, so stderr (file descriptor 2) is pointed at /dev/null while TensorFlow loads and
    looks for devices. A failure to import is raised after stderr is back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "tensorflow" in sys.modules:
        return
    import logging

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the device probe (cuInit) logs here
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
