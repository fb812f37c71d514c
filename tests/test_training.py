"""kssl.training.pretrain: the shared recipe, its argument checks, and numerical-fault handling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl.training.pretrain import _build_from_spec
from helpers import FlipLeftRight, Identity, smooth_images


def tiny_simclr():
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    return kssl.methods.SimCLR(encoder, projection_dim=8, augment=[Identity(), FlipLeftRight()])


def batches(images, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True)


class _PoisonAt(keras.callbacks.Callback):
    """Sets a weight to NaN before step `step` of epoch `epoch` (0-based): a loss that becomes NaN inside the
    network (the images themselves are checked by ImageModel and never reach the loss as NaN)."""

    def __init__(self, epoch, step):
        super().__init__()
        self.target, self._epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self._epoch, batch) == self.target:
            weight = self.model.trainable_variables[0]
            weight.assign(np.full(weight.shape, np.nan, weight.dtype))


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    keras.utils.set_random_seed(0)
    data = batches(smooth_images(32))  # 4 batches of 8; epoch 1 is clean, epoch 2 turns NaN at its 3rd step
    with pytest.raises(kssl.training.NonFiniteLossError, match=r"became nan at epoch 2, step 3"):
        kssl.training.pretrain(tiny_simclr(), data, epochs=2, out=str(tmp_path), verbose=0, callbacks=[_PoisonAt(1, 2)])
    assert kssl.training.BackupAndRestore.saved_epoch(str(tmp_path / "backup")) == 1
    backup = tmp_path / "backup" / "epoch1.weights.h5"
    assert backup.exists()  # the end of epoch 1 survived the failure
    restored = tiny_simclr()
    restored.load_weights(str(backup))
    assert all(np.isfinite(w).all() for w in restored.get_weights())


def test_pretrain_refuses_bad_arguments():
    model = tiny_simclr()
    data = batches(smooth_images(16))
    with pytest.raises(ValueError, match="`epochs` must be an integer >= 1"):
        kssl.training.pretrain(model, data, epochs=0)
    with pytest.raises(ValueError, match="`learning_rate` must be > 0"):
        kssl.training.pretrain(model, data, epochs=1, learning_rate=0)
    with pytest.raises(ValueError, match="`dataset` is empty"):
        kssl.training.pretrain(model, batches(smooth_images(4)), epochs=1)
    with pytest.raises(ValueError, match="known, finite length"):
        kssl.training.pretrain(model, data.repeat(), epochs=1)
    with pytest.raises(ValueError, match="`global_clipnorm` must be > 0"):
        kssl.training.pretrain(model, data, epochs=1, global_clipnorm=-1.0)


def test_gradient_clipping_bounds_the_update():
    keras.utils.set_random_seed(0)
    data = batches(smooth_images(8))
    moved = {}
    for clip in (None, 1e-6):
        keras.utils.set_random_seed(0)
        model = tiny_simclr()
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(1.0, global_clipnorm=clip))
        model.fit(data, epochs=1, verbose=0)
        moved[clip] = np.sqrt(sum(np.sum((w.numpy() - b) ** 2) for w, b in zip(model.trainable_weights, before)))
    assert moved[1e-6] <= 1.01e-6 < moved[None]
    model = tiny_simclr()
    history, _ = kssl.training.pretrain(model, data, epochs=1, global_clipnorm=1.0, verbose=0)
    assert model.optimizer.global_clipnorm == 1.0 and np.isfinite(history.history["loss"]).all()


def test_learning_rate_scaling_rules():
    scale = kssl.training.scaled_learning_rate
    assert scale(0.3, 512, "none") == 0.3
    assert scale(0.3, 512, "linear") == pytest.approx(0.6)
    assert scale(0.1, 1024, "sqrt", reference_batch_size=256) == pytest.approx(0.2)
    assert scale(0.1, 64, "linear", reference_batch_size=64) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="`rule` must be one of"):
        scale(0.1, 64, "quadratic")
    with pytest.raises(ValueError, match="`global_batch_size` must be an integer >= 1"):
        scale(0.1, 0, "linear")


class _StopAt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("interrupted")


class _CountSteps(keras.callbacks.Callback):
    count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def test_backup_on_a_remote_filesystem_resumes(tmp_path):
    # ram:// is TensorFlow's in-memory filesystem: it goes through tf.io.gfile like gs:// does.
    out = f"ram://kssl-test-{tmp_path.name}"
    data = batches(smooth_images(32))
    with pytest.raises(RuntimeError, match="interrupted"):
        kssl.training.pretrain(tiny_simclr(), data, epochs=2, out=out, verbose=0, callbacks=[_StopAt()])
    assert kssl.training.BackupAndRestore.saved_epoch(f"{out}/backup") == 1
    assert tf.io.gfile.glob(f"{out}/backup/*.weights.h5") == [f"{out}/backup/epoch1.weights.h5"]
    steps = _CountSteps()
    history, _ = kssl.training.pretrain(tiny_simclr(), data, epochs=2, out=out, verbose=0, callbacks=[steps])
    assert steps.count == int(data.cardinality())  # resumed at epoch 2: one epoch trained
    assert len(history.history["loss"]) == 2  # the history holds epoch 1 too (from the checkpoint)
    assert not tf.io.gfile.exists(f"{out}/backup")


class _DictModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.embed = keras.layers.Embedding(10, 4)

    def call(self, x):
        return self.embed(x["tokens"]) + keras.ops.cast(x["mask"][..., None], "float32")


def test_a_resumed_model_is_built_from_the_dataset_spec_without_reading_it():
    # Text methods take dicts of token tensors: the resume path builds them from the spec too.
    spec = ({"tokens": tf.TensorSpec((None, 6), tf.int32), "mask": tf.TensorSpec((None, 6), tf.int32)},
            tf.TensorSpec((None,), tf.int32))
    model = _DictModel()
    _build_from_spec(model, spec)
    assert model.built and model.embed.embeddings.shape == (10, 4)
