"""Weighted k-nearest-neighbour classification on cosine similarity (Wu et al., 2018)."""

import numpy as np

from kssl.checks import check_positive_int

from kssl.eval.features import extract, unit_rows


def knn_predict(train_features, train_labels, test_features, k=200, temperature=0.1, num_classes=None, chunk=1024):
    """Class predictions by a weighted vote of the k most cosine-similar training points; each
    neighbour votes exp(similarity / temperature) for its class."""
    check_positive_int("k", k)
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0; got {temperature!r}.")
    k = min(k, len(train_features))
    num_classes = num_classes or int(train_labels.max()) + 1
    import tensorflow as tf  # top_k and the one-hot vote run multi-threaded (numpy's argpartition does not)

    train_n = tf.constant(unit_rows(np.asarray(train_features, "float32")))
    test_n = unit_rows(np.asarray(test_features, "float32"))
    labels = tf.one_hot(np.asarray(train_labels), num_classes, dtype="float32")
    predictions = []
    for start in range(0, len(test_n), chunk):
        sims = tf.matmul(test_n[start : start + chunk], train_n, transpose_b=True)
        top, index = tf.math.top_k(sims, k)
        weights = tf.exp(top / temperature)
        votes = tf.einsum("nk,nkc->nc", weights, tf.gather(labels, index))
        predictions.append(tf.argmax(votes, axis=1).numpy())
    return np.concatenate(predictions)


def knn(encoder, train, test, k=200, temperature=0.1, batch_size=1024):
    """kNN accuracy of frozen features (cosine similarity, exp(sim / T)-weighted vote).

    Args:
        encoder: a `keras.Model` from images to vectors, or None for raw pixels.
        train, test: splits with `.images` and `.labels`.
        k, temperature: neighbours and vote temperature (200 and 0.1, as in InstDisc).

    Returns:
        {"accuracy", "k", "temperature"}.

    Example:
    >>> import numpy as np, kssl
    >>> from kssl.data.images import Split
    >>> x = np.repeat(np.eye(4, dtype="uint8")[:, None, :, None] * 255, 5, axis=0); y = np.repeat(np.arange(4), 5)
    >>> kssl.eval.knn(None, Split(x, y), Split(x, y), k=3)["accuracy"]
    1.0
    """
    train_x = extract(encoder, train, batch_size)
    test_x = extract(encoder, test, batch_size)
    train_y = np.asarray(train.labels)
    predictions = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature)
    return {"accuracy": float(np.mean(predictions == np.asarray(test.labels))), "k": k, "temperature": temperature}
