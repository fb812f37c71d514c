"""MoCo's mechanics: the momentum update, no gradient to the key encoder, the FIFO queue, equivalence
of two replicas and one device, serialisation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


def tiny_moco(**kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    kwargs.setdefault("projection_dim", 8)
    kwargs.setdefault("queue_size", 32)
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    return kssl.methods.MoCo(encoder, **kwargs)


def query_and_key_weights(model):
    query = [w.numpy() for w in model.encoder.trainable_weights + model.head.trainable_weights]
    key = [w.numpy() for w in model.key_encoder.weights + model.key_head.weights
           if not w.path.endswith(("moving_mean", "moving_variance"))]
    return query, key


def test_key_encoder_follows_the_momentum_formula_and_gets_no_gradient():
    keras.utils.set_random_seed(0)
    model = tiny_moco(momentum=0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    x = smooth_images(16)
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for w in model.key_encoder.weights + model.key_head.weights)
    # Perturb the key side so that theta_k != theta_q and the formula is not trivially met.
    for w in model.key_encoder.trainable_weights + model.key_head.weights:
        w.assign(w + 0.1)
    q0, k0 = query_and_key_weights(model)
    with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        loss = model.ssl_loss(outputs)
    grads = tape.gradient(loss, model.key_encoder.weights + model.key_head.weights)
    assert all(g is None for g in grads)

    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    q1, k1 = query_and_key_weights(model)
    assert max(np.abs(a - b).max() for a, b in zip(q1, q0)) > 1e-4  # the query side learned
    for qa, ka, kb in zip(q1, k0, k1):
        np.testing.assert_allclose(kb, 0.9 * ka + 0.1 * qa, rtol=1e-5, atol=1e-6)


def test_queue_is_fifo_and_holds_normalised_keys():
    model = tiny_moco(queue_size=12)
    keys = [np.full((4, 8), float(i + 1), "float32") for i in range(4)]
    for batch in keys:
        model.queue.enqueue(keras.ops.convert_to_tensor(batch))
    queue = model.queue.values.numpy()
    # 4 batches of 4 into 12 slots: the 4th overwrote the 1st (oldest).
    np.testing.assert_array_equal(queue[:4], keys[3])
    np.testing.assert_array_equal(queue[4:8], keys[1])
    np.testing.assert_array_equal(queue[8:], keys[2])
    assert int(model.queue.pointer.numpy()) == 4

    keras.utils.set_random_seed(1)
    model = tiny_moco(queue_size=16)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(8)
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    expected_keys = keras.ops.normalize(model.key_head(model.key_encoder(FlipLeftRight()(x), training=True)), axis=-1)
    # The keys enqueued were made before this step's momentum update: compare loosely in direction.
    np.testing.assert_allclose(np.linalg.norm(model.queue.values.numpy()[:8], axis=1), 1.0, rtol=1e-5)
    cosine = np.sum(model.queue.values.numpy()[:8] * np.asarray(expected_keys), axis=1)
    assert cosine.min() > 0.99
    assert int(model.queue.pointer.numpy()) == 8


def test_queue_size_must_be_a_multiple_of_the_global_batch():
    model = tiny_moco(queue_size=20)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    with pytest.raises(ValueError, match=r"`queue_size` \(20\) must be a multiple of the global batch size \(8"):
        model.fit(smooth_images(8), batch_size=8, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"momentum": 1.0}, "`momentum` must be a number in \\[0, 1\\)"),
    ({"momentum": -0.1}, "`momentum`"),
    ({"queue_size": 0}, "`queue_size` must be an integer >= 1"),
    ({"version": 3}, "`version` must be 1 or 2"),
    ({"temperature": 0.0}, "`temperature` must be a number > 0"),
    ({"shuffle_bn_splits": 0}, "`shuffle_bn_splits`"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_moco(**kwargs)


def test_versions_set_head_and_temperature():
    v1, v2 = tiny_moco(version=1), tiny_moco(version=2)
    assert (v1.head.num_layers, v1.temperature) == (1, 0.07)
    assert (v2.head.num_layers, v2.temperature) == (2, 0.2)


def test_shuffling_bn_runs_and_keeps_keys_in_query_order():
    keras.utils.set_random_seed(0)
    model = tiny_moco(shuffle_bn_splits=2, augment=[Identity(), Identity()])
    x = smooth_images(8)
    keys = np.asarray(model(x, training=True)["k"])
    model.shuffle_bn_splits = 1
    reference = np.asarray(model(x, training=True)["k"])  # one BN group, no permutation
    model.shuffle_bn_splits = 2
    assert not np.allclose(keys, reference, atol=1e-4)  # other batch statistics...
    # ...but each key is still its own image's key, in the queries' order.
    np.testing.assert_array_equal(np.argmax(keys @ reference.T, axis=1), np.arange(8))
    with pytest.raises(ValueError, match="multiple of `shuffle_bn_splits`"):
        model(smooth_images(7), training=True)


def test_config_round_trip_and_saved_queue(tmp_path):
    model = tiny_moco(version=1, queue_size=16, momentum=0.99)
    model.queue.enqueue(keras.ops.ones((16, 8)))
    clone = kssl.methods.MoCo.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = str(tmp_path / "moco.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.queue.values.numpy(), model.queue.values.numpy())


def one_step(strategy, x, weights):
    with strategy.scope():
        model = tiny_moco(augment=[Identity(), FlipLeftRight()], queue_size=32, momentum=0.9)
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    if weights is not None:
        model.set_weights(weights)
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights(), model.queue.values.numpy()


def test_two_replicas_equal_one_device(mirrored):
    default = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    x = smooth_images(16)
    fresh = tiny_moco(queue_size=32, momentum=0.9)
    weights, initial_queue = fresh.get_weights(), fresh.queue.values.numpy()
    loss_1, weights_1, queue_1 = one_step(default, x, weights)
    loss_2, weights_2, queue_2 = one_step(mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    # The queue holds the keys of the whole global batch, in order, on every replica.
    np.testing.assert_allclose(queue_2, queue_1, rtol=1e-5, atol=1e-6)
    assert not np.allclose(queue_1[:16], initial_queue[:16])
    np.testing.assert_array_equal(queue_1[16:], initial_queue[16:])  # it did change
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
