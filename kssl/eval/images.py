"""Image grids as PNG files, so a reconstruction method's output can be judged by eye.

PNG encoding is `tf.io.encode_png` (TensorFlow is already a dependency; no Pillow or matplotlib).
"""

import os

import numpy as np


def image_grid(columns, count=8, gap=2):
    """One uint8 RGB image whose rows are the entries of `columns` ({name: images}, each `(n, h, w, c)`
    floats in [0, 1], c = 1 or 3), showing the first `count` images of each side by side.

    Example:
    >>> import numpy as np, kssl
    >>> grid = kssl.eval.image_grid({"a": np.zeros((4, 8, 8, 1)), "b": np.ones((4, 8, 8, 3))}, count=4)
    >>> grid.shape, grid.dtype.name
    ((18, 38, 3), 'uint8')
    """
    rows = []
    for name, images in columns.items():
        images = np.asarray(images, "float32")[:count]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"`columns[{name!r}]` must be images (n, h, w, 1 or 3); got shape {images.shape}.")
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        n, h, w, _ = images.shape
        row = np.ones((h, count * (w + gap) - gap, 3), "float32")
        for i in range(n):
            row[:, i * (w + gap) : i * (w + gap) + w] = images[i]
        rows.append(row)
    if len({row.shape for row in rows}) != 1:
        raise ValueError("`columns` must hold images of one size.")
    spacer = np.ones((gap, rows[0].shape[1], 3), "float32")
    grid = np.concatenate([part for row in rows for part in (row, spacer)][:-1], axis=0)
    return np.round(np.clip(grid, 0.0, 1.0) * 255).astype("uint8")


def write_png(path, image, scale=1):
    """Writes a uint8 `(h, w, 3)` image as PNG, each pixel repeated `scale` x `scale` times."""
    import tensorflow as tf

    image = np.asarray(image, "uint8")
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(image))
    return path
