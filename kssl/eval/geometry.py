"""Alignment and uniformity of a representation on the hypersphere (Wang & Isola, 2020).

    alignment  = E_(x, y) positive pairs  || f(x) - f(y) ||_2^alpha          (lower: positives closer)
    uniformity = log E_(x, y) i.i.d.      exp(-t || f(x) - f(y) ||_2^2)       (lower: more uniform)

f is L2-normalised. Both are computed with numpy on the features (they are evaluations, not losses).
"""

import numpy as np

from kssl.data.images import to_unit_float
from kssl.eval.features import extract, unit_rows




def alignment(z1, z2, alpha=2):
    """Mean ||z1_i - z2_i||^alpha over positive pairs (rows of z1, z2), after L2 normalisation.

    Example:
    >>> import numpy as np, kssl
    >>> z = np.random.default_rng(0).normal(size=(8, 4))
    >>> kssl.eval.alignment(z, z)
    0.0
    """
    if not alpha > 0:
        raise ValueError(f"`alpha` must be > 0; got {alpha!r}.")
    z1, z2 = unit_rows(np.asarray(z1, "float64")), unit_rows(np.asarray(z2, "float64"))
    if z1.shape != z2.shape:
        raise ValueError(f"`z1` and `z2` must have the same shape; got {z1.shape} and {z2.shape}.")
    return float(np.mean(np.linalg.norm(z1 - z2, axis=1) ** alpha))


def uniformity(z, t=2):
    """log of the mean Gaussian potential exp(-t ||z_i - z_j||^2) over all pairs i < j, after L2
    normalisation. Its minimum for n points spread evenly is reached when they are as far apart as
    the sphere allows.

    Example (two antipodal points: ||z_1 - z_2||^2 = 4, so the value is log exp(-4t) = -4t):
    >>> import numpy as np, kssl
    >>> kssl.eval.uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]]), t=2)
    -8.0
    """
    if not t > 0:
        raise ValueError(f"`t` must be > 0; got {t!r}.")
    z = unit_rows(np.asarray(z, "float64"))
    if len(z) < 2:
        raise ValueError(f"`z` must hold at least 2 points; got {len(z)}.")
    squared = np.maximum(2.0 - 2.0 * z @ z.T, 0.0)
    upper = squared[np.triu_indices(len(z), k=1)]
    # log-mean-exp, stable
    values = -t * upper
    peak = values.max()
    return float(peak + np.log(np.mean(np.exp(values - peak))))


def alignment_uniformity(encoder, images, augment, count=2048, seed=0, batch_size=512):
    """Alignment (of two augmented views of the same images) and uniformity (of the views) of an
    encoder's features, on `count` images, with the method's own augmentation layer.

    Returns:
        {"alignment", "uniformity", "count"}.
    """
    images = images.images if hasattr(images, "images") else np.asarray(images)
    rng = np.random.default_rng(seed)
    chosen = images[rng.choice(len(images), size=min(count, len(images)), replace=False)]
    chosen = to_unit_float(chosen)
    chosen = chosen.reshape((len(chosen),) + tuple(encoder.input_shape[1:]))
    views = []
    for _ in range(2):
        parts = [np.asarray(augment(chosen[i : i + batch_size], training=True)) for i in range(0, len(chosen), batch_size)]
        views.append(extract(encoder, np.concatenate(parts), batch_size, check_range=False))  # views may leave [0, 1]
    return {"alignment": alignment(views[0], views[1]), "uniformity": uniformity(np.concatenate(views)),
            "count": len(chosen)}
