"""`pretrain`: the one training recipe every kssl example and benchmark uses, so their rows compare.

It is plain Keras: AdamW with a cosine-decayed learning rate, `model.fit` with a progress bar, and
`keras.callbacks.BackupAndRestore` so an interrupted run resumes from its last epoch.
"""

import math
import os
import time

import keras

# The budget of the README's Fashion-MNIST results table: every method is trained with it.
STANDARD_BUDGET = {"epochs": 2, "batch_size": 128, "learning_rate": 2e-3, "weight_decay": 1e-4, "seed": 0}


class NonFiniteLossError(FloatingPointError):
    """Raised by `StopOnNonFiniteLoss` when the training loss becomes NaN or infinite."""


@keras.saving.register_keras_serializable(package="kssl")
class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with `NonFiniteLossError` naming the epoch and step where the loss became NaN/Inf.

    Unlike `keras.callbacks.TerminateOnNaN`, it raises instead of ending training normally, so
    `BackupAndRestore` does not delete its backup at the end of training: the last good checkpoint
    (the end of the previous epoch) stays on disk, and a re-run resumes from it.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"the training loss became {float(loss)} at epoch {getattr(self, '_epoch', 0) + 1}, step {batch + 1}. "
                "The last good checkpoint (end of the previous epoch) is kept in the BackupAndRestore directory. "
                "Lower the learning rate, or clip gradients (pretrain(..., global_clipnorm=1.0))."
            )

    def get_config(self):
        return {}


def pretrain(model, dataset, epochs, learning_rate=2e-3, weight_decay=1e-4, out=None, verbose="auto",
             callbacks=(), global_clipnorm=None, **fit_kwargs):
    """Compiles `model` with AdamW (cosine decay to 0 over the run) and fits it on `dataset`.

    Call it inside a distribution strategy's scope when you use one (the optimizer is created here).

    Args:
        model: a `kssl.SelfSupervisedModel` (or any Keras model with its own loss).
        dataset: a finite `tf.data.Dataset` of batches, e.g. `split.unlabelled(128)`.
        epochs: passes over `dataset`.
        learning_rate: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        out: directory for `backup/` (BackupAndRestore); None trains without a backup.
        callbacks: more Keras callbacks (`StopOnNonFiniteLoss` is always added).
        global_clipnorm: clip the gradients' global norm to this value (None: no clipping).

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
    if global_clipnorm is not None and not global_clipnorm > 0:
        raise ValueError(f"`global_clipnorm` must be > 0 or None; got {global_clipnorm!r}.")
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay, global_clipnorm=global_clipnorm))
    callbacks = [StopOnNonFiniteLoss()] + list(callbacks)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(out, "backup")))
    start = time.time()
    fit_kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself; Keras would warn
    history = model.fit(dataset, epochs=epochs, verbose=verbose, callbacks=callbacks, **fit_kwargs)
    return history, time.time() - start


__all__ = ["NonFiniteLossError", "STANDARD_BUDGET", "StopOnNonFiniteLoss", "pretrain"]
