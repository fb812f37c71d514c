"""Bad input across the public API gets an exception that names the argument and the expected value.

One table, so a reviewer can see the whole contract at once; the method-specific tests check the same
errors in context.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from helpers import Identity, smooth_images


def encoder(size=12, channels=1):
    return kssl.backbones.convnet((size, size, channels), widths=(4, 8))


def simclr(**kwargs):
    return kssl.methods.SimCLR(encoder(), projection_dim=8, **kwargs)


def fit(model, x, batch_size):
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    model.fit(x, batch_size=batch_size, epochs=1, verbose=0)


Z = np.ones((4, 8), "float32")
CASES = {
    # images
    "image rank": (lambda: simclr()(np.zeros((4, 12, 12), "float32")), "`x` must be a batch of images shaped"),
    "image channels": (lambda: simclr()(np.zeros((4, 12, 12, 3), "float32")), "`x` must have 1 channel"),
    "integer images": (lambda: simclr()(np.zeros((4, 12, 12, 1), "uint8")), "`x` must be float images in \\[0, 1\\]"),
    "batch of one": (lambda: simclr()(np.zeros((1, 12, 12, 1), "float32")), "at least 2 examples per replica"),
    "encoder not a model": (lambda: kssl.methods.SimCLR("resnet"), "`encoder` must be a keras.Model"),
    "encoder outputs maps": (lambda: kssl.methods.SimCLR(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])),
                             "`encoder` must output one feature vector per image"),
    "augment not a layer": (lambda: simclr(augment="flip"), "`augment` must be a Keras layer"),
    "augment list length": (lambda: simclr(augment=[Identity()] * 3)(smooth_images(4)), "`augment` is a list of 3 layers"),
    # temperatures, margins, momentum, queue
    "nt_xent temperature": (lambda: kssl.losses.nt_xent(Z, Z, temperature=0), "`temperature` must be a number > 0"),
    "info_nce temperature": (lambda: kssl.losses.info_nce(Z, Z, temperature=-1), "`temperature` must be a number > 0"),
    "SimCLR temperature": (lambda: simclr(temperature=0.0), "`temperature` must be a number > 0"),
    "MoCo temperature": (lambda: kssl.methods.MoCo(encoder(), temperature=-0.1), "`temperature` must be a number > 0"),
    "margin loss margin": (lambda: kssl.losses.margin_contrastive(Z, Z, [1] * 4, margin=-1), "`margin` must be a number >= 0"),
    "triplet loss margin": (lambda: kssl.losses.triplet_margin(Z, Z, Z, margin=-0.2), "`margin` must be a number >= 0"),
    "Siamese margin": (lambda: kssl.methods.Siamese(encoder(), margin=-1.0), "`margin` must be a number >= 0"),
    "Triplet margin": (lambda: kssl.methods.Triplet(encoder(), margin=-1.0), "`margin` must be a number >= 0"),
    "MoCo momentum 1": (lambda: kssl.methods.MoCo(encoder(), momentum=1.0), "`momentum` must be a number in \\[0, 1\\)"),
    "MoCo momentum < 0": (lambda: kssl.methods.MoCo(encoder(), momentum=-0.5), "`momentum` must be a number in \\[0, 1\\)"),
    "MoCo queue size": (lambda: kssl.methods.MoCo(encoder(), queue_size=0), "`queue_size` must be an integer >= 1"),
    "MoCo queue multiple": (lambda: fit(kssl.methods.MoCo(encoder(), queue_size=20, projection_dim=8), smooth_images(8), 8),
                            "`queue_size` \\(20\\) must be a multiple of the global batch size \\(8"),
    "MoCo version": (lambda: kssl.methods.MoCo(encoder(), version=3), "`version` must be 1 or 2"),
    "triplet mining": (lambda: kssl.methods.Triplet(encoder(), mining="hardest"), "`mining` must be one of"),
    "triplet distance": (lambda: kssl.methods.Triplet(encoder(), distance="l1"), "`distance` must be one of"),
    "pairs source": (lambda: kssl.methods.Siamese(encoder(), pairs="random"), "`pairs` must be one of"),
    "labels needed": (lambda: fit(kssl.methods.Triplet(encoder(), pairs="labels"), smooth_images(8), 8), "learns from labels"),
    "head width": (lambda: kssl.heads.ProjectionHead(hidden_dim=0), "`hidden_dim` must be an integer >= 1"),
    # augmentation
    "crop scale": (lambda: kssl.augment.simclr_views(28, channels=1, grayscale_policy="none", crop_scale=(0.9, 0.1)),
                   "`crop_scale` must be a \\(min, max\\) pair"),
    "channels": (lambda: kssl.augment.simclr_views(28, channels=2), "`channels` must be 1 \\(grey\\) or 3"),
    "grey without policy": (lambda: kssl.augment.simclr_views(28, channels=1), "grayscale_policy"),
    "blur probability": (lambda: kssl.augment.simclr_views(28, channels=3, blur_prob=1.5), "`blur_prob` must be a number in \\[0, 1\\]"),
    # names, with suggestions
    "unknown method": (lambda: kssl.methods.get("simclear"), "`method` must be one of .*Did you mean 'simclr'"),
    "unknown backbone": (lambda: kssl.backbones.get("resnet19", (32, 32, 3)), "`backbone` must be one of .*Did you mean 'resnet18'"),
    "unknown dataset": (lambda: kssl.datasets.load("fashion-mnist"), "`name` must be one of .*Did you mean 'fashion_mnist'"),
    "unknown zoo name": (lambda: kssl.zoo.load("simclr_convnet_fmist"), "not in the kssl zoo.*simclr_convnet_fmnist"),
    "resnet depth": (lambda: kssl.backbones.resnet(19, (32, 32, 3)), "`depth` must be one of"),
    "convnet widths": (lambda: kssl.backbones.convnet((28, 28, 1), widths=()), "`widths` must be a non-empty list"),
    # grids, masks and corruptions
    "tile grid does not fit": (lambda: kssl.pretext.check_grid((28, 28), grid=3, tile_size=12, gap=1, jitter=1),
                               "needs images of at least 42x42 pixels"),
    "permutation count": (lambda: kssl.pretext.maximal_hamming_permutations(30, tiles=4), "`count` must be at most 4! = 24"),
    "mask coverage": (lambda: kssl.corrupt.RandomRegionMask(coverage=1.0), "`coverage` must be a number in \\(0, 1\\)"),
    "masking rate": (lambda: kssl.corrupt.MaskingNoise(rate=1.5), "`rate` must be a number in"),
    "noise stddev": (lambda: kssl.corrupt.AdditiveGaussianNoise(stddev=-0.1), "`stddev` must be a number >= 0"),
    "unknown corruption": (lambda: kssl.corrupt.corruption("blur", 0.1), "`corruption` must be one of"),
    # training and evaluation
    "empty dataset": (lambda: kssl.training.pretrain(simclr(), tf.data.Dataset.from_tensor_slices(smooth_images(4)).batch(8, drop_remainder=True), 1),
                      "`dataset` is empty"),
    "epochs": (lambda: kssl.training.pretrain(simclr(), tf.data.Dataset.from_tensor_slices(smooth_images(8)).batch(4), 0),
               "`epochs` must be an integer >= 1"),
    "label fraction": (lambda: kssl.eval.label_subset_index(np.arange(10) % 2, 0.0), "`fraction` must be in \\(0, 1\\]"),
    "kNN k": (lambda: kssl.eval.knn_predict(Z, np.zeros(4, int), Z, k=0), "`k` must be an integer >= 1"),
    "recall ks": (lambda: kssl.eval.recall_at_k_features(Z, np.arange(4), ks=(4,)), "`ks` must be integers"),
    "probe layer": (lambda: kssl.eval.layer_encoder(encoder(), "no_such_layer"), "`layer` must be one of the encoder's layers"),
    "uniformity t": (lambda: kssl.eval.uniformity(Z, t=-1), "`t` must be > 0"),
    # CPC (more in tests/test_cpc.py)
    "sequence shorter than the prediction horizon": (
        lambda: kssl.methods.CPCAudio(kssl.backbones.audio_encoder(width=4), context_dim=4,
                                      prediction_steps=12)(np.zeros((2, 160 * 12), "float32")),
        "`x` is shorter than the prediction horizon.*`prediction_steps` = 12"),
    "CPC patch grid does not fit": (lambda: kssl.methods.CPC(encoder(8), image_shape=(28, 28, 1), patch_size=8, patch_stride=3),
                                    "patch grid does not fit the image"),
}


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_names_the_argument(name):
    call, match = CASES[name]
    with pytest.raises((ValueError, TypeError), match=match):
        call()
