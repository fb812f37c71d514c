"""Colour pieces for colorization and split-brain autoencoders, as graph-friendly tensor ops.

- `rgb_to_lab` / `lab_to_rgb`: sRGB (D65, the IEC 61966-2-1 transfer curve) <-> CIE L*a*b*, the formulas
  of the CIE 1976 standard written with `keras.ops` (TensorFlow ops on this backend), so they run inside
  a train step and under XLA. `tf.image` has RGB<->YUV/HSV only, hence written here.
- Zhang, Isola & Efros (2016), "Colorful Image Colorization": the ab plane quantized on a grid of 10
  (`ab_bins`: only the bins that sRGB colours reach), soft encoding of ab to its 5 nearest bins with a
  Gaussian kernel (sigma 5) (`soft_encode`), class rebalancing by bin rarity (`bin_prior`,
  `rebalancing_weights`), and annealed-mean decoding (`annealed_mean`, T = 0.38).
- `LabChannels`: a Keras layer from RGB images to the network's L or ab input, normalised: L / 100 in
  [0, 1] and ab / 110 in about [-1, 1] (`L_SCALE`, `AB_SCALE`).
"""

import functools

import keras
import numpy as np
from keras import ops

from kssl.checks import check_positive_int, check_probability

L_SCALE, AB_SCALE = 100.0, 110.0

# sRGB primaries to CIE XYZ (D65), and the D65 reference white.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype="float32",
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.astype("float64")).astype("float32")
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype="float32")
_DELTA = 6.0 / 29.0


def rgb_to_lab(rgb):
    """CIE L*a*b* of sRGB colours in [0, 1]; the last axis holds (R, G, B) -> (L, a, b), L in [0, 100].

    Example:
    >>> import numpy as np, kssl
    >>> np.asarray(kssl.color.rgb_to_lab(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], "float32"))).astype("float64").round(1).tolist()
    [[53.2, 80.1, 67.2], [100.0, 0.0, 0.0]]
    """
    rgb = ops.convert_to_tensor(rgb, "float32")
    linear = ops.where(rgb <= 0.04045, rgb / 12.92, ops.power((ops.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4))
    xyz = ops.matmul(linear, ops.convert_to_tensor(_RGB_TO_XYZ.T)) / _WHITE
    # The cube root's linear toe below delta^3 (CIE 1976); maximum() keeps the unused branch finite.
    f = ops.where(xyz > _DELTA**3, ops.power(ops.maximum(xyz, _DELTA**3), 1.0 / 3.0), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return ops.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab, clip=True):
    """sRGB in [0, 1] of CIE L*a*b* colours (the inverse of `rgb_to_lab`); out-of-gamut colours are
    clipped to [0, 1] unless `clip=False`.

    Example:
    >>> import numpy as np, kssl
    >>> rgb = np.random.default_rng(0).random((5, 3)).astype("float32")
    >>> bool(np.allclose(kssl.color.lab_to_rgb(kssl.color.rgb_to_lab(rgb)), rgb, atol=1e-4))
    True
    """
    lab = ops.convert_to_tensor(lab, "float32")
    fy = (lab[..., 0] + 16.0) / 116.0
    f = ops.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = ops.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)) * _WHITE
    linear = ops.matmul(xyz, ops.convert_to_tensor(_XYZ_TO_RGB.T))
    srgb = ops.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * ops.power(ops.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055
    )
    return ops.clip(srgb, 0.0, 1.0) if clip else srgb


@functools.lru_cache(maxsize=None)
def _ab_bins(grid):
    levels = np.linspace(0.0, 1.0, 64, dtype="float32")
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    ab = np.asarray(rgb_to_lab(rgb))[:, 1:]
    return np.unique(np.round(ab / grid).astype("int64"), axis=0).astype("float32") * grid


def ab_bins(grid=10):
    """Centres `(Q, 2)` of the ab bins on a `grid` that some sRGB colour falls into (nearest centre).

    With grid 10 this gives Q = 261 bins from the sRGB gamut sampled on a 64^3 lattice. Zhang et al.'s
    released `pts_in_hull.npy` has 313: theirs is a looser hull that also keeps bins next to the gamut.
    The bins come from a colour space, not data, so any two models with the same grid agree on them.

    Example:
    >>> import kssl
    >>> kssl.color.ab_bins().shape
    (261, 2)
    """
    if not isinstance(grid, (int, float)) or not 0 < grid <= 50:
        raise ValueError(f"`grid` must be a number in (0, 50] (ab units); got {grid!r}.")
    return _ab_bins(float(grid)).copy()


def _squared_distances(ab, bins):
    """|ab - bin|^2 for every bin, via one matmul: (..., 2), (Q, 2) -> (..., Q)."""
    bins = ops.convert_to_tensor(bins, "float32")
    return ops.maximum(
        ops.sum(ab * ab, axis=-1, keepdims=True) - 2.0 * ops.matmul(ab, ops.transpose(bins)) + ops.sum(bins * bins, axis=-1),
        0.0,
    )


def soft_encode(ab, bins, neighbours=5, sigma=5.0):
    """Soft-encoded targets of Zhang et al.: each ab value spreads over its `neighbours` nearest bins
    with weights exp(-d^2 / 2 sigma^2), normalised to sum to 1. `(..., 2)` -> `(..., Q)`. (A bin tied
    with the k-th nearest is kept too: at most a few extra bins, on exact cell boundaries.)

    Example:
    >>> import numpy as np, kssl
    >>> bins = kssl.color.ab_bins()
    >>> target = np.asarray(kssl.color.soft_encode(np.array([[0.0, 0.0]], "float32"), bins))
    >>> int(np.count_nonzero(target)), round(float(target.sum()), 4), bins[int(target.argmax())].tolist()
    (5, 1.0, [0.0, 0.0])
    """
    check_positive_int("neighbours", neighbours)
    if not isinstance(sigma, (int, float)) or sigma <= 0:
        raise ValueError(f"`sigma` must be a number > 0; got {sigma!r}.")
    ab = ops.convert_to_tensor(ab, "float32")
    negative_d2 = -_squared_distances(ab, bins)
    # Keep the bins at least as close as the k-th nearest (a threshold, not a scatter of the top-k
    # indices: that would need a (..., k, Q) one-hot, k times the memory of the targets themselves).
    kth = ops.top_k(negative_d2, neighbours, sorted=True)[0][..., -1:]
    logits = ops.where(negative_d2 >= kth, negative_d2 / (2.0 * sigma**2), -1e9)
    return ops.softmax(logits, axis=-1)  # = the Gaussian kernel over the kept bins, normalised


def nearest_bin(ab, bins):
    """Index of the nearest bin of every ab value: `(..., 2)` -> `(...,)` int32."""
    return ops.cast(ops.argmin(_squared_distances(ops.convert_to_tensor(ab, "float32"), bins), axis=-1), "int32")


def bin_prior(ab, bins, sigma=5.0):
    """Empirical distribution `(Q,)` of nearest bins over ab values (any shape `(..., 2)`), smoothed
    over neighbouring bins with a Gaussian of `sigma` ab units as Zhang et al. do (0 = no smoothing).

    Example:
    >>> import numpy as np, kssl
    >>> bins = kssl.color.ab_bins()
    >>> prior = kssl.color.bin_prior(np.zeros((10, 2), "float32"), bins, sigma=0)
    >>> float(prior.sum()), bins[int(prior.argmax())].tolist()
    (1.0, [0.0, 0.0])
    """
    bins = np.asarray(bins, "float32")
    ab = np.asarray(ab, "float32").reshape(-1, 2)
    counts = np.zeros(len(bins), "float64")
    for start in range(0, len(ab), 65536):  # chunks: keep the (n, Q) distance matrix small
        counts += np.bincount(np.asarray(nearest_bin(ab[start : start + 65536], bins)), minlength=len(bins))
    prior = counts / max(counts.sum(), 1.0)
    if sigma:
        d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
        kernel = np.exp(-d2 / (2.0 * sigma**2))
        prior = kernel @ prior
        prior /= prior.sum()
    return prior.astype("float32")


def rebalancing_weights(prior, mix=0.5):
    """Class-rebalancing weights of Zhang et al.: w ~ ((1 - mix) * prior + mix / Q)^-1, scaled so that
    the expected weight under `prior` is 1. Rare colours weigh more.

    Example:
    >>> import numpy as np, kssl
    >>> w = kssl.color.rebalancing_weights(np.array([0.7, 0.2, 0.1]))
    >>> bool(w[2] > w[1] > w[0]), round(float(np.sum(w * [0.7, 0.2, 0.1])), 4)
    (True, 1.0)
    """
    check_probability("mix", mix)
    prior = np.asarray(prior, "float64")
    if prior.ndim != 1 or np.any(prior < 0) or not prior.sum() > 0:
        raise ValueError("`prior` must be a 1-D array of non-negative bin frequencies with a positive sum.")
    prior = prior / prior.sum()
    weights = 1.0 / ((1.0 - mix) * prior + mix / len(prior))
    return (weights / np.sum(prior * weights)).astype("float32")


def annealed_mean(logits, bins, temperature=0.38):
    """Annealed-mean decoding of Zhang et al.: ab = sum_q softmax(logits / T)_q * bin_q. T = 1 is the
    mean (desaturated), T -> 0 the mode (vivid but patchy); 0.38 is the paper's choice.

    Example:
    >>> import numpy as np, kssl
    >>> bins = kssl.color.ab_bins()
    >>> logits = np.full((1, len(bins)), -20.0, "float32"); logits[0, 7] = 0.0
    >>> bool(np.allclose(kssl.color.annealed_mean(logits, bins), bins[7], atol=1e-3))
    True
    """
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"`temperature` must be a number > 0; got {temperature!r}.")
    probabilities = ops.softmax(ops.convert_to_tensor(logits, "float32") / temperature, axis=-1)
    return ops.matmul(probabilities, ops.convert_to_tensor(bins, "float32"))


@keras.saving.register_keras_serializable(package="kssl")
class LabChannels(keras.layers.Layer):
    """RGB images in [0, 1] -> their normalised Lab channels: "L" (L / 100, 1 channel), "ab" (ab / 110,
    2 channels) or "Lab" (3 channels). Put it in front of an L-input encoder to feed it RGB images.

    Example:
    >>> import numpy as np, kssl
    >>> tuple(kssl.color.LabChannels("L")(np.ones((2, 4, 4, 3), "float32")).shape)
    (2, 4, 4, 1)
    """

    CHANNELS = ("L", "ab", "Lab")

    def __init__(self, channels="L", **kwargs):
        super().__init__(**kwargs)
        if channels not in self.CHANNELS:
            raise ValueError(f"`channels` must be one of {self.CHANNELS}; got {channels!r}.")
        self.channels = channels

    def call(self, images):
        lab = rgb_to_lab(images) / np.array([L_SCALE, AB_SCALE, AB_SCALE], "float32")
        return {"L": lab[..., :1], "ab": lab[..., 1:], "Lab": lab}[self.channels]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], {"L": 1, "ab": 2, "Lab": 3}[self.channels])

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
