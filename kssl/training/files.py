"""Atomic file writes: a file appears under its final name complete, or not at all.

Every kssl writer (presets, checkpoints, results, reports) goes through these, so an interrupted run
never leaves a half-written file that a later run would trust. Local paths: temp file + rename.
Remote paths that `tf.io.gfile` understands (gs://, s3://, ram://): the file is written locally, then
copied in one upload, which object stores make visible only when complete.
"""

import os
import shutil
import tempfile


def is_remote(path):
    """True for a URL-style path (gs://bucket/x) that only `tf.io.gfile` can open."""
    return "://" in str(path)


def atomic_write(path, write):
    """Calls write(temp_path) on a temporary file next to `path`, then renames it to `path`.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> atomic_write(path, lambda temp: open(temp, "w").write("hi"))
    >>> open(path).read()
    'hi'
    """
    if is_remote(path):
        import tensorflow as tf

        local = tempfile.mkdtemp(prefix="kssl-upload-")
        try:
            temp = os.path.join(local, os.path.basename(path))
            write(temp)
            tf.io.gfile.copy(temp, path, overwrite=True)
        finally:
            shutil.rmtree(local, ignore_errors=True)
        return
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
