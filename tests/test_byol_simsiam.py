"""BYOL and SimSiam: the negative-cosine loss against SimSiam's Algorithm 1, the stop-gradients, BYOL's
momentum schedule and target update, two replicas against one device, serialisation, argument checks."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images
from kssl.layers.momentum import cosine_momentum


def tiny(cls, **kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    kwargs.setdefault("projection_dim", 8)
    if cls is kssl.methods.BYOL:
        kwargs.setdefault("hidden_dim", 16)
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    return cls(encoder, **kwargs)


# ---- the loss ---------------------------------------------------------------------------------------
def simsiam_D(p, z):
    """SimSiam's Algorithm 1, literally: D(p, z) = -(p.normalize() * z.detach().normalize()).sum(dim=1).mean()."""
    total = 0.0
    for p_i, z_i in zip(p, z):
        p_n = p_i / math.sqrt(sum(v * v for v in p_i))
        z_n = z_i / math.sqrt(sum(v * v for v in z_i))
        total += sum(a * b for a, b in zip(p_n, z_n))
    return -total / len(p)


def test_negative_cosine_matches_simsiam_pseudocode_and_byol_form():
    rng = np.random.default_rng(0)
    p, z = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    loss = float(kssl.losses.negative_cosine(p, z))
    np.testing.assert_allclose(loss, simsiam_D(p, z), rtol=1e-12)  # float64 in, float64 out
    # BYOL's ||p/||p|| - z/||z|| ||^2 = 2 - 2 cos(p, z) is 2 + 2 D(p, z).
    byol = np.mean(np.sum((p / np.linalg.norm(p, axis=1, keepdims=True)
                           - z / np.linalg.norm(z, axis=1, keepdims=True)) ** 2, axis=1))
    np.testing.assert_allclose(2 + 2 * loss, byol, rtol=1e-12)
    np.testing.assert_allclose(float(kssl.losses.negative_cosine(p.astype("float32"), z)), loss, rtol=1e-5)


def test_negative_cosine_stops_the_gradient_of_the_target():
    rng = np.random.default_rng(1)
    p = tf.Variable(rng.normal(size=(4, 3)).astype("float32"))
    z = tf.Variable(rng.normal(size=(4, 3)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        loss = kssl.losses.negative_cosine(p, z)
    grad_p, grad_z = tape.gradient(loss, p), tape.gradient(loss, z)
    assert grad_z is None or not np.any(grad_z.numpy())
    assert np.abs(grad_p.numpy()).max() > 1e-3


@pytest.mark.parametrize("cls", [kssl.methods.BYOL, kssl.methods.SimSiam])
def test_method_loss_gets_no_gradient_through_the_projections(cls):
    model = tiny(cls)
    x = smooth_images(8)
    outputs = model(x, training=True)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(outputs)
        loss = model.ssl_loss(outputs)
    for name in ("z_1", "z_2"):
        grad = tape.gradient(loss, outputs[name])
        assert grad is None or not np.any(grad.numpy()), name
    for name in ("p_1", "p_2"):
        assert np.abs(tape.gradient(loss, outputs[name]).numpy()).max() > 0, name


def test_simsiam_loss_is_the_symmetric_mean_and_byol_the_symmetric_sum():
    rng = np.random.default_rng(2)
    outputs = {k: rng.normal(size=(4, 8)).astype("float32") for k in ("p_1", "p_2", "z_1", "z_2")}
    d12, d21 = simsiam_D(outputs["p_1"], outputs["z_2"]), simsiam_D(outputs["p_2"], outputs["z_1"])
    np.testing.assert_allclose(float(tiny(kssl.methods.SimSiam).ssl_loss(outputs)), d12 / 2 + d21 / 2, rtol=1e-5)
    np.testing.assert_allclose(float(tiny(kssl.methods.BYOL).ssl_loss(outputs)), (2 + 2 * d12) + (2 + 2 * d21),
                               rtol=1e-5)


# ---- BYOL's momentum ------------------------------------------------------------------------------
def test_cosine_momentum_follows_the_paper():
    base, total = 0.99, 1000
    for k in (0, 1, 250, 500, 999, 1000):
        expected = 1 - (1 - base) * (math.cos(math.pi * k / total) + 1) / 2
        assert cosine_momentum(k, total, base) == pytest.approx(expected, abs=1e-12)
        np.testing.assert_allclose(float(cosine_momentum(tf.constant(k, "int64"), tf.constant(total), base)),
                                   expected, rtol=1e-6)
    assert cosine_momentum(0, total, base) == pytest.approx(base)
    assert cosine_momentum(2 * total, total, base) == 1.0  # past K it stays at 1
    with pytest.raises(ValueError, match="total_steps"):
        cosine_momentum(0, 0, base)
    with pytest.raises(ValueError, match="base"):
        cosine_momentum(0, 10, 1.5)


def online_and_target_weights(model):
    online = [w.numpy() for w in model.encoder.trainable_weights + model.projector.trainable_weights]
    target = [w.numpy() for w in model.target_encoder.weights + model.target_projector.weights
              if not w.path.endswith(("moving_mean", "moving_variance"))]
    return online, target


def test_byol_target_gets_no_gradient_and_follows_the_scheduled_momentum():
    keras.utils.set_random_seed(0)
    model = tiny(kssl.methods.BYOL, tau_base=0.8, total_steps=10)
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    x = smooth_images(16)
    target_weights = model.target_encoder.weights + model.target_projector.weights
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for w in target_weights)
    with tf.GradientTape() as tape:
        loss = model.ssl_loss(model(x, training=True))
    assert all(g is None for g in tape.gradient(loss, target_weights))
    # Perturb the target so that theta' != theta and the formula is not trivially met.
    for w in model.target_encoder.trainable_weights + model.target_projector.weights:
        w.assign(w + 0.1)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(5)  # k = 5 of K = 10: tau = 1 - 0.2 (cos(pi/2) + 1) / 2 = 0.9
    online_0, target_0 = online_and_target_weights(model)
    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    online_1, target_1 = online_and_target_weights(model)
    assert int(model.optimizer.iterations.numpy()) == 6
    assert max(np.abs(a - b).max() for a, b in zip(online_1, online_0)) > 1e-4  # the online side learned
    for new_online, old_target, new_target in zip(online_1, target_0, target_1):
        np.testing.assert_allclose(new_target, 0.9 * old_target + 0.1 * new_online, rtol=1e-5, atol=1e-6)
    assert int(model.schedule_steps.numpy()) == 10  # an explicit K is kept


def test_byol_fit_sets_the_schedule_length_and_checkpoints_carry_it(tmp_path):
    model = tiny(kssl.methods.BYOL, tau_base=0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    model.fit(smooth_images(24), batch_size=8, epochs=3, verbose=0)
    assert int(model.schedule_steps.numpy()) == 9  # 3 epochs x 3 steps
    assert float(model.scheduled_momentum()) == pytest.approx(cosine_momentum(8, 9, 0.9), rel=1e-6)
    path = str(tmp_path / "byol.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert int(loaded.schedule_steps.numpy()) == 9
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- two replicas against one device --------------------------------------------------------------
def one_step(strategy, cls, x, weights, synchronized=True):
    with strategy.scope():
        kwargs = {"tau_base": 0.9, "total_steps": 4} if cls is kssl.methods.BYOL else {}
        model = tiny(cls, **kwargs)
        if not synchronized:  # the negative control: per-replica batch statistics in the heads
            for layer in model._flatten_layers():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.synchronized = False
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    if weights is not None:
        model.set_weights(weights)
    # fit, not train_on_batch: Keras hands train_on_batch's whole batch to every replica.
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights()


@pytest.mark.parametrize("cls", [kssl.methods.BYOL, kssl.methods.SimSiam])
def test_two_replicas_equal_one_device(cls, mirrored, float64):
    default = tf.distribute.get_strategy()
    assert mirrored.num_replicas_in_sync == 2
    keras.utils.set_random_seed(0)
    x = smooth_images(16).astype("float64")
    weights = tiny(cls).get_weights()
    loss_1, weights_1 = one_step(default, cls, x, weights)
    loss_2, weights_2 = one_step(mirrored, cls, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-6)  # the loss metric is tracked in float32
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights)) > 1e-4  # the step moved them
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    # Negative control: the same step with per-replica batch norm differs, so the test can fail.
    loss_local, weights_local = one_step(mirrored, cls, x, weights, synchronized=False)
    assert abs(loss_local - loss_1) > 1e-4
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_local, weights_1)) > 1e-4


# ---- serialisation and arguments ------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs", [
    (kssl.methods.BYOL, {"projection_dim": 6, "hidden_dim": 10, "predictor_hidden_dim": 12, "tau_base": 0.99,
                         "total_steps": 100}),
    (kssl.methods.SimSiam, {"projection_dim": 6, "hidden_dim": 10, "predictor_hidden_dim": 3, "projector_layers": 3}),
])
def test_config_round_trip(cls, kwargs):
    model = tiny(cls, augment=None, **kwargs)
    config = model.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert len(clone.get_weights()) == len(model.get_weights())


@pytest.mark.parametrize("cls, kwargs, match", [
    (kssl.methods.BYOL, {"tau_base": 1.5}, "tau_base"),
    (kssl.methods.BYOL, {"total_steps": 0}, "total_steps"),
    (kssl.methods.BYOL, {"hidden_dim": 0}, "hidden_dim"),
    (kssl.methods.BYOL, {"predictor_hidden_dim": -1}, "predictor_hidden_dim"),
    (kssl.methods.BYOL, {"projection_dim": 2.5}, "projection_dim"),
    (kssl.methods.SimSiam, {"projection_dim": 0}, "projection_dim"),
    (kssl.methods.SimSiam, {"predictor_hidden_dim": 0}, "predictor_hidden_dim"),
    (kssl.methods.SimSiam, {"projector_layers": 0}, "projector_layers"),
])
def test_bad_arguments_are_named(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tiny(cls, **kwargs)


def test_byol_fit_on_a_dataset_of_unknown_size_asks_for_total_steps():
    model = tiny(kssl.methods.BYOL)
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    data = tf.data.Dataset.from_tensor_slices(smooth_images(16)).batch(8).filter(lambda x: True)
    with pytest.raises(ValueError, match="total_steps"):
        model.fit(data, epochs=1, verbose=0)
