"""CPC (images) and CPCAudio: the loss's targets line up with the right future steps, the context never sees
the future, patch-grid geometry, audio framing, validation and config round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl.methods import cpc

from helpers import smooth_images


def image_model(**kwargs):
    kwargs = {"image_shape": (12, 12, 1), "patch_size": 4, "patch_stride": 2, "prediction_steps": 2,
              "context_dim": 8, **kwargs}
    return kssl.methods.CPC(kssl.backbones.convnet((kwargs["patch_size"],) * 2 + (1,), widths=(4, 8)), **kwargs)


def audio_model(**kwargs):
    encoder = kssl.backbones.audio_encoder(width=8, strides=(4, 4), kernel_sizes=(8, 4))  # stride 16
    return kssl.methods.CPCAudio(encoder, context_dim=8, **{"prediction_steps": 3, **kwargs})


# ---- the loss's targets --------------------------------------------------------------------------------
def test_targets_are_the_steps_k_ahead_on_a_hand_made_sequence():
    steps, horizon = 8, 3
    z = 8.0 * np.eye(steps, dtype="float32")[None]  # z_t = 8 e_t: every step is its own class
    # predictions[:, t, k-1] = z_{t+k} exactly: the loss is ~0; any other alignment is not.
    right = np.stack([np.roll(z, -k, axis=1) for k in range(1, horizon + 1)], axis=-2)
    assert float(kssl.losses.cpc_info_nce(right, z)) < 1e-2
    for shift in (-1, 1):  # off by one step in either direction: near-uniform guesses, high loss
        wrong = np.stack([np.roll(z, -(k + shift), axis=1) for k in range(1, horizon + 1)], axis=-2)
        assert float(kssl.losses.cpc_info_nce(wrong, z)) > 5
    # Only k's own entry is scored: breaking the predictions of k = 2 raises the loss by about 1/K of its
    # per-k loss, and the last k steps of each k (no target) do not matter at all.
    broken = right.copy()
    broken[:, :, 1] = 0.0
    expected = float(np.log(steps - 2)) / horizon  # k=2 has 6 targets, uniform over them
    np.testing.assert_allclose(float(kssl.losses.cpc_info_nce(broken, z)), expected, rtol=1e-3, atol=1e-2)
    tail = right.copy()
    for k in range(1, horizon + 1):
        tail[:, steps - k :, k - 1] = -100.0
    np.testing.assert_allclose(float(kssl.losses.cpc_info_nce(tail, z)), float(kssl.losses.cpc_info_nce(right, z)))


def test_other_sequences_of_the_batch_are_negatives():
    # Two sequences with identical latents: each prediction then has two equal-scoring keys, log 2.
    z = 8.0 * np.eye(6, dtype="float32")[None]
    pred = np.stack([np.roll(z, -1, axis=1)], axis=-2)
    alone = float(kssl.losses.cpc_info_nce(pred, z))
    twins = float(kssl.losses.cpc_info_nce(np.concatenate([pred, pred]), np.concatenate([z, z])))
    assert alone < 1e-2
    np.testing.assert_allclose(twins, np.log(2.0), atol=1e-2)


def reference_sequence_loss(pred, z):
    """numpy CPC loss with the negatives of the same sequence only, written the slow way."""
    steps, horizon = z.shape[1], pred.shape[-2]
    per_k = []
    for k in range(1, horizon + 1):
        terms = []
        for b in range(z.shape[0]):
            for t in range(steps - k):
                scores = np.array([pred[b, t, k - 1] @ z[b, s] for s in range(k, steps)], "float64")
                terms.append(np.log(np.exp(scores - scores.max()).sum()) + scores.max() - scores[t])
        per_k.append(np.mean(terms))
    return float(np.mean(per_k))


def test_sequence_negatives_are_the_same_sequences_steps_only():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 7, 4)).astype("float32")
    pred = rng.normal(size=(3, 7, 2, 4)).astype("float32")
    sequence = float(kssl.losses.cpc_info_nce(pred, z, negatives="sequence"))
    np.testing.assert_allclose(sequence, reference_sequence_loss(pred, z), rtol=1e-4)
    # One sequence alone: its steps are all the negatives there are, so both kinds agree.
    np.testing.assert_allclose(float(kssl.losses.cpc_info_nce(pred[:1], z[:1], negatives="sequence")),
                               float(kssl.losses.cpc_info_nce(pred[:1], z[:1])), rtol=1e-5)
    # Identical twin sequences: "batch" scores each positive against its twin too (log 2); "sequence" does not.
    z = 8.0 * np.eye(6, dtype="float32")[None]
    pred = np.stack([np.roll(z, -1, axis=1)], axis=-2)
    twins = (np.concatenate([pred, pred]), np.concatenate([z, z]))
    assert float(kssl.losses.cpc_info_nce(*twins, negatives="sequence")) < 1e-2
    # Images: the grid's cells of one image are one sequence.
    grid_z = rng.normal(size=(2, 4, 3, 5)).astype("float32")
    grid_pred = rng.normal(size=(2, 4, 3, 1, 5)).astype("float32")
    flat = float(kssl.losses.cpc_info_nce(grid_pred, grid_z, negatives="sequence"))
    query, target = grid_pred[:, :3, :, 0].reshape(2, 9, 5), grid_z[:, 1:].reshape(2, 9, 5)
    scores = np.einsum("bqd,btd->bqt", query, target).astype("float64")
    expected = np.mean(np.log(np.exp(scores).sum(-1)) - np.einsum("bqq->bq", scores))
    np.testing.assert_allclose(flat, expected, rtol=1e-4)


def test_sequence_negatives_train_and_round_trip():
    model = audio_model(negatives="sequence")
    assert model.get_config()["negatives"] == "sequence"
    assert kssl.methods.CPCAudio.from_config(model.get_config()).negatives == "sequence"
    x = np.random.default_rng(0).normal(size=(4, 320)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    loss = model.fit(x, batch_size=2, epochs=2, verbose=0).history["loss"]
    assert np.isfinite(loss).all()


def one_step(strategy, x, weights, **kwargs):
    with strategy.scope():
        model = audio_model(**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    model.set_weights(weights)
    # fit, not train_on_batch: Keras hands train_on_batch's whole batch to every replica.
    loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return float(loss), model.get_weights()


@pytest.mark.parametrize("negatives", ["batch", "sequence"])
def test_two_replicas_equal_one_device(negatives, mirrored, float64):
    default = tf.distribute.get_strategy()
    x = np.random.default_rng(0).normal(size=(8, 320))
    weights = audio_model(negatives=negatives).get_weights()
    loss_1, weights_1 = one_step(default, x, weights, negatives=negatives)
    loss_2, weights_2 = one_step(mirrored, x, weights, negatives=negatives)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-6)  # the loss metric is tracked in float32
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights)) > 1e-4  # the step moved them
    for a, b in zip(weights_2, weights_1):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    if negatives == "batch":  # negative control: each replica's negatives alone give another loss
        loss_local, _ = one_step(mirrored, x, weights, negatives=negatives, gather_distributed=False)
        assert abs(loss_local - loss_1) > 1e-3


def test_loss_refuses_a_horizon_longer_than_the_sequence():
    z = np.zeros((2, 3, 4), "float32")
    with pytest.raises(ValueError, match="longer than the prediction horizon"):
        kssl.losses.cpc_info_nce(np.zeros((2, 3, 3, 4), "float32"), z)


# ---- causality -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["gru", "causal_conv"])
def test_audio_context_does_not_see_the_future(kind):
    model = audio_model(context=kind, context_layers=2)
    z = np.random.default_rng(0).normal(size=(2, 10, 8)).astype("float32")
    c = np.asarray(model.context(z))
    for t in (0, 4, 8):
        perturbed = z.copy()
        perturbed[:, t + 1] += 5.0  # change z_{t+1} only
        c2 = np.asarray(model.context(perturbed))
        np.testing.assert_allclose(c2[:, : t + 1], c[:, : t + 1], atol=1e-6)  # c_<=t unchanged
        assert np.abs(c2[:, t + 1] - c[:, t + 1]).max() > 1e-4  # and c_{t+1} does see it


@pytest.mark.parametrize("kind", ["gru", "causal_conv"])
def test_image_context_does_not_see_rows_below(kind):
    model = image_model(context=kind, context_layers=2)
    rows, cols = model.grid
    z = np.random.default_rng(1).normal(size=(2, rows, cols, 8)).astype("float32")
    c = np.asarray(model.context(z))
    for r in (0, 2):
        perturbed = z.copy()
        perturbed[:, r + 1, 2] += 5.0  # one patch of row r + 1
        c2 = np.asarray(model.context(perturbed))
        np.testing.assert_allclose(c2[:, : r + 1], c[:, : r + 1], atol=1e-6)
        assert np.abs(c2[:, r + 1] - c[:, r + 1]).max() > 1e-4


# ---- geometry ------------------------------------------------------------------------------------------
def test_patch_grid_geometry():
    assert cpc.grid_size(32, 8, 4) == 7 and cpc.grid_size(28, 8, 4) == 6 and cpc.grid_size(12, 4, 2) == 5
    images = np.arange(2 * 28 * 28, dtype="float32").reshape(2, 28, 28, 1)
    patches = np.asarray(cpc.PatchGrid(8, 4)(images))
    assert patches.shape == (2, 6, 6, 8, 8, 1)
    for i, j in [(0, 0), (2, 3), (5, 5)]:
        np.testing.assert_array_equal(patches[:, i, j], images[:, 4 * i : 4 * i + 8, 4 * j : 4 * j + 8])
    model = image_model()
    assert model.grid == (5, 5)
    outputs = model(smooth_images(3))
    assert tuple(outputs["latents"].shape) == (3, 5, 5, 8)
    assert tuple(outputs["predictions"].shape) == (3, 5, 5, 2, 8)
    # The latent of grid cell (i, j) is the encoder applied to that patch alone.
    x = smooth_images(3)
    z = np.asarray(model.encode(x))
    np.testing.assert_allclose(z[:, 1, 3], np.asarray(model.encoder(x[:, 2:6, 6:10])), atol=1e-5)
    # The probe's whole-image features are the mean over the grid.
    np.testing.assert_allclose(np.asarray(model.image_encoder()(x)), z.mean(axis=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("samples", [160 * 20, 160 * 20 + 1, 16000])
def test_audio_framing_lengths(samples):
    encoder = kssl.backbones.audio_encoder(width=4)  # the paper's strides (5, 4, 2, 2, 2): 160 samples per step
    steps = -(-samples // 160)
    assert tuple(encoder(np.zeros((1, samples, 1), "float32")).shape) == (1, steps, 4)
    assert encoder.compute_output_shape((None, samples, 1))[1] == steps


def test_audio_step_t_depends_on_its_own_samples():
    # A click at sample s moves step s // 160 (and, through the receptive-field overlap, its neighbours)
    # but not steps far away: step t covers samples [160 t, 160 t + 160).
    encoder = kssl.backbones.audio_encoder(width=4)
    quiet = np.asarray(encoder(np.zeros((1, 3200, 1), "float32")))[0]
    x = np.zeros((1, 3200, 1), "float32")
    x[0, 160 * 7 + 80] = 1.0
    changed = np.abs(np.asarray(encoder(x))[0] - quiet).max(axis=-1) > 1e-6
    assert changed[7] and not changed[:6].any() and not changed[9:].any()


# ---- training and config -------------------------------------------------------------------------------
def test_audio_model_trains_with_xla_and_the_loss_falls():
    keras.utils.set_random_seed(0)
    model = audio_model()
    t = np.arange(320, dtype="float32")
    rng = np.random.default_rng(0)
    # Sines of random pitch: predictable futures.
    x = np.sin(t[None] * rng.uniform(0.05, 0.5, (16, 1))).astype("float32")[..., None]
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    history = model.fit(x, batch_size=16, epochs=5, verbose=0, shuffle=False)
    loss = history.history["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


@pytest.mark.parametrize("build, cls, name", [(image_model, kssl.methods.CPC, "cpc"),
                                               (audio_model, kssl.methods.CPCAudio, "cpc_audio")])
def test_config_round_trip(build, cls, name):
    model = build(context_layers=2, context="gru")
    config = model.get_config()
    assert "modality" not in config and config["context"] == "gru" and config["context_layers"] == 2
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.get_config() == model.get_config()
    assert type(kssl.methods.get(name)(**{**model.get_config(), "encoder": model.encoder})) is cls


def test_defaults_follow_the_papers():
    images = kssl.methods.CPC(kssl.backbones.convnet((8, 8, 1), widths=(4,)), image_shape=(28, 28, 1), context_dim=4)
    audio = kssl.methods.CPCAudio(kssl.backbones.audio_encoder(width=4), context_dim=4)
    assert (images.prediction_steps, images.context_kind) == (3, "causal_conv")
    assert (audio.prediction_steps, audio.context_kind) == (12, "gru")


def test_audio_saved_model_round_trip(tmp_path):
    model = audio_model()
    x = np.random.default_rng(0).normal(size=(2, 320)).astype("float32")
    path = str(tmp_path / "cpc_audio.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is kssl.methods.CPCAudio
    np.testing.assert_allclose(np.asarray(loaded(x)["predictions"]), np.asarray(model(x)["predictions"]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(loaded.context_encoder()(x[..., None])),
                               np.asarray(model(x)["context"]), atol=1e-5)


def test_saved_model_round_trip(tmp_path):
    model = image_model()
    x = smooth_images(2)
    path = str(tmp_path / "cpc.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)["predictions"]), np.asarray(model(x)["predictions"]), atol=1e-5)


# ---- validation ----------------------------------------------------------------------------------------
CASES = {
    "grid does not fit": (lambda: image_model(patch_size=5, patch_stride=2), "patch grid does not fit"),
    "patch bigger than image": (lambda: image_model(image_shape=(4, 4, 1), patch_size=8), "patch grid does not fit"),
    "encoder not patch sized": (lambda: kssl.methods.CPC(kssl.backbones.convnet((12, 12, 1), widths=(4,)), image_shape=(12, 12, 1),
                                                         patch_size=4, patch_stride=2), "`encoder` must take one patch"),
    "no image_shape": (lambda: kssl.methods.CPC(kssl.backbones.convnet((8, 8, 1), widths=(4,))), "`image_shape` must be"),
    "K zero": (lambda: image_model(prediction_steps=0), "`prediction_steps` must be an integer >= 1"),
    "K not int": (lambda: audio_model(prediction_steps=2.5), "`prediction_steps` must be an integer >= 1"),
    "K >= grid rows": (lambda: image_model(prediction_steps=5), "`prediction_steps` must be less than the patch grid"),
    "unknown context": (lambda: image_model(context="lstm"), "`context` must be one of"),
    "unknown negatives": (lambda: audio_model(negatives="speaker"), "`negatives` must be one of"),
    "loss negatives": (lambda: kssl.losses.cpc_info_nce(np.zeros((1, 4, 1, 2), "float32"), np.zeros((1, 4, 2), "float32"),
                                                        negatives="all"), "`negatives` must be one of"),
    "context_dim": (lambda: image_model(context_dim=0), "`context_dim` must be an integer >= 1"),
    "audio encoder for images": (lambda: kssl.methods.CPC(kssl.backbones.audio_encoder(width=4), image_shape=(12, 12, 1)),
                                 "`encoder` must take images"),
    "image encoder for audio": (lambda: kssl.methods.CPCAudio(kssl.backbones.convnet((8, 8, 1), widths=(4,))),
                                "`encoder` must take waveforms"),
    "augment's channels": (lambda: image_model(augment=keras.layers.Conv2D(3, 1)), "`augment`"),
    "audio dtype": (lambda: audio_model()(np.zeros((2, 320), "int32")), "`x` must be float waveforms"),
    "image dtype": (lambda: image_model()(np.zeros((2, 12, 12, 1), "uint8")), "`x` must be float images"),
    "audio shorter than horizon": (lambda: audio_model()(np.zeros((2, 48), "float32")), "shorter than the prediction horizon"),
    "audio rank": (lambda: audio_model()(np.zeros((2, 160, 2), "float32")), "`x` must be a batch of waveforms"),
    "image size": (lambda: image_model()(np.zeros((2, 16, 16, 1), "float32")), "`x` must have 12 rows"),
    "strides/kernels": (lambda: kssl.backbones.audio_encoder(strides=(5, 4), kernel_sizes=(10,)), "`strides` and `kernel_sizes`"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_the_argument(case):
    build, message = CASES[case]
    with pytest.raises((ValueError, TypeError), match=message):
        build()
