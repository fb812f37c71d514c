"""`pretrain`: the one training recipe every kssl example and benchmark uses, so their rows compare.

It is plain Keras: AdamW with a cosine-decayed learning rate, `model.fit` with a progress bar, and
`kssl.training.BackupAndRestore` (Keras' callback, plus RNG state and atomic writes) so an interrupted
run resumes from its last epoch and ends where an uninterrupted run would have.
"""

import json
import math
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf

from kssl.training.files import is_remote, save_weights_atomic, write_text_atomic
from kssl.training.tuning import without_autotune
from kssl.checks import check_positive_int

# The budget of the README's Fashion-MNIST results table: every method is trained with it.
STANDARD_BUDGET = {"epochs": 2, "batch_size": 128, "learning_rate": 2e-3, "weight_decay": 1e-4, "seed": 0}


LR_SCALING = ("none", "linear", "sqrt")


def scaled_learning_rate(learning_rate, global_batch_size, rule="none", reference_batch_size=256):
    """The learning rate for `global_batch_size` from one tuned at `reference_batch_size`.

    - "none": unchanged (kssl's default: the README's budget was tuned at its own batch size).
    - "linear": lr * B / B_ref (Goyal et al. 2017; SimCLR with SGD/LARS: 0.3 * B / 256).
    - "sqrt": lr * sqrt(B / B_ref) (SimCLR's rule for large batches; Adam-family optimizers).

    The global batch is the per-replica batch times the number of replicas: the batch your dataset
    yields under a distribution strategy.

    Example:
    >>> scaled_learning_rate(0.3, 1024, "linear")
    1.2
    >>> scaled_learning_rate(1e-3, 1024, "sqrt")
    0.002
    """
    if rule not in LR_SCALING:
        raise ValueError(f"`rule` must be one of {LR_SCALING}; got {rule!r}.")
    check_positive_int("global_batch_size", global_batch_size)
    check_positive_int("reference_batch_size", reference_batch_size)
    ratio = global_batch_size / reference_batch_size
    return learning_rate * {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[rule]


class CheckpointError(ValueError):
    """A checkpoint (`BackupAndRestore`'s directory) that cannot be restored: damaged, or from another model."""


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


def _build_from_spec(model, spec):
    """Builds `model` by calling it on zeros shaped like one batch of `spec` (the inputs of an
    (inputs, targets) pair; images, or a dict of token tensors), without drawing from the dataset,
    whose shuffle state must not move."""
    spec = spec[0] if isinstance(spec, tuple) else spec
    default_batch = max(2, getattr(model, "min_batch_size", 1))

    def zeros(s):
        return keras.ops.zeros((s.shape[0] or default_batch,) + tuple(s.shape[1:]), dtype=s.dtype.name)

    model(tf.nest.map_structure(zeros, spec))


@keras.saving.register_keras_serializable(package="kssl")
class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` (epoch checkpoints) with what an exact resume also needs.

    Keras' callback restores weights, optimizer state and the epoch. Two things it leaves out, and
    this subclass adds by overriding its private `_save_model` / `_load_model`:

    - RNG state. The `keras.random.SeedGenerator` states that drive augmentations, pretext labels
      and MoCo's shuffle are variables, but Keras does not save them with the weights, so a resumed
      run would replay the random draws of its first epoch. They are saved in the metadata file and
      restored (matched by their order in `model.variables`).
    - Atomicity. Keras writes `latest.weights.h5` in place, so a kill during a save corrupts the
      only checkpoint. Here each epoch's weights go to their own file, written atomically, and the
      metadata file, also atomic and written last, names the weights file it belongs to: a kill at
      any moment leaves a consistent checkpoint.

    `backup_dir` may be local or remote (gs://...: every file goes through `tf.io.gfile`).

    The data order is the caller's part: `pretrain` repeats the dataset and skips the epochs already
    done, so a resumed run sees the batches the uninterrupted run would have.

    Example:
    >>> import numpy as np, tempfile, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.SimCLR(encoder, projection_dim=8)
    >>> model.compile(optimizer="adam")
    >>> backup = kssl.training.BackupAndRestore(tempfile.mkdtemp(), delete_checkpoint=False)
    >>> history = model.fit(np.random.rand(32, 28, 28, 1).astype("float32"), batch_size=16, verbose=0,
    ...                     callbacks=[backup])
    >>> kssl.training.BackupAndRestore.saved_epoch(backup.backup_dir)
    1
    """

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=delete_checkpoint)

    @staticmethod
    def _metadata(backup_dir):
        path = os.path.join(backup_dir, "training_metadata.json")
        if not tf.io.gfile.exists(path):
            return None
        try:
            with tf.io.gfile.GFile(path, "r") as f:
                metadata = json.load(f)
            int(metadata["epoch"]), metadata["weights"]
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise CheckpointError(f"the checkpoint {path} is damaged ({type(error).__name__}: {error}); delete "
                                  f"{backup_dir} to start the run again.") from error
        return metadata

    @classmethod
    def saved_epoch(cls, backup_dir):
        """Number of epochs completed by the checkpoint in `backup_dir` (0 when there is none)."""
        metadata = cls._metadata(backup_dir)
        return 0 if metadata is None else int(metadata["epoch"])

    @classmethod
    def saved_history(cls, backup_dir):
        """The per-epoch logs ({"loss": [...], ...}) of every epoch the checkpoint in `backup_dir` has done
        ({} when there is none, or for a checkpoint written before kssl kept them)."""
        metadata = cls._metadata(backup_dir)
        return {} if metadata is None else dict(metadata.get("history", {}))

    def _rng_variables(self):
        return [v for v in self.model.variables if v.name == "seed_generator_state"]

    def on_train_begin(self, logs=None):
        self._history = {}
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(float(value))
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        tf.io.gfile.makedirs(self.backup_dir)
        weights = f"epoch{self._current_epoch}.weights.h5"
        save_weights_atomic(self.model, os.path.join(self.backup_dir, weights))
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": weights,
                    "model": type(self.model).__name__, "history": self._history,
                    "rng": [v.numpy().tolist() for v in self._rng_variables()]}
        write_text_atomic(self._training_metadata_path, json.dumps(metadata))
        for old in tf.io.gfile.glob(os.path.join(self.backup_dir, "epoch*.weights.h5")):
            if os.path.basename(old) != weights:
                tf.io.gfile.remove(old)

    def _load_model(self):
        metadata = self._metadata(self.backup_dir)
        if metadata is None:
            return
        if not self.model.built:
            raise ValueError("To resume from a backup the model must be built before fit(): call it on a batch.")
        saved_model = metadata.get("model")
        if saved_model is not None and saved_model != type(self.model).__name__:
            raise CheckpointError(f"the checkpoint in {self.backup_dir} was written by a {saved_model} model; this is "
                                  f"a {type(self.model).__name__}: train it in another directory, or delete "
                                  f"{self.backup_dir}.")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        path = os.path.join(self.backup_dir, metadata["weights"])
        try:
            if is_remote(path):  # h5py reads local files only
                local = tempfile.mkdtemp(prefix="kssl-restore-")
                try:
                    tf.io.gfile.copy(path, os.path.join(local, metadata["weights"]))
                    self.model.load_weights(os.path.join(local, metadata["weights"]))
                finally:
                    shutil.rmtree(local, ignore_errors=True)
            else:
                self.model.load_weights(path)
        except Exception as error:  # h5py's OSError for a truncated file, Keras' ValueError for another model
            raise CheckpointError(
                f"the checkpoint {path} cannot be restored into this {type(self.model).__name__} "
                f"({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}): it is damaged "
                f"or was written by a model built with other options; delete {self.backup_dir} to start the run "
                "again.") from error
        rng = self._rng_variables()
        if len(rng) != len(metadata["rng"]):
            raise CheckpointError(f"the backup in {self.backup_dir} holds {len(metadata['rng'])} random-generator "
                                  f"states but the model has {len(rng)}: it was written by a different model.")
        for variable, value in zip(rng, metadata["rng"]):
            variable.assign(value)
        self._history = {k: list(v) for k, v in metadata.get("history", {}).items()}
        self.model._initial_epoch = int(metadata["epoch"])

    def get_config(self):
        return {"backup_dir": self.backup_dir, "delete_checkpoint": self.delete_checkpoint}


def pretrain(model, dataset, epochs, learning_rate=2e-3, weight_decay=1e-4, out=None, verbose="auto",
             callbacks=(), global_clipnorm=None, jit_compile="auto", keep_checkpoint=False, **fit_kwargs):
    """Compiles `model` with AdamW (cosine decay to 0 over the run) and fits it on `dataset`.

    Call it inside a distribution strategy's scope when you use one (the optimizer is created here).

    Args:
        model: a `kssl.SelfSupervisedModel` (or any Keras model with its own loss).
        dataset: a finite `tf.data.Dataset` of batches, e.g. `split.unlabelled(128)`.
        epochs: passes over `dataset`.
        learning_rate: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        out: directory for `backup/` (BackupAndRestore); None trains without a backup. A checkpoint found
            there is resumed ("resuming from epoch N of M" is printed unless `verbose=0`), and the returned
            history then holds every epoch, those before the resume included.
        callbacks: more Keras callbacks (`StopOnNonFiniteLoss` is always added).
        global_clipnorm: clip the gradients' global norm to this value (None: no clipping).
        jit_compile: XLA-compile the train step (Keras' `compile(jit_compile=...)`); True on TPUs.
        keep_checkpoint: keep `out/backup` after training ends, so that a later call with more `epochs`
            continues the run (`kssl pretrain` keeps it); False deletes it on success.

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
    check_positive_int("epochs", epochs)
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
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay, global_clipnorm=global_clipnorm),
                  jit_compile=jit_compile)
    callbacks = [StopOnNonFiniteLoss()] + list(callbacks)
    done, before = 0, {}
    if out is not None:
        backup = os.path.join(out, "backup")
        done = BackupAndRestore.saved_epoch(backup)
        if done > epochs:
            raise ValueError(f"`epochs` is {epochs} but the checkpoint in {backup} has already done {done} epochs; "
                             f"pass epochs >= {done} to continue it, or train in another directory.")
        tf.io.gfile.makedirs(out)
        callbacks.append(BackupAndRestore(backup, delete_checkpoint=not keep_checkpoint))
        if done:
            before = BackupAndRestore.saved_history(backup)
            if verbose != 0:
                print(f"resuming from epoch {done} of {epochs} (checkpoint in {backup})", flush=True)
            if not model.built:  # Keras restores only into a built model
                _build_from_spec(model, dataset.element_spec)
    # One iterator over the repeated dataset: epoch e sees the e-th reshuffle, both in an uninterrupted
    # run and in a resumed one (which skips the epochs its checkpoint has done).
    stream = without_autotune(dataset.repeat().skip(done * steps_per_epoch))  # (kssl.training.tuning: why)
    start = time.time()
    fit_kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself; Keras would warn
    history = model.fit(stream, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=verbose,
                        callbacks=callbacks, **fit_kwargs)
    if before:  # the epochs before the resume, then this call's
        history.history = {k: list(before.get(k, [])) + list(history.history.get(k, []))
                           for k in {**before, **history.history}}
        history.epoch = list(range(len(history.history.get("loss", history.epoch))))
    return history, time.time() - start


__all__ = ["BackupAndRestore", "CheckpointError", "LR_SCALING", "NonFiniteLossError", "scaled_learning_rate", "STANDARD_BUDGET", "StopOnNonFiniteLoss", "pretrain"]
