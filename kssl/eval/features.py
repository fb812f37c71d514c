"""Frozen features for the evaluation protocols."""

import numpy as np

from kssl.checks import check_unit_images
from kssl.data.images import to_unit_float


def unit_rows(x):
    """The rows of `x` scaled to unit L2 norm (a zero row stays zero); the dtype of `x` is kept.

    Example:
    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    x = np.asarray(x)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def extract(encoder, split, batch_size=1024, check_range=True):
    """Features of every image of `split` (a `kssl.datasets.Split` or a float/uint8 image array).

    `encoder=None` gives the raw pixels, flattened: the baseline every method must beat. Float images
    outside [0, 1] (e.g. [0, 255]) or with NaN, and features with NaN or Inf, are refused: a protocol
    would otherwise turn them into an accuracy. `check_range=False` takes any finite values (augmented
    views, which may leave [0, 1]).
    """
    images = to_unit_float(split.images if hasattr(split, "images") else np.asarray(split))
    if encoder is None:  # raw values, whatever their range (also features passed as 1x1 "images")
        return _finite(images.reshape(len(images), -1).astype("float32"), "`split.images` hold", "")
    if check_range:
        images = check_unit_images(images, "split.images")
    features = encoder.predict(images, batch_size=batch_size, verbose=0)
    if features.ndim != 2:
        raise ValueError(f"`encoder` must output (batch, features); it output shape {features.shape}.")
    return _finite(features, "`encoder` gives", ": its weights or its inputs are not finite").astype("float32")


def _finite(features, what, hint):
    finite = np.isfinite(features).all(axis=1)
    if not finite.all():
        raise ValueError(f"{what} NaN or Inf features for {int((~finite).sum())} of {len(features)} images (the first: "
                         f"index {int(np.argmin(finite))}){hint}.")
    return features


def feature_statistics(encoder, split, count=10000, seed=0, batch_size=1024):
    """Per-feature mean and standard deviation of `encoder` on (a random `count` of) `split`'s images:
    what a preset carries (metadata "feature_statistics") so that `kssl.zoo.load` can return an encoder
    whose features are standardised, the way the linear probe sees them.

    Example:
    >>> import numpy as np, kssl
    >>> from kssl.data.images import Split
    >>> encoder = kssl.backbones.convnet((8, 8, 1), widths=(4,))
    >>> stats = feature_statistics(encoder, Split(np.zeros((6, 8, 8, 1), "uint8"), np.zeros(6, "int64")))
    >>> len(stats["mean"]), len(stats["std"]), stats["examples"]
    (4, 4, 6)
    """
    from kssl.checks import check_positive_int

    check_positive_int("count", count)
    images = split.images if hasattr(split, "images") else np.asarray(split)
    if len(images) > count:
        images = images[np.sort(np.random.default_rng(seed).permutation(len(images))[:count])]
    features = extract(encoder, images, batch_size).astype("float64")
    return {"mean": features.mean(axis=0).tolist(), "std": features.std(axis=0).tolist(), "examples": len(features)}


def add_feature_statistics(preset, split, count=10000, seed=0):
    """Computes `feature_statistics` of a preset's encoder on `split` and writes them into its metadata.json
    (atomically). Returns them."""
    import json
    import os

    from kssl import zoo
    from kssl.training.files import write_text_atomic

    metadata = zoo.read_metadata(preset)
    stats = feature_statistics(zoo.load(preset, trainable=False, standardize=False), split, count=count, seed=seed)
    metadata[zoo.FEATURE_STATISTICS] = stats
    write_text_atomic(os.path.join(preset, zoo.METADATA_FILE), json.dumps(metadata, indent=2, sort_keys=True))
    return stats


def layer_encoder(encoder, layer, pooling="avg"):
    """A model from the encoder's input to one inner layer's output, pooled to a vector: the probe of
    a representation at a given depth (pretext features often peak in the middle layers).

    Args:
        encoder: a functional `keras.Model`.
        layer: a layer name, or an index into `encoder.layers`.
        pooling: "avg" or "max" over the spatial axes of a feature map (vectors pass through).

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> names = [layer.name for layer in encoder.layers]
    >>> kssl.eval.layer_encoder(encoder, encoder.layers[3].name).output_shape[-1] in (8, 16)
    True
    """
    import keras

    if pooling not in ("avg", "max"):
        raise ValueError(f"`pooling` must be 'avg' or 'max'; got {pooling!r}.")
    try:
        target = encoder.layers[layer] if isinstance(layer, int) else encoder.get_layer(layer)
    except (ValueError, IndexError) as error:
        names = [l.name for l in encoder.layers]
        raise ValueError(f"`layer` must be one of the encoder's layers {names}; got {layer!r}.") from error
    output = target.output
    if len(output.shape) == 4:
        pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
        output = pool(name=f"{target.name}_{pooling}_pool")(output)
    elif len(output.shape) != 2:
        output = keras.layers.Flatten()(output)
    return keras.Model(encoder.inputs, output, name=f"{encoder.name}_at_{target.name}")
