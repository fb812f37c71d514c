"""Every method's train step compiles with XLA (jit_compile=True) on CPU: static shapes, no Python side
effects, no host round trips -- the precondition for TPUStrategy. And mixed precision keeps the loss
within tolerance of float32 (similarities and losses are computed in float32)."""

import keras
import numpy as np
import pytest

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


def encoder(size=12, channels=1):
    return kssl.backbones.convnet((size, size, channels), widths=(4, 8), name="tiny")


def views():
    return kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast", blur_prob=0.5, seed=1)


# One tiny configuration per registered method; a method without one fails test_every_method_is_covered.
BUILDERS = {
    "simclr": lambda: kssl.methods.SimCLR(encoder(), projection_dim=8, augment=views()),
    "moco": lambda: kssl.methods.MoCo(encoder(), projection_dim=8, queue_size=32, augment=views(), shuffle_bn_splits=2),
    "nnclr": lambda: kssl.methods.NNCLR(encoder(), projection_dim=8, queue_size=32, augment=views()),
    "moco_v3": lambda: kssl.methods.MoCoV3(encoder(), projection_dim=8, augment=views()),
    "byol": lambda: kssl.methods.BYOL(encoder(), projection_dim=8, hidden_dim=16, augment=views()),
    "simsiam": lambda: kssl.methods.SimSiam(encoder(), projection_dim=8, augment=views()),
    "barlow_twins": lambda: kssl.methods.BarlowTwins(encoder(), projection_dim=8, lambda_=0.05, augment=views()),
    "vicreg": lambda: kssl.methods.VICReg(encoder(), projection_dim=8, augment=views()),
    "siamese": lambda: kssl.methods.Siamese(encoder(), embedding_dim=8, augment=views()),
    "triplet": lambda: kssl.methods.Triplet(encoder(), embedding_dim=8, mining="semi_hard", augment=views()),
    "denoising": lambda: kssl.methods.DenoisingAutoencoder(encoder(), corruption="salt_and_pepper"),
    "colorization": lambda: kssl.methods.Colorization(encoder(), head="classification"),
    "inpainting": lambda: kssl.methods.ContextEncoder(encoder(), mask="random_blocks", adversarial=True),
    "split_brain": lambda: kssl.methods.SplitBrain(encoder(), split="top_bottom"),
    "rotation": lambda: kssl.methods.RotationPrediction(encoder()),
    "jigsaw": lambda: kssl.methods.Jigsaw(encoder(8), tile_size=8, gap=1, jitter=1, num_permutations=10, hidden_dim=16),
    "relative_patch": lambda: kssl.methods.RelativePatchPosition(encoder(8), patch_size=8, gap=1, jitter=1, hidden_dim=16),
    "exemplar": lambda: kssl.methods.Exemplar(encoder(), num_exemplars=16, augment=views()),
    "swav": lambda: kssl.methods.SwAV(encoder(), num_prototypes=6, projection_dim=8, queue_size=16, augment=(
        kssl.augment.multi_crop_views(12, 6, num_small=2, channels=1, grayscale_policy="brightness_contrast", seed=1))),
    "pirl": lambda: kssl.methods.PIRL(encoder(), memory_bank_size=16, projection_dim=8, num_negatives=8, tile_size=4,
                                      num_permutations=10, augment=views()),
    "cpc": lambda: kssl.methods.CPC(encoder(4), image_shape=(12, 12, 1), patch_size=4, patch_stride=2,
                                    prediction_steps=2, context_dim=8),
    "cpc_audio": lambda: kssl.methods.CPCAudio(kssl.backbones.audio_encoder(width=8), prediction_steps=3, context_dim=8),
    "mlm": lambda: kssl.methods.MaskedLM(kssl.backbones.bert_encoder(20, num_layers=1, hidden_dim=8, intermediate_dim=16,
                                                                      max_sequence_length=12), next_sentence=True),
    "word2vec": lambda: kssl.methods.Word2Vec(np.arange(20), embedding_dim=8, mode="cbow", table_size=100),
    "dino": lambda: kssl.methods.DINO(encoder(), output_dim=16, hidden_dim=16, bottleneck_dim=8, augment=(
        kssl.augment.multi_crop_views(12, 6, num_small=2, channels=1, grayscale_policy="brightness_contrast", seed=1))),
    "mae": lambda: kssl.methods.MAE(kssl.backbones.vit((12, 12, 1), patch_size=4, hidden_dim=8, depth=1, num_heads=2),
                                    decoder_dim=8, decoder_depth=1, decoder_heads=2, augment=kssl.augment.RandomResizedCrop(12, 12)),
}
# DINO on the ViT: small crops resize its position embedding (an XLA-compatible bilinear resize).
BUILDERS_VIT = {"dino_vit": lambda: kssl.methods.DINO(
    kssl.backbones.vit((12, 12, 1), patch_size=3, hidden_dim=8, depth=1, num_heads=2), output_dim=16, hidden_dim=16,
    bottleneck_dim=8, augment=kssl.augment.multi_crop_views(12, 6, num_small=2, channels=1,
                                                            grayscale_policy="brightness_contrast", seed=1))}
# The data each method trains on: grey 12x12 unless it needs colour or room for a tile grid.
INPUTS = {"colorization": (12, 3), "jigsaw": (30, 1), "relative_patch": (30, 1)}
# Language methods train on (dict of token ids, targets) batches (what kssl.language's pipelines yield), and
# CPC on audio on waveforms, not images.
NON_IMAGE = {
    "mlm": lambda rng: (
        {"token_ids": rng.integers(5, 20, (16, 12)), "segment_ids": np.zeros((16, 12), "int32"),
         "padding_mask": np.ones((16, 12), bool), "mask_positions": rng.integers(1, 12, (16, 3))},
        {"mask_ids": rng.integers(5, 20, (16, 3)), "mask_weights": np.ones((16, 3), "float32"),
         "next_sentence_labels": rng.integers(0, 2, 16)}),
    "word2vec": lambda rng: ({"inputs": rng.integers(0, 20, (16, 4))}, rng.integers(1, 20, 16)),
    "cpc_audio": lambda rng: (rng.standard_normal((16, 160 * 8)).astype("float32"), None),
}
LABELLED = {"siamese_labels": lambda: kssl.methods.Siamese(encoder(), embedding_dim=8, pairs="labels"),
            "triplet_labels": lambda: kssl.methods.Triplet(encoder(), embedding_dim=8, pairs="labels")}


def test_every_method_is_covered():
    assert sorted(BUILDERS) == sorted(kssl.methods.METHODS)


@pytest.mark.parametrize("name", sorted({**BUILDERS, **LABELLED, **BUILDERS_VIT}))
def test_train_step_compiles_with_xla(name):
    keras.utils.set_random_seed(0)
    model = {**BUILDERS, **LABELLED, **BUILDERS_VIT}[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    size, channels = INPUTS.get(name, (12, 1))
    x, y = smooth_images(16, size=size, channels=channels), np.arange(16) % 4
    if name in NON_IMAGE:
        x, y = NON_IMAGE[name](np.random.default_rng(0))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model.jit_compile is True
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", ["simclr", "moco"])
def test_mixed_precision_loss_is_close_to_float32(name, policy):
    x = smooth_images(8)
    losses = {}
    weights = None
    for dtype_policy in ("float32", policy):
        keras.config.set_dtype_policy(dtype_policy)
        try:
            keras.utils.set_random_seed(0)
            model = {"simclr": lambda: kssl.methods.SimCLR(encoder(), projection_dim=8, augment=[Identity(), FlipLeftRight()]),
                     "moco": lambda: kssl.methods.MoCo(encoder(), projection_dim=8, queue_size=16,
                                                       augment=[Identity(), FlipLeftRight()])}[name]()
            if weights is None:
                weights = model.get_weights()
            else:
                model.set_weights(weights)
            outputs = model(x, training=True)
            loss = model.ssl_loss(outputs)
            assert keras.backend.standardize_dtype(loss.dtype) == "float32"
            losses[dtype_policy] = float(loss)
        finally:
            keras.config.set_dtype_policy("float32")
    tolerance = 0.02 if policy == "mixed_float16" else 0.05  # bfloat16 keeps 8 bits of mantissa
    np.testing.assert_allclose(losses[policy], losses["float32"], rtol=tolerance)
