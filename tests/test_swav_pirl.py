"""SwAV and PIRL: Sinkhorn equipartition, the swapped prediction formula, multi-crop shapes, two
replicas equal one device (global-batch codes), PIRL's memory-bank update formula, serialisation and
argument checks."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import FlipLeftRight, Identity, smooth_images
from kssl.methods.pirl import indexed_batches


def encoder(size=12):
    return kssl.backbones.convnet((size, size, 1), widths=(4, 8), name="tiny")


def tiny_swav(**kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    return kssl.methods.SwAV(encoder(), num_prototypes=kwargs.pop("num_prototypes", 5), projection_dim=8, **kwargs)


def tiny_pirl(**kwargs):
    kwargs.setdefault("memory_bank_size", 20)
    return kssl.methods.PIRL(encoder(), projection_dim=8, num_negatives=8, tile_size=4, num_permutations=10, **kwargs)


def reference_sinkhorn(scores, epsilon, iterations):
    """SwAV's distributed_sinkhorn (appendix A.1) on one device, literally, in numpy float64."""
    q = np.exp(np.asarray(scores, np.float64) / epsilon).T  # K x B
    k, b = q.shape
    q /= q.sum()
    for _ in range(iterations):
        q /= q.sum(axis=1, keepdims=True)
        q /= k
        q /= q.sum(axis=0, keepdims=True)
        q /= b
    return (q * b).T


# ---- Sinkhorn-Knopp ------------------------------------------------------------------------------------
# Six examples, three prototypes, and every example prefers prototype 0: a plain softmax puts every
# example in cluster 0; the equipartition constraint must spread them, two per prototype.
SCORES = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.1], [0.7, 0.0, 0.6],
                   [0.9, 0.8, 0.2], [0.6, 0.1, 0.5], [0.8, 0.3, 0.3]], "float32")


def test_sinkhorn_codes_are_distributions_and_equipartitioned():
    codes = np.asarray(kssl.clustering.sinkhorn(SCORES, epsilon=0.05, iterations=3))
    np.testing.assert_allclose(codes.sum(axis=1), np.ones(6), atol=1e-5)  # each example: a distribution
    softmax_mass = np.asarray(keras.ops.softmax(SCORES / 0.05, axis=1)).sum(axis=0)
    assert softmax_mass[0] > 4.5  # without the constraint, prototype 0 takes nearly everything
    # Three iterations get most of the way to B / K = 2 per prototype (measured: 2.25, 1.71, 2.04) ...
    assert np.abs(codes.sum(axis=0) - 2.0).max() < 0.35 < 2.5 < np.abs(softmax_mass - 2.0).max()
    # ... and iterating converges to it exactly.
    converged = np.asarray(kssl.clustering.sinkhorn(SCORES, epsilon=0.05, iterations=1000))
    np.testing.assert_allclose(converged.sum(axis=0), [2.0, 2.0, 2.0], atol=1e-3)
    np.testing.assert_allclose(converged.sum(axis=1), np.ones(6), atol=1e-5)
    # Which example went where: 1 and 3 score high on prototype 1, 2 and 4 on prototype 2.
    assert converged.argmax(axis=1)[[1, 3, 2, 4]].tolist() == [1, 1, 2, 2]


def test_sinkhorn_matches_the_papers_algorithm_and_is_stable_for_small_epsilon():
    scores = np.random.default_rng(0).uniform(-1, 1, (8, 5)).astype("float32")
    np.testing.assert_allclose(kssl.clustering.sinkhorn(scores, 0.05, 3), reference_sinkhorn(scores, 0.05, 3),
                               rtol=1e-4, atol=1e-6)
    tiny = np.asarray(kssl.clustering.sinkhorn(scores, epsilon=1e-3, iterations=3))  # exp(1000) in the paper's form
    assert np.isfinite(tiny).all()
    np.testing.assert_allclose(tiny.sum(axis=1), np.ones(8), atol=1e-5)


# ---- swapped prediction --------------------------------------------------------------------------------
def test_swapped_prediction_equals_its_formula():
    rng = np.random.default_rng(1)
    scores = [rng.normal(size=(4, 3)).astype("float32") for _ in range(3)]  # 2 large views + 1 small
    codes = [rng.dirichlet(np.ones(3), 4).astype("float32") for _ in range(2)]
    t = 0.1

    def log_softmax(s):
        s = s / t
        return s - np.log(np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True)) - s.max(1, keepdims=True)

    expected = 0.0
    for i in range(2):
        others = [v for v in range(3) if v != i]
        expected += sum(np.mean(-(codes[i] * log_softmax(scores[v])).sum(1)) for v in others) / len(others)
    expected /= 2
    np.testing.assert_allclose(float(kssl.losses.swapped_prediction(scores, codes, t)), expected, rtol=1e-5)


# ---- SwAV model ----------------------------------------------------------------------------------------
def test_multi_crop_shapes_and_scores_per_view():
    views = kssl.augment.multi_crop_views(12, 6, num_small=3, channels=1, grayscale_policy="none", seed=0)
    model = tiny_swav(augment=views)
    outputs = model(smooth_images(4), training=True)
    assert [tuple(view(smooth_images(4)).shape) for view in views] == [(4, 12, 12, 1)] * 2 + [(4, 6, 6, 1)] * 3
    assert [tuple(s.shape) for s in outputs["scores"]] == [(4, 5)] * 5
    assert tuple(outputs["z"].shape) == (2, 4, 8)
    assert np.abs(np.asarray(outputs["scores"][0])).max() <= 1.0 + 1e-5  # cosine similarities


def test_prototypes_are_normalised_every_step_and_learn():
    model = tiny_swav()
    model.prototypes.assign(model.prototypes * 3.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=False)
    model.fit(smooth_images(8), batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(np.linalg.norm(model.prototypes.numpy(), axis=1), np.ones(5), rtol=1e-5)
    before = model.prototypes.numpy()
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    model.fit(smooth_images(8), batch_size=8, epochs=1, verbose=0)
    assert np.abs(model.prototypes.numpy() - before).max() > 1e-5  # the prototypes get gradients


def test_queue_is_a_ring_buffer_used_once_full():
    model = tiny_swav(queue_size=8)
    z = np.stack([np.full((4, 8), v, "float32") for v in (1.0, 2.0)], axis=1)  # (4 examples, 2 views, dim)
    # (not unit vectors, so that each write is recognisable)
    model.queue.enqueue(keras.ops.convert_to_tensor(z))
    assert int(model.queue.filled.numpy()) == 4
    np.testing.assert_array_equal(model.queue.values.numpy()[:4, 1], np.full((4, 8), 2.0))
    np.testing.assert_array_equal(model.queue.values.numpy()[4:], 0.0)
    model.queue.enqueue(keras.ops.convert_to_tensor(z * 3))
    model.queue.enqueue(keras.ops.convert_to_tensor(z * 5))  # overwrites the oldest 4
    assert int(model.queue.filled.numpy()) == 8 and int(model.queue.pointer.numpy()) == 4
    np.testing.assert_array_equal(model.queue.values.numpy()[:4, 0], np.full((4, 8), 5.0))
    scores = [keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(4, 5)).astype("float32"))] * 2
    with_queue = np.asarray(model.codes(scores)[0])
    model.queue.filled.assign(0)
    without = np.asarray(model.codes(scores)[0])
    np.testing.assert_allclose(without, kssl.clustering.sinkhorn(scores[0]), rtol=1e-5)
    assert np.abs(with_queue - without).max() > 1e-3


def swav_one_step(strategy, x, weights):
    with strategy.scope():
        model = tiny_swav()
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    if weights is not None:
        model.set_weights(weights)
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights()


def test_swav_two_replicas_equal_one_device(mirrored):
    keras.utils.set_random_seed(0)
    x = smooth_images(8)
    default = tf.distribute.get_strategy()
    _, weights = swav_one_step(default, x[:2], None)
    loss_1, weights_1 = swav_one_step(default, x, weights)
    loss_2, weights_2 = swav_one_step(mirrored, x, weights)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Codes from each replica's half alone differ: the global gather matters.
    scores = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    halves = np.concatenate([kssl.clustering.sinkhorn(scores[:4]), kssl.clustering.sinkhorn(scores[4:])])
    assert np.abs(halves - np.asarray(kssl.clustering.sinkhorn(scores))).max() > 1e-3


def test_global_sinkhorn_under_two_replicas_equals_one_device(mirrored):
    scores = np.random.default_rng(2).normal(size=(8, 5)).astype("float32")

    @tf.function
    def run(local):
        return kssl.clustering.global_sinkhorn(local)

    dataset = mirrored.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(scores).batch(8))
    per_replica = mirrored.run(run, args=(next(iter(dataset)),))
    codes = np.concatenate([np.asarray(t) for t in mirrored.experimental_local_results(per_replica)])
    np.testing.assert_allclose(codes, kssl.clustering.sinkhorn(scores), rtol=1e-5, atol=1e-7)


# ---- PIRL ----------------------------------------------------------------------------------------------
def test_memory_bank_update_follows_its_formula_after_one_fit_step():
    keras.utils.set_random_seed(0)
    model = tiny_pirl(memory_momentum=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=False)  # weights fixed: f is reproducible
    x, index = smooth_images(4), np.array([3, 7, 11, 0])
    before = model.memory_bank.bank.numpy()
    model.fit(x, index, batch_size=4, epochs=1, verbose=0, shuffle=False)
    f = np.asarray(model(x, training=True)["f"])  # batch-norm in training mode, as in the step
    expected = before.copy()
    mixed = 0.5 * before[index] + 0.5 * f
    expected[index] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    np.testing.assert_allclose(model.memory_bank.bank.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.abs(model.memory_bank.bank.numpy()[index] - before[index]).max() > 1e-3


def test_pirl_memory_bank_takes_the_global_batch_under_two_replicas(mirrored):
    keras.utils.set_random_seed(0)
    with mirrored.scope():
        model = tiny_pirl()
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    before = model.memory_bank.bank.numpy()
    index = np.array([3, 7, 11, 0, 5, 9, 2, 14])
    model.fit(smooth_images(8), index, batch_size=8, epochs=1, verbose=0, shuffle=False)
    changed = np.abs(model.memory_bank.bank.numpy() - before).max(axis=1) > 1e-4
    # Both replicas' halves were written (each replica writes the gathered global batch), nothing else.
    assert changed[index].all() and not np.delete(changed, index).any()


def test_pirl_loss_mixes_the_two_terms_with_lambda():
    keras.utils.set_random_seed(0)
    model = tiny_pirl(jigsaw_weight=0.25)
    outputs = model(smooth_images(4), training=True)
    index = keras.ops.convert_to_tensor(np.array([1, 2, 3, 4], "int32"))
    model.seed_generator = keras.random.SeedGenerator(5)  # the same negatives for the three losses
    negatives = model.negatives()
    positives = np.asarray(model.memory_bank.bank.numpy())[[1, 2, 3, 4]]
    jigsaw = float(kssl.losses.info_nce(outputs["g"], positives, negatives, model.temperature))
    image = float(kssl.losses.info_nce(outputs["f"], positives, negatives, model.temperature))
    model.seed_generator = keras.random.SeedGenerator(5)
    np.testing.assert_allclose(float(model.ssl_loss(outputs, index)), 0.25 * jigsaw + 0.75 * image, rtol=1e-5)


def test_pirl_memory_bank_starts_from_the_initial_networks_features():
    keras.utils.set_random_seed(0)
    model = tiny_pirl()
    images = smooth_images(20)
    model.initialize_memory_bank(images, batch_size=8)  # three batches, the last one short
    f = np.asarray(model.image_head(model.encoder(images, training=False)))
    expected = f / np.linalg.norm(f, axis=1, keepdims=True)
    np.testing.assert_allclose(model.memory_bank.bank.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="one image per memory entry \\(20\\); got 12"):
        model.initialize_memory_bank(images[:12])


def test_pirl_trains_on_indexed_batches():
    model = tiny_pirl(augment=FlipLeftRight())
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    images = (smooth_images(20) * 255).astype("uint8")
    history = model.fit(indexed_batches(images, batch_size=5, seed=0, memory_bank_size=20), epochs=1, verbose=0,
                        shuffle=False)
    assert np.isfinite(history.history["loss"]).all()


# ---- serialisation and argument checks -----------------------------------------------------------------
@pytest.mark.parametrize("build", [lambda: tiny_swav(queue_size=16, epsilon=0.03),
                                   lambda: tiny_pirl(jigsaw_weight=0.3, memory_momentum=0.2)])
def test_get_config_round_trips(build):
    model = build()
    config = json.loads(json.dumps(model.get_config()))  # a copy: deserialising consumes nested configs
    clone = type(model).from_config(model.get_config())
    assert json.loads(json.dumps(clone.get_config())) == config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]


CASES = {
    "epsilon": (lambda: tiny_swav(epsilon=0.0), "`epsilon` must be a number > 0"),
    "sinkhorn iterations": (lambda: tiny_swav(sinkhorn_iterations=0), "`iterations` must be an integer >= 1"),
    "prototypes": (lambda: tiny_swav(num_prototypes=1), "`num_prototypes` must be an integer >= 2"),
    "swav temperature": (lambda: tiny_swav(temperature=-1.0), "`temperature` must be a number > 0"),
    "one view": (lambda: tiny_swav(augment=[Identity()]), "`augment` must list at least the 2 large views"),
    "queue vs batch": (lambda: tiny_swav(queue_size=6).queue.enqueue(keras.ops.zeros((4, 2, 8))),
                       "`queue_size` \\(6\\) must be a multiple of the global batch size"),
    "multi-crop count": (lambda: kssl.augment.multi_crop_views(12, 6, num_small=-1), "`num_small` must be an integer >= 0"),
    "lambda": (lambda: tiny_pirl(jigsaw_weight=1.5), "`jigsaw_weight` must be a number in \\[0, 1\\]"),
    "memory momentum": (lambda: tiny_pirl(memory_momentum=1.0), "`memory_momentum` must be in \\[0, 1\\)"),
    "memory bank size": (lambda: tiny_pirl(memory_bank_size=1), "`memory_bank_size` must be an integer >= 2"),
    "negatives vs bank": (lambda: tiny_pirl(memory_bank_size=4), "`num_negatives` must be at most `memory_bank_size`"),
    "bank vs dataset": (lambda: indexed_batches(np.zeros((30, 12, 12, 1), "float32"), memory_bank_size=20),
                        "`memory_bank_size` \\(20\\) must be at least the number of training images \\(30\\)"),
    "no indices": (lambda: tiny_pirl().ssl_loss({}, None), "PIRL needs each image's dataset index"),
    "tile grid": (lambda: tiny_pirl(gap=-1), "`gap` must be an integer >= 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments_are_named(case):
    build, message = CASES[case]
    with pytest.raises(ValueError, match=message):
        build()
