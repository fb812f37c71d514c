"""Atomic file writes and kssl's cache folder.

Every kssl writer (presets, checkpoints, results, reports, data caches) goes through these, so an
interrupted run never leaves a half-written file that a later run would trust. Local paths: temp file +
rename. Remote paths that `tf.io.gfile` understands (gs://, s3://, ram://): the file is written locally,
then copied in one upload, which object stores make visible only when complete.

`cache_dir()` is where kssl keeps what it can rebuild (decoded datasets, parsed corpora, downloaded
wheels, zoo downloads): `$KSSL_CACHE`, else `$KERAS_HOME/datasets/kssl_cache` (`~/.keras/...`).
"""

import os
import shutil
import tempfile
import warnings

CACHE_VARIABLE = "KSSL_CACHE"


def cache_dir(*parts):
    """kssl's cache folder (joined with `parts`): `$KSSL_CACHE`, else `~/.keras/datasets/kssl_cache`
    (under `$KERAS_HOME` when set, Keras' own home). Not created here: writers create what they write.

    Example:
    >>> import os
    >>> cache_dir("wheels") == os.path.join(cache_dir(), "wheels")
    True
    """
    root = os.environ.get(CACHE_VARIABLE)
    if not root:
        if os.environ.get("KSSL_CACHE_DIR"):
            warnings.warn("KSSL_CACHE_DIR is no longer read: set KSSL_CACHE (kssl's one cache folder) instead.",
                          stacklevel=2)
        root = os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "datasets", "kssl_cache")
    return os.path.join(root, *parts)


def is_remote(path):
    """True for a URL-style path (gs://bucket/x) that only `tf.io.gfile` can open."""
    return "://" in str(path)


def atomic_write(path, write):
    """Calls write(temp_path) on a temporary file next to `path`, then renames it to `path` (a local
    `path`'s folder is created if missing).

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
    os.makedirs(directory, exist_ok=True)
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


def replace_block(path, start, end, text):
    r"""Rewrites, atomically, what lies between the marker lines `start` and `end` of the text file `path`
    with `text` (how the benchmark tools keep README's generated tables); SystemExit if a marker is missing.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "README.md")
    >>> _ = open(path, "w").write("intro\n<!-- t:start -->\nold\n<!-- t:end -->\noutro\n")
    >>> replace_block(path, "<!-- t:start -->", "<!-- t:end -->", "| new |")
    >>> open(path).read()
    'intro\n<!-- t:start -->\n| new |\n<!-- t:end -->\noutro\n'
    """
    with open(path, encoding="utf-8") as f:
        content = f.read()
    if start not in content or end not in content:
        raise SystemExit(f"{path} has no {start} ... {end} block to rewrite")
    head, rest = content.split(start, 1)
    write_text_atomic(path, head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1])


def write_bytes_atomic(path, data):
    """Writes the bytes `data` to `path` atomically."""

    def write(temp):
        with open(temp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def save_npz_atomic(path, **arrays):
    """`np.savez(path, **arrays)`, atomically (and under exactly `path`: no ".npz" appended).

    Example:
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "cache", "x.npz")
    >>> save_npz_atomic(path, a=np.arange(3))
    >>> np.load(path)["a"].tolist()
    [0, 1, 2]
    """
    import numpy as np

    def write(temp):
        with open(temp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, **arrays)

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
