import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl.layers.augment import RandomApply, RandomResizedCrop, SimCLRAugmentation


def images(n=8, size=28, channels=1, seed=0):
    return np.random.default_rng(seed).random((n, size, size, channels)).astype("float32")


def test_full_crop_at_same_size_is_identity():
    crop = RandomResizedCrop(28, 28, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    x = images()
    np.testing.assert_allclose(crop(x, training=True), x, atol=1e-5)


def test_crop_takes_the_region_it_samples():
    # The top-left quarter resized 2x: all of the output comes from the bright top-left block.
    from kssl.layers.augment import _interpolation_matrix

    x = np.zeros((1, 8, 8, 1), "float32")
    x[:, :4, :4] = 1.0
    rows = _interpolation_matrix(np.zeros(1, "float32"), np.full(1, 0.5, "float32"), 8, 8)
    out = np.einsum("bij,bjkc,blk->bilc", rows, x, rows)
    np.testing.assert_allclose(out[:, :7, :7], 1.0, atol=1e-6)  # inside the bright block
    np.testing.assert_allclose(out[:, 7, :7], 0.75, atol=1e-6)  # last row: bilinear edge, 3/4 bright
    assert out.min() >= 0.5
    crop = RandomResizedCrop(8, 8, scale=(0.1, 0.2))
    np.testing.assert_allclose(crop(x, training=False), x, atol=1e-6)  # inference: whole image


def test_crops_differ_per_image_and_keep_value_range():
    x = np.repeat(images(1), 8, axis=0)
    out = np.asarray(RandomResizedCrop(16, 20, scale=(0.1, 0.5), seed=3)(x, training=True))
    assert out.shape == (8, 16, 20, 1)
    assert len({round(float(v), 5) for v in out.mean(axis=(1, 2, 3))}) == 8
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_random_apply_rate_is_respected():
    layer = RandomApply(keras.layers.Rescaling(0.0, offset=1.0), rate=0.3, seed=0)
    out = np.asarray(layer(np.zeros((4000, 2, 2, 1), "float32"), training=True))
    assert abs(out[:, 0, 0, 0].mean() - 0.3) < 0.03
    np.testing.assert_array_equal(layer(np.zeros((4, 2, 2, 1), "float32"), training=False), 0.0)


def test_grey_images_need_an_explicit_colour_policy():
    with pytest.raises(ValueError, match="grayscale_policy"):
        kssl.augment.simclr_views(28, channels=1)
    with pytest.raises(ValueError, match="grayscale_policy"):
        kssl.augment.simclr_views(28, channels=3, grayscale_policy="none")
    quiet = kssl.augment.simclr_views(28, channels=1, grayscale_policy="none", seed=0)
    assert not any(isinstance(s, RandomApply) for s in quiet.stages)


@pytest.mark.parametrize("channels,policy", [(1, "brightness_contrast"), (3, None)])
def test_simclr_views_run_under_xla_and_differ(channels, policy):
    aug = kssl.augment.simclr_views(28, channels=channels, grayscale_policy=policy, seed=0)
    x = images(channels=channels)
    out = tf.function(lambda t: aug(t, training=True), jit_compile=True)(x)
    assert out.shape == x.shape
    second = aug(x, training=True)
    assert not np.allclose(out, second)
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0


@pytest.mark.parametrize("bad", [dict(crop_scale=(0.5, 0.1)), dict(crop_scale=(0.0, 1.0)), dict(jitter_prob=1.5),
                                 dict(blur_kernel_size=4), dict(image_size=0), dict(channels=2)])
def test_bad_augmentation_arguments_are_named(bad):
    kwargs = dict(image_size=28, channels=3) | bad
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SimCLRAugmentation(**kwargs)


def test_augmentation_config_round_trip():
    aug = kssl.augment.simclr_views(32, channels=3, crop_scale=(0.3, 1.0), blur_prob=0.2, seed=4)
    clone = SimCLRAugmentation.from_config(aug.get_config())
    assert clone.get_config() == aug.get_config()
