"""DINO: the loss against the paper's Algorithm 1 and the reference multi-crop loss written literally, the
centre update, the teacher (no gradient, cosine momentum), the temperature warm-up and the last layer's
freeze, two replicas against one device, the ViT with multi-crop, serialisation and argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images
from kssl.layers.momentum import cosine_momentum


@keras.saving.register_keras_serializable(package="kssl_tests")
class Shrink(keras.layers.Layer):
    """A deterministic small 'crop': the image resized to 6x6."""

    def call(self, images, training=True):
        return keras.ops.image.resize(images, (6, 6))


def tiny(**kwargs):
    kwargs = {"augment": [Identity(), FlipLeftRight(), Shrink()], "output_dim": 12, "hidden_dim": 16,
              "bottleneck_dim": 8, **kwargs}
    encoder = kwargs.pop("encoder", None) or kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    return kssl.methods.DINO(encoder, **kwargs)


# ---- the loss ---------------------------------------------------------------------------------------
def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def algorithm_1(s1, s2, t1, t2, C, tps, tpt):
    """The paper's Algorithm 1 (its H and loss lines), literally."""
    def H(t, s):
        s = softmax(s / tps)
        t = softmax((t - C) / tpt)
        return - (t * np.log(s)).sum(axis=1).mean()
    return H(t1, s2) / 2 + H(t2, s1) / 2


def reference_dino_loss(student_output, teacher_output, center, student_temp, temp, ncrops):
    """DINOLoss.forward of the reference code (main_dino.py), with plain loops over crops and pairs."""
    student_out = np.split(student_output / student_temp, ncrops)
    teacher_out = np.split(softmax((teacher_output - center) / temp), 2)
    total_loss, n_loss_terms = 0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            s = student_out[v]
            log_softmax = s - np.log(np.exp(s - s.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) - s.max(
                axis=1, keepdims=True)
            loss = np.sum(-q * log_softmax, axis=-1)
            total_loss += loss.mean()
            n_loss_terms += 1
    return total_loss / n_loss_terms


def test_dino_loss_is_algorithm_1_and_the_reference_multi_crop_loss():
    rng = np.random.default_rng(0)
    n, k = 5, 7
    s = [rng.normal(size=(n, k)) for _ in range(4)]
    t = [rng.normal(size=(n, k)) for _ in range(2)]
    center = rng.normal(size=(1, k))
    two_views = float(kssl.losses.dino(s[:2], t, center, 0.1, 0.04))
    np.testing.assert_allclose(two_views, algorithm_1(s[0], s[1], t[0], t[1], center, 0.1, 0.04), rtol=1e-10)
    multi = float(kssl.losses.dino(s, t, center[0], 0.1, 0.07))
    expected = reference_dino_loss(np.concatenate(s), np.concatenate(t), center, 0.1, 0.07, ncrops=4)
    np.testing.assert_allclose(multi, expected, rtol=1e-10)
    assert abs(float(kssl.losses.dino(s, t, 0 * center, 0.1, 0.07)) - multi) > 1e-3  # the centre counts


def test_dino_loss_gives_no_gradient_to_the_teacher():
    rng = np.random.default_rng(1)
    s = [tf.Variable(rng.normal(size=(3, 4)).astype("float32")) for _ in range(3)]
    t = [tf.Variable(rng.normal(size=(3, 4)).astype("float32")) for _ in range(2)]
    with tf.GradientTape(persistent=True) as tape:
        loss = kssl.losses.dino(s, t, np.zeros(4, "float32"))
    assert all(g is None or not np.any(g.numpy()) for g in tape.gradient(loss, t))
    assert all(np.abs(g.numpy()).max() > 1e-4 for g in tape.gradient(loss, s))


def test_center_update_formula():
    rng = np.random.default_rng(2)
    center = rng.normal(size=(1, 6))
    t = [rng.normal(size=(4, 6)) for _ in range(2)]
    expected = 0.9 * center + 0.1 * np.concatenate(t).sum(axis=0, keepdims=True) / 8  # all-reduce sum / (n * world)
    np.testing.assert_allclose(kssl.losses.dino_center(center, t, 0.9), expected, rtol=1e-12)


# ---- the method ----------------------------------------------------------------------------------
def test_a_train_step_updates_the_center_from_the_step_s_teacher_outputs():
    keras.utils.set_random_seed(0)
    model = tiny(center_momentum=0.8)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    model.center.assign(np.random.default_rng(0).normal(size=(1, 12)).astype("float32"))
    x = smooth_images(8)
    center_0 = model.center.numpy()
    teacher = np.concatenate([np.asarray(t) for t in model(x, training=True)["teacher"]])  # pre-step weights
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.center.numpy(), 0.8 * center_0 + 0.2 * teacher.mean(axis=0, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def student_and_teacher_weights(model):
    student = [w.numpy() for w in model.encoder.trainable_weights + model.head.trainable_weights]
    teacher = [w.numpy() for w in model.teacher_encoder.weights + model.teacher_head.weights
               if not w.path.endswith(("moving_mean", "moving_variance"))]
    return student, teacher


def test_teacher_gets_no_gradient_and_follows_the_scheduled_momentum():
    keras.utils.set_random_seed(0)
    model = tiny(momentum_base=0.8, total_steps=10, freeze_last_layer_epochs=0)
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    x = smooth_images(16)
    teacher_weights = model.teacher_encoder.weights + model.teacher_head.weights
    assert not {id(w) for w in teacher_weights} & {id(w) for w in model.trainable_weights}
    with tf.GradientTape() as tape:
        loss = model.ssl_loss(model(x, training=True))
    assert all(g is None for g in tape.gradient(loss, teacher_weights))
    for w in model.teacher_encoder.trainable_weights + model.teacher_head.weights:  # theta_t != theta_s
        w.assign(w + 0.1)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(5)  # k = 5 of K = 10: lambda = 1 - 0.2 (cos(pi / 2) + 1) / 2 = 0.9
    student_0, teacher_0 = student_and_teacher_weights(model)
    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    student_1, teacher_1 = student_and_teacher_weights(model)
    assert max(np.abs(a - b).max() for a, b in zip(student_1, student_0)) > 1e-4
    momentum = cosine_momentum(5, 10, 0.8)
    for new_student, old_teacher, new_teacher in zip(student_1, teacher_0, teacher_1):
        np.testing.assert_allclose(new_teacher, momentum * old_teacher + (1 - momentum) * new_student, rtol=1e-5,
                                   atol=1e-6)


def test_teacher_temperature_warm_up():
    model = tiny(warmup_teacher_temperature=0.04, teacher_temperature=0.07, warmup_teacher_epochs=2,
                 steps_per_epoch=10)
    for step in (0, 5, 10, 19, 20, 35):
        expected = 0.04 + 0.03 * min(step / 20, 1.0)
        assert float(model.teacher_temperature_at(step)) == pytest.approx(expected, rel=1e-6)
    assert float(tiny(warmup_teacher_epochs=0, teacher_temperature=0.05).teacher_temperature_at(3)) == pytest.approx(0.05)


def test_last_layer_is_frozen_in_the_first_epoch_only():
    keras.utils.set_random_seed(0)
    model = tiny(freeze_last_layer_epochs=1)
    model.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.1), jit_compile=False)
    x = smooth_images(16)
    last_0, first_0 = model.head.last_layer_weights().numpy(), model.head.blocks[0].kernel.numpy()
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)  # epoch 1: steps 0 and 1
    assert int(model.epoch_steps.numpy()) == 2
    np.testing.assert_allclose(model.head.last_layer_weights().numpy(), last_0, rtol=1e-6, atol=1e-7)
    assert np.abs(model.head.blocks[0].kernel.numpy() - first_0).max() > 1e-4  # the rest of the head learned
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)  # steps 2 and 3: the second epoch
    assert np.abs(model.head.last_layer_weights().numpy() - last_0).max() > 1e-4


def test_dino_trains_a_vit_on_multi_crop_views():
    keras.utils.set_random_seed(0)
    encoder = kssl.backbones.vit((12, 12, 1), patch_size=3, hidden_dim=8, depth=1, num_heads=2)
    views = kssl.augment.multi_crop_views(12, 6, num_small=2, channels=1, grayscale_policy="brightness_contrast", seed=0)
    model = tiny(encoder=encoder, augment=views)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(smooth_images(16), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert [tuple(s.shape) for s in model(smooth_images(2))["student"]] == [(2, 12)] * 4


# ---- two replicas against one device --------------------------------------------------------------
def one_step(strategy, x, weights, synchronized=True):
    with strategy.scope():
        model = tiny(momentum_base=0.9, total_steps=4, steps_per_epoch=4, freeze_last_layer_epochs=0)
        if not synchronized:  # the negative control: per-replica batch statistics in the encoders
            for layer in model._flatten_layers():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.synchronized = False
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    model.set_weights(weights)
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights(), model.center.numpy()


def test_two_replicas_equal_one_device(mirrored, float64):
    keras.utils.set_random_seed(0)
    x = smooth_images(16).astype("float64")
    model = tiny()
    model.center.assign(np.random.default_rng(0).normal(size=(1, 12)))
    weights = model.get_weights()
    loss_1, weights_1, center_1 = one_step(tf.distribute.get_strategy(), x, weights)
    loss_2, weights_2, center_2 = one_step(mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-6)
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights)) > 1e-4
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(center_2, center_1, rtol=1e-10)  # the centre of the global batch
    # Negative control: per-replica batch norm gives another step.
    loss_local, weights_local, center_local = one_step(mirrored, x, weights, synchronized=False)
    assert abs(loss_local - loss_1) > 1e-4 and np.abs(center_local - center_1).max() > 1e-6


# ---- serialisation and arguments ------------------------------------------------------------------
def test_config_round_trip_and_preset(tmp_path):
    kwargs = {"output_dim": 10, "hidden_dim": 12, "bottleneck_dim": 6, "head_layers": 2, "student_temperature": 0.2,
              "teacher_temperature": 0.06, "warmup_teacher_temperature": 0.03, "warmup_teacher_epochs": 3.0,
              "center_momentum": 0.8, "momentum_base": 0.95, "total_steps": 50, "freeze_last_layer_epochs": 0.5,
              "steps_per_epoch": 7}
    model = tiny(augment=None, **kwargs)
    config = model.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    clone = kssl.methods.DINO.from_config(config)
    assert clone.get_config() == config and len(clone.get_weights()) == len(model.get_weights())
    model.center.assign(np.ones((1, 10), "float32"))
    kssl.zoo.save(model, str(tmp_path / "dino"))
    loaded = kssl.zoo.load(str(tmp_path / "dino"), include_head=True)
    np.testing.assert_array_equal(loaded.center.numpy(), np.ones((1, 10)))


@pytest.mark.parametrize("kwargs, match", [
    ({"output_dim": 0}, "output_dim"), ({"student_temperature": 0}, "student_temperature"),
    ({"teacher_temperature": -1}, "teacher_temperature"), ({"warmup_teacher_temperature": 0}, "warmup_teacher_temperature"),
    ({"warmup_teacher_epochs": -1}, "warmup_teacher_epochs"), ({"center_momentum": 1.5}, "center_momentum"),
    ({"momentum_base": 2}, "momentum_base"), ({"freeze_last_layer_epochs": -1}, "freeze_last_layer_epochs"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"), ({"augment": [Identity()]}, "augment"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_fit_on_a_dataset_of_unknown_size_asks_for_steps_per_epoch():
    model = tiny(total_steps=10)
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    data = tf.data.Dataset.from_tensor_slices(smooth_images(16)).batch(8).filter(lambda x: True)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(data, epochs=1, verbose=0)


def test_center_and_teacher_change_in_fit_not_in_evaluate():
    model = tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    x = smooth_images(8)
    center, teacher = model.center.numpy(), model.teacher_head.get_weights()
    model.evaluate(x, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.center.numpy(), center)
    for a, b in zip(model.teacher_head.get_weights(), teacher):
        np.testing.assert_array_equal(a, b)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.abs(model.center.numpy() - center).max() > 1e-6
