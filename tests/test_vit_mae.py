"""The ViT backbone (shapes, halves, position resizing, config round trip) and MAE (exact mask counts, the
encoder sees only visible patches, the loss ignores visible targets, against MAE's forward_loss written
literally), its reconstruction grid tool, serialisation and argument checks."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kssl
from kssl.backbones.vit import PatchPositions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_vit(input_shape=(28, 28, 1), **kwargs):
    kwargs = {"patch_size": 4, "hidden_dim": 16, "depth": 2, "num_heads": 2, **kwargs}
    return kssl.backbones.vit(input_shape, **kwargs)


def tiny_mae(**kwargs):
    kwargs = {"decoder_dim": 8, "decoder_depth": 1, "decoder_heads": 2, "seed": 0, **kwargs}
    return kssl.methods.MAE(tiny_vit(), **kwargs)


def images(n=4, size=28, channels=1, seed=0):
    return np.random.default_rng(seed).random((n, size, size, channels)).astype("float32")


# ---- the ViT ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_shape, pooling", [((28, 28, 1), "cls"), ((32, 32, 3), "mean")])
def test_vit_maps_images_to_features_through_its_two_halves(input_shape, pooling):
    encoder = tiny_vit(input_shape, pooling=pooling)
    x = images(3, input_shape[0], input_shape[-1])
    grid = input_shape[0] // 4
    tokens = kssl.backbones.patch_tokens(encoder)(x)
    assert tuple(tokens.shape) == (3, grid * grid, 16)
    sequence = kssl.backbones.token_encoder(encoder)(tokens)
    assert tuple(sequence.shape) == (3, grid * grid + (pooling == "cls"), 16)
    pooled = sequence[:, 0] if pooling == "cls" else np.mean(sequence, axis=1)
    np.testing.assert_allclose(encoder(x), pooled, rtol=1e-5, atol=1e-6)  # the halves are the encoder
    assert kssl.backbones.has_class_token(encoder) == (pooling == "cls")


def test_token_encoder_takes_any_subset_in_any_order():
    """Positions are added before tokens are picked: a shuffled subset gives the same tokens, shuffled."""
    encoder = tiny_vit(pooling="mean")
    tokens = np.asarray(kssl.backbones.patch_tokens(encoder)(images(2)))
    subset = tokens[:, [3, 17, 40, 8]]
    out = np.asarray(kssl.backbones.token_encoder(encoder)(subset))
    shuffled = np.asarray(kssl.backbones.token_encoder(encoder)(subset[:, [2, 0, 3, 1]]))
    np.testing.assert_allclose(shuffled, out[:, [2, 0, 3, 1]], rtol=1e-5, atol=1e-6)
    whole = np.asarray(kssl.backbones.token_encoder(encoder)(tokens))
    assert np.abs(whole[:, [3, 17, 40, 8]] - out).max() > 1e-4  # attention sees the subset only


def test_position_embedding_is_resized_for_another_grid():
    layer = PatchPositions((4, 4))
    grid = np.zeros((1, 4, 4, 3), "float32")
    layer.build(grid.shape)
    embedding = np.random.default_rng(0).normal(size=(4, 4, 3)).astype("float32")
    layer.embedding.assign(embedding)
    np.testing.assert_allclose(layer(grid)[0], embedding.reshape(16, 3), rtol=1e-6)
    small = np.asarray(layer(np.zeros((1, 2, 2, 3), "float32")))[0]
    expected = np.asarray(keras.ops.image.resize(embedding[None], (2, 2), interpolation="bilinear"))[0]
    np.testing.assert_allclose(small, expected.reshape(4, 3), rtol=1e-6)
    encoder = tiny_vit()
    assert tuple(kssl.pretext.encode_at_any_size(encoder, images(2, size=16)).shape) == (2, 16)  # a small crop


def test_vit_config_round_trip_and_save(tmp_path):
    encoder = tiny_vit(pooling="mean", mlp_ratio=3.0)
    clone = keras.Model.from_config(encoder.get_config())
    clone.set_weights(encoder.get_weights())
    x = images(2)
    np.testing.assert_allclose(clone(x), encoder(x), rtol=1e-6)
    assert clone.get_layer("block1").intermediate_dim == 48 and clone.get_layer("pool").pooling == "mean"
    path = str(tmp_path / "vit.keras")
    encoder.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(x), encoder(x), rtol=1e-6)
    assert kssl.backbones.get("vit", (28, 28, 1), hidden_dim=16, depth=1, num_heads=2).output_shape == (None, 16)


@pytest.mark.parametrize("kwargs, match", [
    ({"patch_size": 5}, "patch_size"), ({"hidden_dim": 10, "num_heads": 4}, "hidden_dim"), ({"depth": 0}, "depth"),
    ({"pooling": "max"}, "pooling"), ({"mlp_ratio": 0}, "mlp_ratio"), ({"input_shape": (28, 28)}, "input_shape"),
])
def test_vit_bad_arguments_are_named(kwargs, match):
    kwargs = {"input_shape": (28, 28, 1), **kwargs}
    with pytest.raises(ValueError, match=match):
        kssl.backbones.vit(**{"patch_size": 4, "hidden_dim": 16, "num_heads": 2, **kwargs})


# ---- MAE: masking ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.9])
def test_every_image_has_exactly_the_masked_count(ratio):
    model = tiny_mae(mask_ratio=ratio)
    n = model.num_patches
    visible = int(n * (1 - ratio))  # MAE's len_keep = int(L * (1 - mask_ratio))
    keep, restore, mask = (np.asarray(t) for t in model.random_masking(64))
    assert keep.shape == (64, visible) and mask.shape == (64, n)
    np.testing.assert_array_equal(mask.sum(axis=1), np.full(64, n - visible))
    for row_keep, row_mask in zip(keep, mask):
        assert len(set(row_keep)) == visible and not row_mask[row_keep].any()
    np.testing.assert_array_equal(np.sort(restore, axis=1), np.tile(np.arange(n), (64, 1)))  # permutations
    assert len({tuple(np.flatnonzero(row)) for row in mask}) > 60  # a fresh random mask per image


def fixed_masking(model, keep_rows):
    """Replaces the model's random masking with given visible-patch indices (one list per image)."""
    n = model.num_patches

    def masking(batch):
        keep = np.asarray(keep_rows, "int32")
        order = np.stack([np.concatenate([k, np.setdiff1d(np.arange(n), k)]) for k in keep])
        mask = np.ones((len(keep), n), "float32")
        np.put_along_axis(mask, keep, 0.0, axis=1)
        return keep, np.argsort(order, axis=1).astype("int32"), mask

    model.random_masking = masking


def test_the_encoder_sees_only_the_visible_patches():
    keras.utils.set_random_seed(0)
    model = tiny_mae()
    rng = np.random.default_rng(1)
    keep = [np.sort(rng.choice(model.num_patches, model.num_visible, replace=False)) for _ in range(2)]
    fixed_masking(model, keep)
    x = images(2)
    patches = np.asarray(kssl.pretext.patchify(x, 4))
    changed = patches.copy()
    for row, k in enumerate(keep):
        hidden = np.setdiff1d(np.arange(model.num_patches), k)
        changed[row, hidden] = rng.random(changed[row, hidden].shape)
    x_changed = np.asarray(kssl.pretext.unpatchify(changed, (28, 28, 1)))
    before, after = model(x), model(x_changed)
    np.testing.assert_allclose(after["predictions"], before["predictions"], rtol=1e-6, atol=1e-7)
    assert np.abs(np.asarray(after["patches"]) - np.asarray(before["patches"])).max() > 0.1  # targets did change
    # Negative control: changing one visible patch changes the predictions.
    changed[0, keep[0][0]] = 1.0 - changed[0, keep[0][0]]  # stays in [0, 1], as images must
    moved = model(np.asarray(kssl.pretext.unpatchify(changed, (28, 28, 1))))
    assert np.abs(np.asarray(moved["predictions"]) - np.asarray(after["predictions"])).max() > 1e-4


# ---- MAE: the loss ---------------------------------------------------------------------------------
def mae_forward_loss(pred, target, mask, norm_pix_loss):
    """MAE's `forward_loss` (models_mae.py), literally, in numpy (torch's var is unbiased)."""
    if norm_pix_loss:
        mean = target.mean(axis=-1, keepdims=True)
        var = target.var(axis=-1, keepdims=True, ddof=1)
        target = (target - mean) / (var + 1.e-6) ** .5
    loss = (pred - target) ** 2
    loss = loss.mean(axis=-1)
    return (loss * mask).sum() / mask.sum()


@pytest.mark.parametrize("norm_pix_loss", [True, False])
def test_masked_patch_mse_is_maes_forward_loss_and_ignores_visible_targets(norm_pix_loss):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 10, 12)), rng.random((3, 10, 12))
    mask = (rng.random((3, 10)) < 0.7).astype("float64")
    loss = float(kssl.losses.masked_patch_mse(pred, target, mask, normalize_targets=norm_pix_loss))
    np.testing.assert_allclose(loss, mae_forward_loss(pred, target, mask, norm_pix_loss), rtol=1e-10)
    visible_changed = np.where(mask[..., None] == 0, rng.random(target.shape), target)
    assert float(kssl.losses.masked_patch_mse(pred, visible_changed, mask, normalize_targets=norm_pix_loss)) == loss
    masked_changed = np.where(mask[..., None] == 1, rng.random(target.shape), target)  # the negative control
    assert abs(float(kssl.losses.masked_patch_mse(pred, masked_changed, mask, normalize_targets=norm_pix_loss)) - loss) > 1e-3


def test_mae_loss_ignores_the_visible_patches_targets():
    model = tiny_mae()
    outputs = model(images(4), training=True)
    loss = float(model.ssl_loss(outputs))
    visible = np.asarray(outputs["mask"])[..., None] == 0
    changed = np.where(visible, np.random.default_rng(0).random(outputs["patches"].shape), outputs["patches"])
    assert float(model.ssl_loss({**outputs, "patches": changed.astype("float32")})) == pytest.approx(loss, rel=1e-6)
    changed = np.where(~visible, 0.0, outputs["patches"]).astype("float32")  # the negative control
    assert abs(float(model.ssl_loss({**outputs, "patches": changed})) - loss) > 1e-3


def test_mae_trains_and_reconstructs():
    keras.utils.set_random_seed(0)
    model = tiny_mae(norm_pix_loss=False)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    x = np.kron(np.random.default_rng(0).random((64, 7, 7, 1)), np.ones((1, 4, 4, 1))).astype("float32")
    history = model.fit(x, batch_size=16, epochs=4, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    grid = model.reconstruct(x[:3])
    assert {k: v.shape for k, v in grid.items()} == {k: (3, 28, 28, 1) for k in ("inputs", "targets", "predictions")}
    kept = np.asarray(grid["inputs"]) != 0.5
    np.testing.assert_allclose(grid["predictions"][kept], x[:3][kept], atol=1e-6)  # visible patches pasted back


def test_mae_config_round_trip_and_preset(tmp_path):
    model = tiny_mae(mask_ratio=0.6, norm_pix_loss=False, seed=3)
    config = model.get_config()
    assert {k: config[k] for k in ("mask_ratio", "decoder_dim", "norm_pix_loss", "seed")} == {
        "mask_ratio": 0.6, "decoder_dim": 8, "norm_pix_loss": False, "seed": 3}
    clone = kssl.methods.MAE.from_config(config)
    assert clone.get_config() == config and len(clone.get_weights()) == len(model.get_weights())
    kssl.zoo.save(model, str(tmp_path / "mae"))
    loaded = kssl.zoo.load(str(tmp_path / "mae"), include_head=True)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_ratio": 1.0}, "mask_ratio"), ({"mask_ratio": 0.0}, "mask_ratio"), ({"mask_ratio": 0.999}, "mask_ratio"),
    ({"decoder_dim": 10, "decoder_heads": 4}, "decoder_dim"), ({"decoder_depth": 0}, "decoder_depth"),
])
def test_mae_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_mae(**kwargs)


def test_mae_refuses_an_encoder_that_is_not_a_vit():
    with pytest.raises(ValueError, match="`encoder` must be a ViT"):
        kssl.methods.MAE(kssl.backbones.convnet((28, 28, 1), widths=(8,)))


def test_reconstruction_tool_writes_a_png_grid(tmp_path):
    model = tiny_mae()
    kssl.zoo.save(model, str(tmp_path / "mae"))
    out = tmp_path / "grid.png"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mae_reconstructions.py"), str(tmp_path / "mae"),
                             "--out", str(out), "--dataset", "synthetic", "--count", "4"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr[-3000:]
    import tensorflow as tf

    png = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    assert png.shape[-1] == 3 and png.shape[0] > 3 * 28 and png.shape[1] > 4 * 28


def test_finetune_tool_reports_the_preset_and_a_random_init(tmp_path, monkeypatch):
    from kssl import cli

    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "mae"
    assert cli.main(["pretrain", "mae", "--dataset", "synthetic", "--epochs", "1", "--steps_per_epoch", "2", "--out",
                     str(out), "--verbose", "0", "--batch_size", "16", "--train_examples", "64", "--vit_dim", "16",
                     "--vit_depth", "1", "--vit_heads", "2", "--decoder_dim", "8", "--decoder_depth", "1",
                     "--decoder_heads", "2"]) == 0
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "finetune_preset.py"), str(out), "--fraction",
                             "0.1", "--epochs", "1"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT, "KSSL_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    written = json.loads((out / "finetune_10.json").read_text())
    assert written["pretrained"]["from_scratch"] is False and written["random_init"]["from_scratch"] is True
    assert written["pretrained"]["labelled_examples"] == written["random_init"]["labelled_examples"] > 0
