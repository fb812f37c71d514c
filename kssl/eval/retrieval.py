"""Retrieval: Recall@K, the metric-learning protocol (e.g. Song et al., 2016, Stanford Online Products)."""

import numpy as np

from kssl.eval.features import extract, unit_rows


def recall_at_k_features(features, labels, ks=(1,), chunk=1024):
    """Recall@K of a set against itself: the fraction of queries whose K nearest neighbours (cosine
    similarity, the query itself excluded) include one of the same label."""
    labels = np.asarray(labels)
    if len(features) != len(labels) or len(labels) < 2:
        raise ValueError(f"`features` and `labels` must have the same length >= 2; got {len(features)} and {len(labels)}.")
    if not all(isinstance(k, int) and 1 <= k < len(labels) for k in ks):
        raise ValueError(f"`ks` must be integers in [1, {len(labels) - 1}]; got {ks!r}.")
    normed = unit_rows(features)
    top_k = max(ks)
    hits = {k: 0 for k in ks}
    for start in range(0, len(normed), chunk):
        sims = normed[start : start + chunk] @ normed.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf  # never retrieve the query itself
        top = np.argpartition(-sims, top_k - 1, axis=1)[:, :top_k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        retrieved = labels[np.take_along_axis(top, order, axis=1)]  # (chunk, top_k), nearest first
        same = retrieved == labels[start : start + chunk, None]
        for k in ks:
            hits[k] += int(np.sum(same[:, :k].any(axis=1)))
    return {f"recall@{k}": hits[k] / len(labels) for k in ks}


def recall_at_k(encoder, split, ks=(1,), batch_size=1024):
    """Recall@K of a frozen encoder on one split (queries and gallery are the same images).

    Args:
        encoder: a `keras.Model` from images to vectors, or None for raw pixels.
        split: a split with `.images` and `.labels` (usually the test set).
        ks: the K values to report.

    Returns:
        {"recall@1": ..., ...}.

    Example:
    >>> import numpy as np, kssl
    >>> from kssl.data.images import Split
    >>> x = np.repeat(np.eye(4, dtype="uint8")[:, None, :, None] * 255, 2, axis=0); y = np.repeat(np.arange(4), 2)
    >>> kssl.eval.recall_at_k(None, Split(x, y), ks=(1,))
    {'recall@1': 1.0}
    """
    return recall_at_k_features(extract(encoder, split, batch_size), split.labels, ks=ks)
