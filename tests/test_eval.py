import numpy as np
import pytest

import kssl
from kssl.data.images import Split


def as_split(features, labels):
    """Features as 1x1 'images' with one channel per feature, for the raw-pixel path."""
    return Split(np.asarray(features, "float32")[:, None, None, :], np.asarray(labels))


def test_linear_probe_separates_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 6)) * 10
    labels = rng.integers(0, 4, 400)
    features = centres[labels] + rng.normal(size=(400, 6))
    result = kssl.eval.linear_probe(None, as_split(features[:300], labels[:300]), as_split(features[300:], labels[300:]))
    assert result["accuracy"] == 1.0 and result["converged"] and result["feature_dim"] == 6


def test_linear_probe_is_at_chance_on_noise():
    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(600, 5)), rng.integers(0, 2, 600)
    result = kssl.eval.linear_probe(None, as_split(features[:400], labels[:400]), as_split(features[400:], labels[400:]))
    assert 0.35 < result["accuracy"] < 0.65


def test_knn_on_duplicated_points_is_exact():
    rng = np.random.default_rng(2)
    features, labels = rng.normal(size=(50, 8)), rng.integers(0, 5, 50)
    predictions = kssl.eval.knn_predict(features, labels, features, k=1)
    np.testing.assert_array_equal(predictions, labels)
    assert kssl.eval.knn(None, as_split(features, labels), as_split(features, labels), k=1)["accuracy"] == 1.0


def test_knn_vote_is_similarity_weighted():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = np.array([0, 1, 1])
    # Closest to class 0 but two class-1 neighbours: a low temperature lets similarity win the vote.
    query = np.array([[1.0, 0.9]])
    assert kssl.eval.knn_predict(train, labels, query, k=3, temperature=0.01)[0] == 0
    assert kssl.eval.knn_predict(train, labels, query, k=3, temperature=100.0)[0] == 1


def test_knn_refuses_bad_k():
    with pytest.raises(ValueError, match="`k`"):
        kssl.eval.knn_predict(np.ones((2, 2)), np.zeros(2, int), np.ones((1, 2)), k=0)


def test_encoder_features_are_used():
    encoder = kssl.backbones.convnet((8, 8, 1), widths=(4,))
    split = Split(np.zeros((10, 8, 8, 1), np.uint8), np.zeros(10, int))
    assert kssl.eval.extract(encoder, split).shape == (10, 4)


def test_label_subsets_are_balanced_and_reproducible():
    labels = np.repeat(np.arange(10), 100)
    split = Split(np.zeros((1000, 2, 2, 1), np.uint8), labels)
    subset = kssl.eval.label_subset(split, 0.1, seed=3)
    assert np.bincount(subset.labels).tolist() == [10] * 10
    np.testing.assert_array_equal(kssl.eval.label_subset(split, 0.1, seed=3).labels, subset.labels)
    assert kssl.eval.label_subset(split, 0.001, seed=0).labels.tolist() == list(range(10))  # >= 1 per class
    with pytest.raises(ValueError, match="`fraction`"):
        kssl.eval.label_subset(split, 0.0)


def test_finetune_leaves_the_encoder_untouched_and_learns():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    images = np.zeros((200, 8, 8, 1), np.uint8)
    images[labels == 1, :4] = 255  # class 1: bright top half
    split = Split(images, labels)
    encoder = kssl.backbones.convnet((8, 8, 1), widths=(4,))
    before = [w.copy() for w in encoder.get_weights()]
    result = kssl.eval.finetune(encoder, split, split, fraction=0.5, epochs=30, batch_size=8)
    assert result["accuracy"] > 0.9 and result["labelled_examples"] == 100
    for a, b in zip(encoder.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_batch_norm_recalibration_sets_population_statistics():
    import keras

    from kssl.eval.finetune import recalibrate_batch_norm

    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
    images = np.random.default_rng(0).normal(loc=5.0, scale=2.0, size=(512, 3)).astype("float32")
    recalibrate_batch_norm(model, images, batch_size=128)
    bn = model.layers[0]
    np.testing.assert_allclose(np.asarray(bn.moving_mean), 5.0, atol=0.3)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), 4.0, rtol=0.25)
    assert bn.momentum == 0.99  # restored
