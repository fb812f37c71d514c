"""Semi-supervised evaluation: fine-tune the whole encoder plus a linear head on a fraction of the labels."""

import keras
import numpy as np

from kssl.data.images import Split


def label_subset_index(labels, fraction, seed=0):
    """Sorted indices of a class-balanced subset holding `fraction` of each class (at least one
    example per class), the same for the same seed. SimCLR's 1% / 10% protocols use such subsets."""
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"`fraction` must be in (0, 1]; got {fraction!r}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(rng.choice(members, size=max(1, int(round(fraction * len(members)))), replace=False))
    return np.sort(np.concatenate(chosen))


def label_subset(split, fraction, seed=0):
    """`split` restricted to `label_subset_index(split.labels, fraction, seed)`."""
    index = label_subset_index(split.labels, fraction, seed)
    return Split(split.images[index], np.asarray(split.labels)[index])


def _batch_norm_layers(layer):
    found = [layer] if isinstance(layer, keras.layers.BatchNormalization) else []
    for child in getattr(layer, "layers", []):
        found += _batch_norm_layers(child)
    return found


def recalibrate_batch_norm(model, images, batch_size=64, steps=100, seed=0):
    """Re-estimates every batch-norm layer's moving statistics with the model's final weights
    ("precise BN", Wu & Johnson 2021): forward passes in training mode over random batches of `images`,
    with momentum 0.9 so the estimate forgets the training trajectory; no weight changes.

    Needed after short fine-tuning: with Keras' momentum 0.99 the moving averages lag weights that moved
    a lot in a few hundred steps, and inference-mode accuracy collapses.
    """
    layers = _batch_norm_layers(model)
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    rng = np.random.default_rng(seed)
    try:
        for layer in layers:
            layer.momentum = 0.9
        for _ in range(steps):
            batch = images[rng.choice(len(images), size=min(batch_size, len(images)), replace=False)]
            model(batch, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def finetune(encoder, train, test, fraction=0.01, seed=0, epochs=30, batch_size=64, learning_rate=1e-3,
             from_scratch=False):
    """Fine-tunes a copy of `encoder` (all layers) with a new linear classifier on a class-balanced
    `fraction` of `train`'s labels, re-estimates batch-norm statistics on that subset with the final
    weights (`recalibrate_batch_norm`), then reports test accuracy. `encoder` itself is not changed.

    Args:
        encoder: a `keras.Model` from images to vectors (e.g. `kssl.zoo.load(...)`).
        train, test: splits with `.images` and `.labels`.
        fraction: share of labels used (0.01 and 0.1 in the SimCLR paper).
        from_scratch: re-initialise the copy instead (the baseline: same network, no pretraining).

    Returns:
        {"accuracy", "labelled_examples", "fraction", "from_scratch"}.

    Example:
    >>> import numpy as np, kssl
    >>> from kssl.data.images import Split
    >>> x = np.repeat(np.eye(4, dtype="uint8")[:, None, :, None] * 255, 10, axis=0); y = np.repeat(np.arange(4), 10)
    >>> encoder = kssl.backbones.convnet((1, 4, 1), widths=(8,))
    >>> kssl.eval.finetune(encoder, Split(x, y), Split(x, y), fraction=0.5, epochs=2)["labelled_examples"]
    20
    """
    subset = label_subset(train, fraction, seed)
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(encoder)  # fresh initialisation
    if not from_scratch:
        copy.set_weights(encoder.get_weights())
    copy.trainable = True
    num_classes = int(max(np.max(train.labels), np.max(test.labels))) + 1
    classifier = keras.Sequential([copy, keras.layers.Dense(num_classes)])
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    images = subset.float_images()
    classifier.fit(images, subset.labels, batch_size=batch_size, epochs=epochs, verbose=0)
    recalibrate_batch_norm(classifier, images, batch_size=batch_size, seed=seed)
    _, accuracy = classifier.evaluate(test.float_images(), np.asarray(test.labels), batch_size=1024, verbose=0)
    return {"accuracy": float(accuracy), "labelled_examples": len(subset), "fraction": fraction,
            "from_scratch": from_scratch}
