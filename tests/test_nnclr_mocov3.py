"""NNCLR and MoCo v3: losses against literal transcriptions of the papers' pseudocode, stop-gradient sides,
NNCLR's support set of the gathered global batch, MoCo v3's momentum update after the optimizer step,
two replicas against one device (float64, with negative controls), serialisation, argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


# ---- references: the papers' pseudocode, transcribed literally with numpy -----------------------------
def normalize(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cross_entropy(logits, labels):
    """Mean of -log softmax(logits)[i, labels[i]], written out."""
    total = 0.0
    for i, label in enumerate(labels):
        total += -(logits[i, label] - np.log(np.sum(np.exp(logits[i]))))
    return total / len(labels)


def nn_reference(z, support):
    """NN(z, Q): the support row of highest cosine similarity, by loops."""
    support = normalize(support.astype(np.float64))
    out = []
    for row in z.astype(np.float64):
        sims = [row @ q / np.linalg.norm(row) for q in support]
        out.append(support[int(np.argmax(sims))])
    return np.array(out)


def nnclr_reference(z1, z2, p1, p2, support, temperature):
    """NNCLR's Algorithm 1 (Dwibedi et al., 2021):
        nn1 = NN(z1, Q); nn2 = NN(z2, Q)
        loss = L(nn1, p2) / 2 + L(nn2, p1) / 2
        def L(nn, p): nn, p = normalize(nn), normalize(p); logits = nn @ p.T / t; CE(logits, range(n))"""

    def L(nn, p):
        nn, p = normalize(nn), normalize(p.astype(np.float64))
        logits = nn @ p.T / temperature
        return cross_entropy(logits, np.arange(len(p)))

    nn1, nn2 = nn_reference(z1, support), nn_reference(z2, support)
    return L(nn1, p2) / 2 + L(nn2, p1) / 2


def moco_v3_reference(q1, q2, k1, k2, temperature):
    """MoCo v3's Algorithm 1 (Chen, Xie & He, 2021):
        loss = ctr(q1, k2) + ctr(q2, k1)
        def ctr(q, k): logits = mm(q, k.t()) (normalised); labels = range(N); CE(logits / t, labels) * 2 * t"""

    def ctr(q, k):
        q, k = normalize(q.astype(np.float64)), normalize(k.astype(np.float64))
        return cross_entropy(q @ k.T / temperature, np.arange(len(q))) * 2 * temperature

    return ctr(q1, k2) + ctr(q2, k1)


# ---- losses --------------------------------------------------------------------------------------
def test_nearest_neighbour_matches_brute_force_and_carries_no_gradient():
    rng = np.random.default_rng(0)
    z, support = rng.normal(size=(7, 5)), rng.normal(size=(20, 5)) * rng.uniform(0.1, 5, (20, 1))
    np.testing.assert_allclose(kssl.losses.nearest_neighbour(z, support).numpy(), nn_reference(z, support), rtol=1e-12)
    z, support = tf.Variable(z), tf.Variable(support)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(kssl.losses.nearest_neighbour(z, support))
    assert all(g is None for g in tape.gradient(total, [z, support]))


def test_nearest_neighbour_searches_only_the_rows_written_so_far():
    support = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    z = np.array([[0.5, 0.9], [3.0, 0.1]])
    np.testing.assert_allclose(kssl.losses.nearest_neighbour(z, support, count=3), nn_reference(z, support))
    np.testing.assert_allclose(kssl.losses.nearest_neighbour(z, support, count=2), nn_reference(z, support[:2]))
    np.testing.assert_allclose(kssl.losses.nearest_neighbour(z, support, count=0), normalize(z))  # NN(z) = z


def test_nearest_neighbour_refuses_mismatched_widths():
    with pytest.raises(ValueError, match="`support`"):
        kssl.losses.nearest_neighbour(np.ones((2, 3), "float32"), np.ones((4, 5), "float32"))


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nnclr_loss_matches_the_papers_pseudocode(temperature):
    rng = np.random.default_rng(1)
    z1, z2, p1, p2 = (rng.normal(size=(6, 4)) for _ in range(4))
    support = rng.normal(size=(16, 4))
    nn1, nn2 = kssl.losses.nearest_neighbour(z1, support), kssl.losses.nearest_neighbour(z2, support)
    got = float(kssl.losses.nnclr(nn1, nn2, p1, p2, temperature))
    np.testing.assert_allclose(got, nnclr_reference(z1, z2, p1, p2, support, temperature), rtol=1e-10)
    # Not symmetric in its arguments by accident: pairing nn_1 with p_1 is another number.
    assert abs(float(kssl.losses.nnclr(nn1, nn2, p2, p1, temperature)) - got) > 1e-3


@pytest.mark.parametrize("temperature", [0.2, 1.0])
def test_moco_v3_loss_matches_the_papers_pseudocode(temperature):
    rng = np.random.default_rng(2)
    q1, q2, k1, k2 = (rng.normal(size=(6, 4)) for _ in range(4))
    got = float(kssl.losses.moco_v3(q1, q2, k1, k2, temperature))
    np.testing.assert_allclose(got, moco_v3_reference(q1, q2, k1, k2, temperature), rtol=1e-10)
    assert abs(float(kssl.losses.moco_v3(q1, q2, k2, k1, temperature)) - got) > 1e-3


# ---- models --------------------------------------------------------------------------------------
def encoder():
    return kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")


def tiny_nnclr(**kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    return kssl.methods.NNCLR(encoder(), **{"projection_dim": 8, "queue_size": 32, "temperature": 0.5, **kwargs})


def tiny_moco_v3(**kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    return kssl.methods.MoCoV3(encoder(), **{"projection_dim": 8, "momentum": 0.9, "temperature": 0.5, **kwargs})


def test_nnclr_support_set_and_the_nn_positive_get_no_gradient():
    keras.utils.set_random_seed(0)
    model = tiny_nnclr()
    x = smooth_images(16)
    with tf.GradientTape(persistent=True) as tape:
        outputs = model(x, training=True)
        loss = model.ssl_loss(outputs)
        nn_only = tf.reduce_sum(outputs["nn_1"]) + tf.reduce_sum(outputs["nn_2"])
    grads = tape.gradient(loss, [model.support_set.values] + model.trainable_weights)
    assert grads[0] is None
    assert all(g is not None for g in grads[1:])  # encoder, projector and predictor learn through p
    assert all(g is None for g in tape.gradient(nn_only, model.trainable_weights))  # NN(z) is a constant


def test_nnclr_enqueues_the_first_views_normalised_projections_after_the_step():
    keras.utils.set_random_seed(0)
    model = tiny_nnclr(queue_size=48)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(16)
    initial = model.support_set.values.numpy()
    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    values = model.support_set.values.numpy()
    np.testing.assert_array_equal(values[16:], initial[16:])
    np.testing.assert_allclose(np.linalg.norm(values[:16], axis=1), 1.0, rtol=1e-5)
    # After the optimizer step: the enqueued rows are the projections of the step's starting weights.
    # (Identity is view 1; BN in training mode, as in the step.)
    assert int(model.support_set.pointer.numpy()) == 16


def test_moco_v3_keys_get_no_gradient_and_momentum_follows_the_optimizer_step():
    keras.utils.set_random_seed(0)
    model = tiny_moco_v3(momentum=0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    x = smooth_images(16)
    key_weights = model.key_encoder.weights + model.key_projector.weights
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for w in key_weights)
    assert not any(id(w) in trainable for w in model.key_encoder.weights + model.key_projector.weights)
    for w in model.key_encoder.trainable_weights + model.key_projector.weights:
        w.assign(w + 0.1)  # theta_k != theta_q, so the formula is not trivially met

    def query_and_key():
        query = [w.numpy() for w in model.encoder.trainable_weights + model.projector.trainable_weights]
        key = [w.numpy() for w in key_weights if not w.path.endswith(("moving_mean", "moving_variance"))]
        return query, key

    with tf.GradientTape() as tape:
        loss = model.ssl_loss(model(x, training=True))
    assert all(g is None for g in tape.gradient(loss, key_weights))
    q0, k0 = query_and_key()
    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    q1, k1 = query_and_key()
    assert len(q1) == len(k1) and max(np.abs(a - b).max() for a, b in zip(q1, q0)) > 1e-4
    for qa, ka, kb in zip(q1, k0, k1):  # from the UPDATED query weights: after the optimizer step
        np.testing.assert_allclose(kb, 0.9 * ka + 0.1 * qa, rtol=1e-5, atol=1e-6)


def test_moco_v3_momentum_rises_on_the_cosine_schedule_unless_constant():
    from kssl.layers.momentum import cosine_momentum
    x = smooth_images(16)
    model = tiny_moco_v3(momentum=0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    model.fit(x, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert int(model.schedule_steps.numpy()) == 4  # K = 2 epochs x 2 steps
    assert float(model.scheduled_momentum()) == pytest.approx(cosine_momentum(3, 4, 0.9), rel=1e-6)
    assert float(model.scheduled_momentum()) > 0.98  # risen from 0.9 towards 1
    constant = tiny_moco_v3(momentum=0.9, momentum_schedule="constant")
    constant.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    unknown_size = tf.data.Dataset.from_tensor_slices(x).batch(8).repeat().take(2)  # no K needed
    constant.fit(unknown_size, epochs=1, verbose=0)
    assert constant.get_config()["momentum_schedule"] == "constant"


# ---- two replicas against one device -------------------------------------------------------------
BUILD = {"nnclr": tiny_nnclr, "moco_v3": tiny_moco_v3}


def one_step(name, strategy, x, weights, **kwargs):
    with strategy.scope():
        model = BUILD[name](**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    model.set_weights(weights)
    # fit, not train_on_batch: Keras hands train_on_batch's whole batch to every replica.
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights(), model


@pytest.mark.parametrize("name", ["nnclr", "moco_v3"])
def test_two_replicas_equal_one_device(name, mirrored, float64):
    default = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    x = smooth_images(16).astype("float64")
    fresh = BUILD[name]()
    if name == "nnclr":  # half-full support set: the step looks up real neighbours (at filled = 0, NN(z) = z)
        fresh.support_set.enqueue(np.random.default_rng(3).normal(size=(16, 8)))
    weights = fresh.get_weights()
    loss_1, weights_1, _ = one_step(name, default, x, weights)
    loss_2, weights_2, _ = one_step(name, mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-10)
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights)) > 1e-4  # the step moved
    for a, b in zip(weights_2, weights_1):  # includes NNCLR's support set, MoCo v3's momentum copies
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    # Negative control: local negatives (keys) only, and the loss is another number.
    loss_local, _, _ = one_step(name, mirrored, x, weights, gather_distributed=False)
    assert abs(loss_local - loss_1) > 1e-3


def test_nnclr_support_set_holds_the_gathered_global_batch(mirrored, float64):
    default = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    x = smooth_images(16).astype("float64")
    fresh = tiny_nnclr()
    weights, initial = fresh.get_weights(), fresh.support_set.values.numpy()
    _, _, one = one_step("nnclr", default, x, weights)
    _, _, two = one_step("nnclr", mirrored, x, weights)
    _, _, local = one_step("nnclr", mirrored, x, weights, gather_distributed=False)
    expected = one.support_set.values.numpy()
    assert not np.allclose(expected[:16], initial[:16]) and np.array_equal(expected[16:], initial[16:])
    np.testing.assert_allclose(two.support_set.values.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert int(two.support_set.pointer.numpy()) == 16
    # Control: without the gather the second replica's projections never reach the support set.
    assert int(local.support_set.pointer.numpy()) == 8
    assert not np.allclose(local.support_set.values.numpy()[:16], expected[:16], atol=1e-3)


# ---- serialisation and arguments -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["nnclr", "moco_v3"])
def test_config_round_trip_and_saved_state(name, tmp_path):
    model = BUILD[name](augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast"))
    if name == "nnclr":
        model.support_set.enqueue(keras.ops.ones((16, 8)))
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    # (Keras writes the functional encoder's build shapes back as lists: compare the rest of the config.)
    without_encoder = lambda config: {k: v for k, v in config.items() if k != "encoder"}  # noqa: E731
    assert type(loaded) is type(model) and without_encoder(loaded.get_config()) == without_encoder(model.get_config())
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, kwargs, match", [
    ("nnclr", {"queue_size": 0}, "`queue_size`"),
    ("nnclr", {"temperature": 0.0}, "`temperature`"),
    ("nnclr", {"projection_dim": -1}, "`projection_dim`"),
    ("nnclr", {"predictor_hidden_dim": 0}, "`predictor_hidden_dim`"),
    ("nnclr", {"projector_layers": 0}, "`projector_layers`"),
    ("moco_v3", {"momentum": 1.0}, "`momentum`"),
    ("moco_v3", {"temperature": -1.0}, "`temperature`"),
    ("moco_v3", {"hidden_dim": 0}, "`hidden_dim`"),
    ("moco_v3", {"momentum_schedule": "cosin"}, "`momentum_schedule`"),
])
def test_bad_arguments_are_named(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BUILD[name](**kwargs)


def test_nnclr_queue_size_must_be_a_multiple_of_the_global_batch():
    model = tiny_nnclr(queue_size=40)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    with pytest.raises(ValueError, match="`queue_size`"):
        model.fit(smooth_images(16), batch_size=16, epochs=1, verbose=0)
