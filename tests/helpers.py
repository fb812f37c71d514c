"""Small shared pieces for the tests."""

import gzip
import os
import struct

import keras
import numpy as np


def smooth_images(n, size=12, channels=1, seed=0):
    """Random low-frequency images in [0, 1] (3x3 noise blown up), which small CNNs can tell apart."""
    coarse = np.random.default_rng(seed).random((n, 3, 3, channels)).astype("float32")
    return np.kron(coarse, np.ones((1, size // 3, size // 3, 1), "float32"))


def write_idx(path, array):
    """Writes a uint8 array as a gzipped IDX file (the MNIST format)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_fake_fashion_mnist(directory, train=64, test=32, seed=0):
    """A tiny Fashion-MNIST look-alike in the Debian file layout; returns (train, test) arrays."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    out = []
    for prefix, count in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        images = (rng.random((count, 28, 28)) * 60).astype(np.uint8)
        for i, label in enumerate(labels):  # a class-dependent bright bar, so classes are learnable
            images[i, 2 * label : 2 * label + 4, :] = 220
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), labels)
        out.append((images, labels))
    return out


@keras.saving.register_keras_serializable(package="kssl_tests")
class FlipLeftRight(keras.layers.Layer):
    """A deterministic 'augmentation' (mirror image), so two set-ups see identical views."""

    def call(self, images, training=True):
        return keras.ops.flip(images, axis=2)


@keras.saving.register_keras_serializable(package="kssl_tests")
class Identity(keras.layers.Layer):
    def call(self, images, training=True):
        return images


def load_tool(path, flag_names):
    """Imports a tool script (e.g. tools/bench/results_table.py) as a module and yields it, then removes the
    absl flags it defined (`flag_names`) so the next test can import it again; for a pytest fixture."""
    import importlib.util

    from absl import flags

    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in flag_names:
            if name in flags.FLAGS:
                delattr(flags.FLAGS, name)
