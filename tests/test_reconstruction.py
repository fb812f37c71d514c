"""Issue 6, the reconstruction family: colour conversion and ab bins, corruptions, masks, the four
methods (fit, config round trip, bad arguments), the adversarial step, and the Open Clip Art loader."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import smooth_images


def as_json(config):
    return json.loads(json.dumps(config))


# ---- kssl.color ----------------------------------------------------------------------------------
def reference_rgb_to_lab(rgb):
    """The textbook sRGB (D65) -> CIE L*a*b* formulas in float64 numpy (IEC 61966-2-1, CIE 1976)."""
    rgb = np.asarray(rgb, "float64")
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    d = 6 / 29
    f = np.where(xyz > d**3, np.cbrt(xyz), xyz / (3 * d * d) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def test_rgb_to_lab_matches_the_reference_and_known_colours():
    rgb = np.random.default_rng(0).random((4, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(kssl.color.rgb_to_lab(rgb), reference_rgb_to_lab(rgb), atol=2e-3)
    known = {(1, 0, 0): (53.24, 80.09, 67.20), (0, 1, 0): (87.73, -86.18, 83.18), (0, 0, 1): (32.30, 79.19, -107.86),
             (1, 1, 1): (100.0, 0.0, 0.0), (0, 0, 0): (0.0, 0.0, 0.0)}
    got = kssl.color.rgb_to_lab(np.array(list(known), "float32"))
    np.testing.assert_allclose(got, np.array(list(known.values())), atol=0.02)


def test_lab_rgb_round_trip_and_graph_mode():
    rgb = np.random.default_rng(1).random((2, 16, 16, 3)).astype("float32")
    round_trip = tf.function(lambda x: kssl.color.lab_to_rgb(kssl.color.rgb_to_lab(x)), jit_compile=True)
    np.testing.assert_allclose(round_trip(rgb), rgb, atol=1e-4)
    # Out-of-gamut Lab is clipped into [0, 1].
    assert np.all(np.asarray(kssl.color.lab_to_rgb(np.array([[50.0, 120.0, -120.0]], "float32"))) <= 1.0)


def test_ab_bins_cover_the_srgb_gamut():
    bins = kssl.color.ab_bins(10)
    assert 250 <= len(bins) <= 313 and np.all(bins % 10 == 0)
    ab = np.asarray(kssl.color.rgb_to_lab(np.random.default_rng(2).random((5000, 3)).astype("float32")))[:, 1:]
    nearest = np.sqrt(((ab[:, None] - bins[None]) ** 2).sum(-1)).min(1)
    assert nearest.max() <= 5 * np.sqrt(2) + 1e-3  # every colour lies in its bin's 10 x 10 cell
    with pytest.raises(ValueError, match="grid"):
        kssl.color.ab_bins(0)


def test_soft_encoding_is_a_gaussian_over_the_5_nearest_bins():
    bins = kssl.color.ab_bins()
    ab = np.array([[3.0, -4.0], [21.0, 37.0]], "float32")
    targets = np.asarray(kssl.color.soft_encode(ab, bins, neighbours=5, sigma=5.0))
    for row, value in zip(targets, ab):
        d2 = ((bins - value) ** 2).sum(-1)
        nearest = np.argsort(d2)[:5]
        expected = np.exp(-d2[nearest] / 50.0)
        np.testing.assert_allclose(row[nearest], expected / expected.sum(), atol=1e-5)
        assert np.count_nonzero(row > 1e-8) == 5 and abs(row.sum() - 1) < 1e-5
    with pytest.raises(ValueError, match="sigma"):
        kssl.color.soft_encode(ab, bins, sigma=0)


def test_rebalancing_and_annealed_mean():
    bins = kssl.color.ab_bins()
    prior = kssl.color.bin_prior(np.array([[0.0, 0.0]] * 90 + [[40.0, 40.0]] * 10, "float32"), bins, sigma=0)
    weights = kssl.color.rebalancing_weights(prior, mix=0.5)
    grey, brown = int(np.argmax(prior)), int(np.argsort(prior)[-2])
    assert weights[brown] > weights[grey] and abs(float(np.sum(prior * weights)) - 1) < 1e-5
    # mix = 1: uniform weights (no rebalancing).
    np.testing.assert_allclose(kssl.color.rebalancing_weights(prior, mix=1.0), 1.0, rtol=1e-5)
    # T = 1 is the mean of the distribution, small T its mode.
    logits = np.log(np.where(np.arange(len(bins)) == grey, 0.6, np.where(np.arange(len(bins)) == brown, 0.4, 1e-12)))
    np.testing.assert_allclose(kssl.color.annealed_mean(logits[None], bins, 1.0)[0], 0.6 * bins[grey] + 0.4 * bins[brown], atol=1e-3)
    np.testing.assert_allclose(kssl.color.annealed_mean(logits[None], bins, 0.05)[0], bins[grey], atol=0.05)
    with pytest.raises(ValueError, match="mix"):
        kssl.color.rebalancing_weights(prior, mix=2)


# ---- kssl.corrupt -------------------------------------------------------------------------------
GREY = np.full((16, 32, 32, 1), 0.5, "float32")


def test_gaussian_noise_statistics():
    noise = np.asarray(kssl.corrupt.AdditiveGaussianNoise(0.1, clip=False, seed=0)(GREY)) - 0.5
    assert abs(noise.mean()) < 0.005 and abs(noise.std() - 0.1) < 0.005
    clipped = np.asarray(kssl.corrupt.AdditiveGaussianNoise(2.0, seed=0)(GREY))
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    np.testing.assert_array_equal(kssl.corrupt.AdditiveGaussianNoise(0.1)(GREY, training=False), GREY)
    with pytest.raises(ValueError, match="stddev"):
        kssl.corrupt.AdditiveGaussianNoise(-0.1)


def test_masking_noise_statistics():
    images = np.random.default_rng(0).random((16, 32, 32, 3)).astype("float32") + 0.1
    out = np.asarray(kssl.corrupt.MaskingNoise(0.3, seed=0)(images))
    zeroed = np.all(out == 0, axis=-1)
    assert abs(zeroed.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(out[~zeroed], images[~zeroed])  # kept pixels are not rescaled
    with pytest.raises(ValueError, match="rate"):
        kssl.corrupt.MaskingNoise(1.5)


def test_salt_and_pepper_statistics():
    out = np.asarray(kssl.corrupt.SaltAndPepperNoise(0.2, seed=0)(GREY))
    assert abs(np.mean(out == 0.0) - 0.1) < 0.01 and abs(np.mean(out == 1.0) - 0.1) < 0.01
    assert np.all((out == 0.0) | (out == 1.0) | (out == 0.5))
    with pytest.raises(ValueError, match="corruption"):
        kssl.corrupt.corruption("blur", 0.1)


def test_mask_coverage():
    central = np.asarray(kssl.corrupt.CentralBlockMask(8)(GREY))
    assert central.shape == (16, 32, 32, 1) and np.all(central.sum((1, 2, 3)) == 64)
    assert np.all(central[:, 12:20, 12:20] == 1)
    blocks = np.asarray(kssl.corrupt.RandomBlockMask(size=6, count=3, seed=0)(GREY)).sum((1, 2, 3))
    assert np.all(blocks >= 36) and np.all(blocks <= 108) and len(np.unique(blocks)) > 1  # random places
    region = np.asarray(kssl.corrupt.RandomRegionMask(coverage=0.3, seed=0)(GREY))
    np.testing.assert_allclose(region.mean((1, 2, 3)), round(0.3 * 1024) / 1024, atol=2 / 1024)
    assert not np.array_equal(region[0], region[1])
    with pytest.raises(ValueError, match="size"):
        kssl.corrupt.CentralBlockMask(40)(GREY)  # block larger than the image
    with pytest.raises(ValueError, match="coverage"):
        kssl.corrupt.RandomRegionMask(coverage=1.0)
    with pytest.raises(ValueError, match="mask"):
        kssl.corrupt.mask_generator("ring")


def test_reconstruction_losses():
    x = np.random.default_rng(0).random((2, 4, 4, 1)).astype("float32")
    assert float(kssl.losses.reconstruction_loss(x, x)) == 0.0
    bce = float(kssl.losses.reconstruction_loss(x, np.full_like(x, 0.5), "bce"))
    assert abs(bce - np.log(2)) < 1e-5
    with pytest.raises(ValueError, match="loss"):
        kssl.losses.reconstruction_loss(x, x, "l1")


# ---- the methods --------------------------------------------------------------------------------
def grey_encoder(size=12, name="tiny"):
    return kssl.backbones.convnet((size, size, 1), widths=(4, 8), name=name)


def colour_images(n=16, size=12):
    return smooth_images(n, size, channels=3)


MODELS = {
    "denoising": lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="salt_and_pepper", noise_level=0.2, seed=0),
    "denoising_pooled": lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="masking", noise_level=0.5,
                                                                  bottleneck="pooled", seed=0),
    "inpainting": lambda: kssl.methods.ContextEncoder(grey_encoder(), mask="random_region", seed=0),
    "colorization_regression": lambda: kssl.methods.Colorization(grey_encoder(), head="regression"),
    "colorization": lambda: kssl.methods.Colorization(
        grey_encoder(), head="classification", class_weights=np.ones(len(kssl.color.ab_bins()))),
    "split_brain_lab": lambda: kssl.methods.SplitBrain(
        grey_encoder(name="l"), kssl.backbones.convnet((12, 12, 2), widths=(4, 8), name="ab"), split="lab"),
    "split_brain_grey": lambda: kssl.methods.SplitBrain(grey_encoder(), split="top_bottom"),
}


def data_for(model):
    return colour_images() if model.image_shape[-1] == 3 else smooth_images(16, 12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_lowers_the_loss_and_config_round_trips(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = MODELS[name]()
    x = data_for(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=8, epochs=6, verbose=0).history["loss"]
    assert np.isfinite(history).all() and history[-1] < history[0]
    grid = model.reconstruct(x[:4])
    assert {k: v.shape[:3] for k, v in grid.items()} == {k: (4, 12, 12) for k in ("inputs", "targets", "predictions")}
    clone = type(model).from_config(as_json(model.get_config()))
    assert as_json(clone.get_config()) == as_json(model.get_config())
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    probe = x[:4] if model.encoder.input_shape[-1] == x.shape[-1] else kssl.color.LabChannels("L")(x[:4])
    features = model.encoder.predict(probe, verbose=0)
    assert features.shape == (4, model.encoder.output_shape[-1])
    np.testing.assert_allclose(loaded.encoder.predict(probe, verbose=0), features, atol=1e-6)


def test_the_adversarial_step_updates_generator_and_discriminator():
    keras.utils.set_random_seed(0)
    model = kssl.methods.ContextEncoder(grey_encoder(), mask="central", adversarial=True, lambda_adv=0.5, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = smooth_images(16, 12)
    model.train_on_batch(x[:8])  # builds everything; then compare one more step
    encoder_before = [w.copy() for w in model.encoder.get_weights()]
    decoder_before = [w.copy() for w in model.decoder.get_weights()]
    disc_before = [w.copy() for w in model.discriminator.get_weights()]
    logs = model.train_on_batch(x[8:], return_dict=True)
    assert set(logs) == {"loss", "reconstruction_loss", "adversarial_loss", "discriminator_loss"}
    for before, after in ((encoder_before, model.encoder), (decoder_before, model.decoder), (disc_before, model.discriminator)):
        assert any(not np.array_equal(b, a) for b, a in zip(before, after.get_weights()))
    # The main optimizer never touches the discriminator: freeze its optimizer and step again.
    model.discriminator_optimizer.learning_rate.assign(0.0)
    disc_before = [w.copy() for w in model.discriminator.get_weights()]
    model.train_on_batch(x[:8])
    for b, a in zip(disc_before, model.discriminator.get_weights()):
        np.testing.assert_array_equal(b, a)
    assert model.discriminator.trainable  # restored after the generator step


@pytest.mark.parametrize("build, match", [
    (lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), noise_level=-1.0), "noise_level"),
    (lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="masking", noise_level=1.5), "noise_level"),
    (lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="blur"), "corruption"),
    (lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), loss="l1"), "loss"),
    (lambda: kssl.methods.DenoisingAutoencoder(grey_encoder(), bottleneck="flat"), "`bottleneck` must be one of"),
    (lambda: kssl.methods.ContextEncoder(grey_encoder(), mask_size=13), "mask_size"),
    (lambda: kssl.methods.ContextEncoder(grey_encoder(), mask="random_region", mask_coverage=0.0), "coverage"),
    (lambda: kssl.methods.ContextEncoder(grey_encoder(), lambda_adv=-1.0), "lambda_adv"),
    (lambda: kssl.methods.Colorization(grey_encoder(), head="gan"), "head"),
    (lambda: kssl.methods.Colorization(kssl.backbones.convnet((12, 12, 3), widths=(4,))), "L channel"),
    (lambda: kssl.methods.Colorization(grey_encoder(), class_weights=[1.0, 2.0]), "class_weights"),
    (lambda: kssl.methods.SplitBrain(grey_encoder(), split="lab"), "encoder_2"),
    (lambda: kssl.methods.SplitBrain(grey_encoder(), split="channels"), "split"),
    (lambda: kssl.methods.DenoisingAutoencoder(
        keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten()])), "global pooling"),
])
def test_bad_arguments_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_pooled_bottleneck_decodes_only_the_transferred_features():
    keras.utils.set_random_seed(0)
    model = kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="gaussian", noise_level=0.0,
                                              bottleneck="pooled")
    x = smooth_images(4, 12)
    code = model.code(x)
    assert tuple(code.shape) == (4, *model.map_shape)
    expected = np.reshape(model.expand(model.encoder(x)), code.shape)  # the pooled 8-d vector, expanded
    np.testing.assert_allclose(np.asarray(code), expected, rtol=1e-6, atol=1e-6)
    feature_map = kssl.methods.DenoisingAutoencoder(grey_encoder(), corruption="gaussian", noise_level=0.0)
    np.testing.assert_allclose(np.asarray(feature_map.code(x)), np.asarray(feature_map.feature_map(x)), rtol=1e-6)


def test_colorization_refuses_grey_batches():
    model = kssl.methods.Colorization(grey_encoder())
    with pytest.raises(ValueError, match="3 channel"):
        model(smooth_images(4, 12))


def test_methods_are_registered():
    for name in ("denoising", "colorization", "inpainting", "split_brain"):
        assert issubclass(kssl.methods.get(name), kssl.SelfSupervisedModel)


# ---- Open Clip Art loader -----------------------------------------------------------------------
def write_fake_clipart(root, counts=None):
    """PNGs (RGBA, different sizes, some nested) in <category>/ folders."""
    counts = counts or {"animals": 6, "food": 4, "logos": 2}
    rng = np.random.default_rng(0)
    for category, count in counts.items():
        for i in range(count):
            folder = os.path.join(root, category, "sub" if i % 2 else "")
            os.makedirs(folder, exist_ok=True)
            image = rng.integers(0, 255, (10 + i, 20, 4), dtype=np.uint8)
            image[..., 3] = 255
            image[0, 0, 3] = 0  # one transparent pixel
            tf.io.write_file(os.path.join(folder, f"{category}_{i}.png"), tf.io.encode_png(image))


def test_openclipart_loader(tmp_path, monkeypatch):
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    write_fake_clipart(tmp_path / "openclipart")
    data = kssl.datasets.load("openclipart", path=tmp_path / "openclipart", image_size=8)
    assert data.class_names == ("animals", "food", "logos") and data.image_shape == (8, 8, 3)
    assert len(data.train) + len(data.test) == 12
    assert set(data.test.labels) == {0, 1, 2}  # every category in test, even the rarest
    assert len(os.listdir(tmp_path / "cache")) == 1  # cached
    again = kssl.datasets.load("openclipart", path=tmp_path / "openclipart", image_size=8)
    np.testing.assert_array_equal(again.train.images, data.train.images)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path))
    assert kssl.datasets.load("openclipart", image_size=8).source == str(tmp_path / "openclipart")


def test_decode_image_composites_alpha_on_white_and_pads_to_square():
    image = np.zeros((4, 8, 4), np.uint8)  # fully transparent black, wide
    image[:, :, 0] = 255
    image[:, :4, 3] = 255  # left half opaque red
    out = kssl.datasets.decode_image(tf.io.encode_png(image).numpy(), 8)
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])  # padding is white
    np.testing.assert_array_equal(out[4, 0], [255, 0, 0])  # opaque red stays red
    np.testing.assert_array_equal(out[4, 7], [255, 255, 255])  # transparent -> white


def test_openclipart_offline_error_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setitem(kssl.datasets.SOURCES["openclipart"], "debian_dir", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="apt-get install openclipart-png"):
        kssl.datasets.load("openclipart")


def test_colorization_example_runs_on_tiny_clipart(tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    write_fake_clipart(tmp_path / "data" / "openclipart", {"animals": 24, "food": 24, "logos": 16})
    env = {**os.environ, "KSSL_DATA_DIR": str(tmp_path / "data"), "KSSL_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": root, "KSSL_OFFLINE": "1"}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, os.path.join(root, "examples", "colorization_openclipart.py"), "--epochs=1",
         "--batch_size=16", "--image_size=16", "--widths=8,16", f"--out={out}"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "results.json") as f:
        results = json.load(f)
    assert {"random_init", "colorization", "simclr"} <= set(results)
    assert os.path.getsize(out / "grid.png") > 0
