"""`evaluate`: the linear-probe + kNN protocol of one frozen encoder, extracting features once."""

import numpy as np

from kssl.eval.features import extract
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

