import json

import keras
import numpy as np
import pytest

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


def tiny_encoder(channels=1, size=12):
    return kssl.backbones.convnet((size, size, channels), widths=(4, 8), name="tiny")


def tiny_model(**kwargs):
    kwargs.setdefault("augment", [Identity(), FlipLeftRight()])
    return kssl.methods.SimCLR(tiny_encoder(), projection_dim=8, temperature=0.5, **kwargs)


def as_json(config):
    return json.loads(json.dumps(config))


def batch(n=8, size=12, channels=1, seed=0):
    return smooth_images(n, size, channels, seed)


def test_fit_lowers_the_loss_and_evaluate_reports_it():
    keras.utils.set_random_seed(0)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = batch(32)
    history = model.fit(x, batch_size=16, epochs=15, verbose=0).history["loss"]
    assert np.isfinite(history).all()
    assert history[-1] < history[0] - 0.5
    # evaluate: same loss, inference-mode batch norm, views still augmented.
    assert np.isfinite(model.evaluate(x, batch_size=16, verbose=0))


def test_labels_are_ignored():
    keras.utils.set_random_seed(0)
    model = tiny_model()
    model.compile(optimizer="sgd")
    logs = model.train_on_batch(batch(8), np.arange(8), return_dict=True)
    assert set(logs) == {"loss"}


def test_outputs_are_the_two_projections():
    out = tiny_model()(batch(8))
    assert set(out) == {"z_1", "z_2"} and out["z_1"].shape == (8, 8)


def test_config_round_trip_and_keras_file(tmp_path):
    model = tiny_model(augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="none", seed=0))
    clone = kssl.methods.SimCLR.from_config(model.get_config())
    assert as_json(clone.get_config()) == as_json(model.get_config())
    path = str(tmp_path / "simclr.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, kssl.methods.SimCLR)
    x = batch(4)
    np.testing.assert_array_equal(loaded.encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))


# ---- bad input gets an error naming the argument -------------------------------------------------
def test_batch_of_one_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="at least 2 examples"):
        model(batch(1))
    model.compile(optimizer="sgd")
    with pytest.raises(Exception, match="at least 2 examples"):
        model.fit(batch(1), batch_size=1, epochs=1, verbose=0)


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature"):
        kssl.methods.SimCLR(tiny_encoder(), temperature=temperature)


def test_wrong_image_rank_is_refused():
    with pytest.raises(ValueError, match="`x` must be a batch of images"):
        tiny_model()(np.zeros((8, 12, 12), "float32"))


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="`x` must have 1 channel"):
        tiny_model()(batch(8, channels=3))


def test_integer_images_are_refused():
    with pytest.raises(ValueError, match="`x` must be float images in \\[0, 1\\]; got dtype uint8"):
        tiny_model()((batch(8) * 255).astype("uint8"))


def test_encoder_must_output_vectors():
    inputs = keras.Input((12, 12, 1))
    feature_map = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="`encoder` must output one feature vector"):
        kssl.methods.SimCLR(feature_map)
    with pytest.raises(TypeError, match="`encoder` must be a keras.Model"):
        kssl.methods.SimCLR(keras.layers.Dense(3))


def test_train_step_compiles_with_xla():
    keras.utils.set_random_seed(0)
    model = tiny_model(augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast"))
    model.compile(optimizer="adam", jit_compile=True)
    loss = model.fit(batch(16), batch_size=8, epochs=1, verbose=0).history["loss"][0]
    assert model.jit_compile and np.isfinite(loss)
