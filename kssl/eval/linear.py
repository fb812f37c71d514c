"""Linear evaluation: logistic regression on frozen, standardised features."""

import warnings

import numpy as np

from kssl.eval.features import extract


def _labels(split, name):
    labels = np.asarray(split.labels)
    if labels.ndim != 1:
        raise ValueError(f"`{name}` labels must be a vector of class ids; got shape {labels.shape}.")
    return labels


def linear_probe(encoder, train, test, C=1.0, max_iter=1000, batch_size=1024):
    """Linear probe (the standard linear evaluation protocol): the encoder stays frozen, its features
    are standardised with the training set's statistics, and multinomial logistic regression is
    trained to convergence with L-BFGS (scikit-learn). Reports test accuracy.

    Args:
        encoder: a `keras.Model` from images to vectors, or None for raw pixels.
        train, test: `kssl.datasets.Split`s (or anything with `.images` and `.labels`).
        C: inverse L2 regularisation strength.
        max_iter: L-BFGS iteration limit; `converged` in the result says whether it was reached.

    Returns:
        {"accuracy", "train_accuracy", "iterations", "converged", "feature_dim"}.

    Example:
    >>> import numpy as np, kssl
    >>> from kssl.data.images import Split
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 255, (1000, 2, 2, 1)).astype("uint8"); y = (x[:, 0, 0, 0] > 127).astype(int)
    >>> kssl.eval.linear_probe(None, Split(x[:800], y[:800]), Split(x[800:], y[800:]))["accuracy"] > 0.9
    True
    """
    return linear_probe_features(
        extract(encoder, train, batch_size), _labels(train, "train"),
        extract(encoder, test, batch_size), _labels(test, "test"), C=C, max_iter=max_iter,
    )


def linear_probe_features(train_x, train_y, test_x, test_y, C=1.0, max_iter=1000):
    """`linear_probe` on features already extracted (arrays of shape (n, d) and labels (n,))."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    classifier = LogisticRegression(C=C, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(train_x, train_y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "accuracy": float(classifier.score(test_x, test_y)),
        "train_accuracy": float(classifier.score(train_x, train_y)),
        "iterations": int(np.max(classifier.n_iter_)),
        "converged": converged,
        "feature_dim": int(train_x.shape[1]),
    }
