"""Atomic file writes: a file appears under its final name complete, or not at all.

Every kssl writer (presets, checkpoints, results, reports) goes through these, so an interrupted run
never leaves a half-written file that a later run would trust.
"""

import os
import tempfile


def atomic_write(path, write):
    """Calls write(temp_path) on a temporary file next to `path`, then renames it to `path`.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> atomic_write(path, lambda temp: open(temp, "w").write("hi"))
    >>> open(path).read()
    'hi'
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path), suffix=".tmp")
    os.close(fd)
    try:
        write(temp)
        os.chmod(temp, 0o644)  # mkstemp makes 0600; results and presets are meant to be shared
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def write_text_atomic(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""

    def write(temp):
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def save_weights_atomic(model, path):
    """`model.save_weights(path)`, atomically."""

    def write(temp):
        # Keras insists on the ".weights.h5" suffix; write there, then hand the file to the temp name.
        h5 = temp + ".weights.h5"
        try:
            model.save_weights(h5)
            os.replace(h5, temp)
        finally:
            if os.path.exists(h5):
                os.remove(h5)

    atomic_write(path, write)
