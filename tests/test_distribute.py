"""Two replicas on two logical CPUs must give the one-device loss and update on the same global batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


def one_step(strategy, x, initial_weights, gather_distributed=True):
    with strategy.scope():
        encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="enc")
        model = kssl.methods.SimCLR(
            encoder, projection_dim=8, temperature=0.5, augment=[Identity(), FlipLeftRight()],
            gather_distributed=gather_distributed,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    if initial_weights is not None:
        model.set_weights(initial_weights)
    # fit, not train_on_batch: Keras hands train_on_batch's whole batch to every replica.
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights()


@pytest.fixture(scope="module")
def setup(mirrored):
    keras.utils.set_random_seed(0)
    x = smooth_images(16)
    default = tf.distribute.get_strategy()
    _, weights = one_step(default, x[:2], None)  # any weights: take a model's initial ones
    return x, weights, default, mirrored


def test_two_replicas_equal_one_device(setup, float64):
    x, weights, default, mirrored = setup
    weights = [w.astype("float64") for w in weights]
    assert mirrored.num_replicas_in_sync == 2
    loss_1, weights_1 = one_step(default, x, weights)
    loss_2, weights_2 = one_step(mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights))
    assert moved > 1e-4  # the step did change the weights
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12)


def test_two_replicas_equal_one_device_in_float32(setup):
    x, weights, default, mirrored = setup
    loss_1, weights_1 = one_step(default, x, weights)
    loss_2, weights_2 = one_step(mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    for a, b in zip(weights_2, weights_1):  # float32 sums in another order: 1e-6 absolute near zero
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_without_gathering_negatives_are_local_and_the_loss_differs(setup):
    x, weights, default, mirrored = setup
    loss_1, _ = one_step(default, x, weights)
    loss_local, _ = one_step(mirrored, x, weights, gather_distributed=False)
    assert abs(loss_local - loss_1) > 1e-3


def test_gather_is_a_no_op_on_one_device():
    x = tf.constant([[1.0, 2.0]])
    assert kssl.distribute.all_gather(x) is x
    assert kssl.distribute.replica_id() == 0


def test_unknown_strategy_is_named():
    with pytest.raises(ValueError, match="strategy"):
        kssl.distribute.strategy("tpu_pod_please")


def test_tpu_strategy_without_a_tpu_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(RuntimeError, match=r"no TPU found for `tpu`=None.*docs/distributed.md"):
        kssl.distribute.strategy("tpu")
