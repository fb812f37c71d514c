"""Frozen features for the evaluation protocols."""

import numpy as np


def extract(encoder, split, batch_size=1024):
    """Features of every image of `split` (a `kssl.datasets.Split` or a float/uint8 image array).

    `encoder=None` gives the raw pixels, flattened: the baseline every method must beat.
    """
    images = split.images if hasattr(split, "images") else np.asarray(split)
    if images.dtype == np.uint8:
        images = images.astype("float32") / 255.0
    if encoder is None:
        return images.reshape(len(images), -1).astype("float32")
    features = encoder.predict(images, batch_size=batch_size, verbose=0)
    if features.ndim != 2:
        raise ValueError(f"`encoder` must output (batch, features); it output shape {features.shape}.")
    return features.astype("float32")
