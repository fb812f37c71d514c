"""The frozen-feature protocols: `evaluate` (linear probe + kNN), `label_fractions` (both with 1% / 10% /\n100% of the labels), `transfer` (an encoder evaluated on another dataset)."""

import numpy as np

from kssl.data.images import to_unit_float
from kssl.eval.features import extract
from kssl.eval.finetune import label_subset_index
from kssl.eval.knn import knn_predict
from kssl.eval.linear import linear_probe_features


def evaluate(encoder, train, test, k=200, temperature=0.1, batch_size=1024):
    """Linear-probe and kNN test accuracy of one frozen encoder, extracting its features once.

    Args:
        encoder: a `keras.Model` from images to vectors, or None for raw pixels.
        train, test: splits with `.images` and `.labels`.

    Returns:
        {"linear": accuracy, "knn": accuracy, "linear_details": linear_probe's full result}.

    Example (raw pixels of a 4-class toy set, evaluated on itself):
    >>> import numpy as np, kssl
    >>> toy = kssl.datasets.Split(np.kron(np.eye(4, dtype="uint8"), np.ones((3, 1), "uint8"))[..., None, None] * 255,
    ...                           np.repeat(np.arange(4), 3))
    >>> result = kssl.eval.evaluate(None, toy, toy, k=2)
    >>> result["linear"], result["knn"]
    (1.0, 1.0)
    """
    train_x, test_x = extract(encoder, train, batch_size), extract(encoder, test, batch_size)
    train_y, test_y = np.asarray(train.labels), np.asarray(test.labels)
    linear = linear_probe_features(train_x, train_y, test_x, test_y)
    predictions = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature)
    return {"linear": linear["accuracy"], "knn": float(np.mean(predictions == test_y)), "linear_details": linear}



def label_fractions(encoder, train, test, fractions=(0.01, 0.1, 1.0), seed=0, k=200, temperature=0.1, batch_size=1024):
    """Linear-probe and kNN test accuracy when only a class-balanced `fraction` of the training labels
    is known (the same subsets for the same seed; `kssl.eval.label_subset_index`). Features are
    extracted once.

    Returns:
        {fraction: {"linear", "knn", "examples"}}.

    Example:
    >>> import numpy as np, kssl
    >>> x = np.repeat(np.eye(4, dtype="uint8")[:, None, :, None] * 255, 50, axis=0); y = np.repeat(np.arange(4), 50)
    >>> toy = kssl.datasets.Split(x, y)
    >>> result = kssl.eval.label_fractions(None, toy, toy, fractions=(0.02, 1.0))
    >>> result[0.02]["examples"], result[0.02]["linear"], result[1.0]["knn"]
    (4, 1.0, 1.0)
    """
    train_x, test_x = extract(encoder, train, batch_size), extract(encoder, test, batch_size)
    train_y, test_y = np.asarray(train.labels), np.asarray(test.labels)
    results = {}
    for fraction in fractions:
        index = label_subset_index(train_y, fraction, seed)
        linear = linear_probe_features(train_x[index], train_y[index], test_x, test_y)
        predictions = knn_predict(train_x[index], train_y[index], test_x, k=min(k, len(index)), temperature=temperature,
                                  num_classes=int(train_y.max()) + 1)
        results[fraction] = {"linear": linear["accuracy"], "knn": float(np.mean(predictions == test_y)),
                             "examples": int(len(index))}
    return results


def adapt_images(images, input_shape):
    """Images resized (bilinear) and converted (grey <-> RGB) to an encoder's `input_shape` (h, w, c),
    as float32 in [0, 1]."""
    import tensorflow as tf

    images = to_unit_float(np.asarray(images))
    height, width, channels = input_shape
    if images.shape[-1] != channels:
        if channels == 1:
            images = images[..., :3] @ np.array([0.299, 0.587, 0.114], "float32")[:, None]  # ITU-R 601 luma
        elif images.shape[-1] == 1:
            images = np.repeat(images, channels, axis=-1)
        else:
            raise ValueError(f"cannot convert {images.shape[-1]}-channel images to {channels} channels.")
    if images.shape[1:3] != (height, width):
        images = tf.image.resize(images, (height, width)).numpy()
    return np.clip(images, 0.0, 1.0).astype("float32")


def transfer(encoder, target, **evaluate_kwargs):
    """Transfer evaluation: the frozen `encoder` (trained on one dataset) is probed (linear + kNN) on
    another `kssl.datasets.Dataset`, its images resized and grey/RGB-converted to the encoder's input.

    Returns:
        `evaluate`'s result plus {"dataset": target.name}.
    """
    from kssl.data.images import Split

    shape = tuple(encoder.input_shape[1:])
    train = Split(adapt_images(target.train.images, shape), target.train.labels)
    test = Split(adapt_images(target.test.images, shape), target.test.labels)
    return {**evaluate(encoder, train, test, **evaluate_kwargs), "dataset": target.name}
