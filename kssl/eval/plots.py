"""PNG plots of an evaluation: t-SNE / UMAP of test embeddings, training curves, accuracy against label fraction.

matplotlib (Agg backend, no display needed) draws; every file is written to a temporary name and renamed,
so an interrupted run never leaves a half-written PNG.
"""


import numpy as np

from kssl.training.files import atomic_write


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    atomic_write(path, lambda temp: fig.savefig(temp, format="png", dpi=100, bbox_inches="tight"))
    return path


def _sample(features, labels, count, seed):
    features, labels = np.asarray(features), np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(f"`features` and `labels` must have the same length; got {len(features)} and {len(labels)}.")
    index = np.random.default_rng(seed).choice(len(features), size=min(count, len(features)), replace=False)
    return features[index].astype("float64"), labels[index]


def _scatter(points, labels, path, class_names, title):
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 6))
    for label in np.unique(labels):
        member = labels == label
        name = class_names[label] if class_names is not None else str(label)
        ax.scatter(points[member, 0], points[member, 1], s=4, label=name, alpha=0.7)
    ax.set_xticks([]), ax.set_yticks([]), ax.set_title(title)
    ax.legend(markerscale=3, fontsize=7, loc="best")
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def tsne_plot(features, labels, path, class_names=None, count=2000, seed=0, title="t-SNE of test embeddings"):
    """Writes a PNG scatter plot of a 2-D t-SNE (scikit-learn) of `count` points, coloured by label.

    Args:
        features: `(n, d)` embeddings (e.g. `kssl.eval.extract(encoder, data.test)`).
        labels: `(n,)` int labels.  path: the PNG to write.  class_names: legend names.

    Returns:
        `path`.
    """
    from sklearn.manifold import TSNE

    features, labels = _sample(features, labels, count, seed)
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30, len(features) - 1)).fit_transform(features)
    return _scatter(points, labels, path, class_names, title)


def umap_plot(features, labels, path, class_names=None, count=2000, seed=0, n_neighbors=15,
              title="UMAP of test embeddings"):
    """`tsne_plot`'s twin with UMAP (the `umap-learn` package: `pip install "kssl[umap]"`).

    UMAP keeps more of the global layout than t-SNE and is faster on many points.
    """
    try:
        import umap
    except ImportError as error:
        raise ImportError('umap_plot needs the umap-learn package: pip install "kssl[umap]" (or umap-learn).') from error
    features, labels = _sample(features, labels, count, seed)
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(features) - 1), random_state=seed)
    return _scatter(reducer.fit_transform(features), labels, path, class_names, title)


def history_plot(history, path, title="training"):
    """PNG of every curve in a Keras `History.history` dict (one panel per metric, val_ curves overlaid)."""
    metrics = [name for name in history if not name.startswith("val_")]
    if not metrics:
        raise ValueError("`history` holds no metric (expected e.g. {'loss': [...]}).")
    plt = _figure()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        ax.plot(range(1, len(history[name]) + 1), history[name], marker="o", label=name)
        if f"val_{name}" in history:
            ax.plot(range(1, len(history[f"val_{name}"]) + 1), history[f"val_{name}"], marker="o", label=f"val_{name}")
        ax.set_xlabel("epoch"), ax.set_title(name), ax.legend()
    fig.suptitle(title)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def fraction_plot(curves, path, title="test accuracy against labelled fraction"):
    """PNG of accuracy against label fraction: `curves` is {name: {fraction: accuracy}}."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, points in curves.items():
        fractions = sorted(points)
        ax.plot([100 * f for f in fractions], [points[f] for f in fractions], marker="o", label=name)
    ax.set_xscale("log"), ax.set_xlabel("labelled training examples (%)"), ax.set_ylabel("accuracy")
    ax.set_title(title), ax.legend(), ax.grid(alpha=0.3)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
