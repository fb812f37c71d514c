"""`pretrain`: the one training recipe every kssl example and benchmark uses, so their rows compare.

It is plain Keras: AdamW with a cosine-decayed learning rate, `model.fit` with a progress bar, and
`keras.callbacks.BackupAndRestore` so an interrupted run resumes from its last epoch.
"""

import os
import time

import keras

# The budget of the README's Fashion-MNIST results table: every method is trained with it.
STANDARD_BUDGET = {"epochs": 2, "batch_size": 128, "learning_rate": 2e-3, "weight_decay": 1e-4, "seed": 0}


def pretrain(model, dataset, epochs, learning_rate=2e-3, weight_decay=1e-4, out=None, verbose="auto",
             callbacks=(), **fit_kwargs):
    """Compiles `model` with AdamW (cosine decay to 0 over the run) and fits it on `dataset`.

    Call it inside a distribution strategy's scope when you use one (the optimizer is created here).

    Args:
        model: a `kssl.SelfSupervisedModel` (or any Keras model with its own loss).
        dataset: a finite `tf.data.Dataset` of batches, e.g. `split.unlabelled(128)`.
        epochs: passes over `dataset`.
        learning_rate: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        out: directory for `backup/` (BackupAndRestore); None trains without a backup.
        callbacks: more Keras callbacks.

    Returns:
        (history, seconds): the Keras `History` and the wall-clock training time.

    Example:
    >>> import numpy as np, tensorflow as tf, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.SimCLR(encoder, projection_dim=8)
    >>> data = tf.data.Dataset.from_tensor_slices(np.random.rand(32, 28, 28, 1).astype("float32")).batch(16)
    >>> history, seconds = kssl.training.pretrain(model, data, epochs=1, verbose=0)
    >>> len(history.history["loss"])
    1
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an integer >= 1; got {epochs!r}.")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0; got {learning_rate!r}.")
    steps_per_epoch = int(dataset.cardinality())
    if steps_per_epoch == 0:
        raise ValueError("`dataset` is empty: it yields no batch (is batch_size larger than the data, with "
                         "drop_remainder=True?).")
    if steps_per_epoch < 0:
        raise ValueError("`dataset` must have a known, finite length (no .repeat() or .filter()).")
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay))
    callbacks = list(callbacks)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(out, "backup")))
    start = time.time()
    history = model.fit(dataset, epochs=epochs, verbose=verbose, callbacks=callbacks, **fit_kwargs)
    return history, time.time() - start


__all__ = ["STANDARD_BUDGET", "pretrain"]
