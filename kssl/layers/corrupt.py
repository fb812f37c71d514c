"""Corruptions (denoising autoencoders) and mask generators (context encoders) as Keras layers.

Graph and XLA friendly like `kssl.augment`: static shapes, `keras.random` with a `SeedGenerator`, no
Python-side randomness in a step. Each layer draws new noise per call and per image.

Corruptions (Vincent et al., 2008/2010) map images in [0, 1] to corrupted images:
    AdditiveGaussianNoise   x + N(0, stddev^2), clipped to [0, 1]
    MaskingNoise            each pixel set to 0 with probability `rate`
    SaltAndPepperNoise      each pixel set to 0 or 1 (even odds) with probability `rate`
Keras has `GaussianNoise` (no clipping) and `Dropout` (rescales the kept pixels by 1 / (1 - rate), which
a masking corruption must not): both are close but change what the paper's corruptions mean.

Mask generators (Pathak et al., 2016) return a mask `(batch, height, width, 1)`, 1 where a pixel is
hidden, 0 where it is seen (they do not apply it):
    CentralBlockMask   one centred square of `size` pixels
    RandomBlockMask    `count` squares of `size` pixels at random places (they may overlap)
    RandomRegionMask   a random smooth blob covering a `coverage` fraction of the image (the paper
                       uses PASCAL segmentation shapes; here, low-frequency noise thresholded at its
                       per-image quantile, so every image loses exactly the same number of pixels)
"""

import keras
from keras import ops

from kssl.checks import check_positive_int, check_probability


class _Random(keras.layers.Layer):
    """Shared bits: a seed generator, and shape-preserving output."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class _PixelNoise(_Random):
    """A corruption that hits each pixel (all its channels at once) with probability `rate`."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_probability("rate", rate)

    def pixel_draws(self, images):
        """One uniform draw in [0, 1) per pixel, shaped (batch, height, width, 1)."""
        shape = ops.shape(images)
        return keras.random.uniform((shape[0], shape[1], shape[2], 1), seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


# ---- corruptions --------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="kssl")
class AdditiveGaussianNoise(_Random):
    """Adds N(0, stddev^2) noise to every pixel, then clips to [0, 1] (`clip=False` to keep it raw).

    Example:
    >>> import numpy as np, kssl
    >>> noisy = kssl.corrupt.AdditiveGaussianNoise(0.1, clip=False, seed=0)(np.full((2, 64, 64, 1), 0.5, "float32"))
    >>> round(float(np.std(noisy)), 1)
    0.1
    """

    def __init__(self, stddev=0.1, clip=True, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"`stddev` must be a number >= 0; got {stddev!r}.")
        self.stddev, self.clip = float(stddev), bool(clip)

    def call(self, images, training=True):
        if not training or self.stddev == 0.0:
            return images
        noisy = images + self.stddev * keras.random.normal(ops.shape(images), dtype=images.dtype, seed=self.seed_generator)
        return ops.clip(noisy, 0.0, 1.0) if self.clip else noisy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "clip": self.clip}


@keras.saving.register_keras_serializable(package="kssl")
class MaskingNoise(_PixelNoise):
    """Sets each pixel (all its channels) to 0 with probability `rate`; the others are kept unscaled.

    Example:
    >>> import numpy as np, kssl
    >>> masked = kssl.corrupt.MaskingNoise(0.25, seed=0)(np.ones((4, 64, 64, 1), "float32"))
    >>> round(1.0 - float(np.mean(masked)), 2)
    0.25
    """

    def __init__(self, rate=0.25, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, images, training=True):
        if not training or self.rate == 0.0:
            return images
        return images * ops.cast(self.pixel_draws(images) >= self.rate, images.dtype)


@keras.saving.register_keras_serializable(package="kssl")
class SaltAndPepperNoise(_PixelNoise):
    """Sets each pixel (all its channels) with probability `rate` to 0 or 1, each with probability 1/2.

    Example:
    >>> import numpy as np, kssl
    >>> noisy = kssl.corrupt.SaltAndPepperNoise(0.2, seed=0)(np.full((4, 64, 64, 1), 0.5, "float32"))
    >>> round(float(np.mean(noisy != 0.5)), 1), round(float(np.mean(noisy == 1.0)), 1)
    (0.2, 0.1)
    """

    def __init__(self, rate=0.2, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, images, training=True):
        if not training or self.rate == 0.0:
            return images
        draw = self.pixel_draws(images)
        # draw < rate/2: pepper (0); rate/2 <= draw < rate: salt (1); else unchanged.
        salt = ops.cast(draw >= self.rate / 2, images.dtype)
        return ops.where(draw < self.rate, ops.broadcast_to(salt, ops.shape(images)), images)


CORRUPTIONS = {
    "gaussian": AdditiveGaussianNoise,
    "masking": MaskingNoise,
    "salt_and_pepper": SaltAndPepperNoise,
}


def corruption(name, amount, seed=None):
    """The corruption layer `name` ("gaussian": amount = stddev; "masking", "salt_and_pepper": amount
    = rate).

    Example:
    >>> import kssl
    >>> kssl.corrupt.corruption("masking", 0.3).rate
    0.3
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"`corruption` must be one of {sorted(CORRUPTIONS)}; got {name!r}.")
    return CORRUPTIONS[name](amount, seed=seed)


# ---- masks --------------------------------------------------------------------------------------
def _block_size(value, name="size"):
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer number of pixels >= 1; got {value!r}.")
    return value


class _Mask(_Random):
    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"{type(self).__name__}: images must be (batch, height, width, channels) with a known size; "
                f"got {tuple(input_shape)}."
            )
        self.check_image_size(int(input_shape[1]), int(input_shape[2]))
        self.built = True

    def check_image_size(self, height, width):
        size = getattr(self, "size", None)
        if size is not None and (size > height or size > width):
            raise ValueError(
                f"{type(self).__name__}: `size` ({size}) must be at most the image side "
                f"({height}x{width})."
            )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)


def _squares(top, left, size, height, width):
    """(batch, n) corners -> (batch, height, width, 1) union of the n size x size squares."""
    rows = ops.arange(height, dtype="int32")[None, None, :]
    cols = ops.arange(width, dtype="int32")[None, None, :]
    in_rows = ops.cast((rows >= top[..., None]) & (rows < top[..., None] + size), "float32")  # (b, n, h)
    in_cols = ops.cast((cols >= left[..., None]) & (cols < left[..., None] + size), "float32")  # (b, n, w)
    union = ops.max(in_rows[:, :, :, None] * in_cols[:, :, None, :], axis=1)
    return union[..., None]


@keras.saving.register_keras_serializable(package="kssl")
class CentralBlockMask(_Mask):
    """Hides a centred `size` x `size` square (the context encoder's central region: half the side,
    a quarter of the image, by default).

    Example:
    >>> import numpy as np, kssl
    >>> mask = kssl.corrupt.CentralBlockMask(14)(np.zeros((2, 28, 28, 1), "float32"))
    >>> float(np.mean(mask))
    0.25
    """

    def __init__(self, size=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.size = None if size is None else _block_size(size)

    def call(self, images):
        shape = ops.shape(images)
        height, width = images.shape[1], images.shape[2]
        size = self.size or min(height, width) // 2
        top = ops.full((shape[0], 1), (height - size) // 2, dtype="int32")
        left = ops.full((shape[0], 1), (width - size) // 2, dtype="int32")
        return ops.cast(_squares(top, left, size, height, width), images.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="kssl")
class RandomBlockMask(_Mask):
    """Hides `count` squares of `size` pixels at uniformly random places inside the image (they may
    overlap, so the hidden fraction is at most count * size^2 / (height * width)).

    Example:
    >>> import numpy as np, kssl
    >>> mask = kssl.corrupt.RandomBlockMask(size=4, count=3, seed=0)(np.zeros((8, 28, 28, 1), "float32"))
    >>> bool(np.all(np.mean(mask, axis=(1, 2, 3)) <= 3 * 16 / 784)), bool(np.all(np.mean(mask, axis=(1, 2, 3)) >= 16 / 784))
    (True, True)
    """

    def __init__(self, size=8, count=4, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.size = _block_size(size)
        self.count = check_positive_int("count", count)

    def call(self, images):
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        # Corners uniform over the valid positions 0 .. side - size (inclusive).
        top = keras.random.randint((batch, self.count), 0, height - self.size + 1, seed=self.seed_generator)
        left = keras.random.randint((batch, self.count), 0, width - self.size + 1, seed=self.seed_generator)
        return ops.cast(_squares(ops.cast(top, "int32"), ops.cast(left, "int32"), self.size, height, width), images.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "count": self.count}


@keras.saving.register_keras_serializable(package="kssl")
class RandomRegionMask(_Mask):
    """Hides a random smooth region covering `coverage` of the image: uniform noise on a `grid` x
    `grid` lattice, bilinearly upsampled, thresholded at its per-image (1 - coverage) quantile.

    Example:
    >>> import numpy as np, kssl
    >>> mask = kssl.corrupt.RandomRegionMask(coverage=0.25, seed=0)(np.zeros((4, 28, 28, 1), "float32"))
    >>> np.mean(mask, axis=(1, 2, 3)).round(2).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """

    def __init__(self, coverage=0.25, grid=4, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.coverage = check_probability("coverage", coverage, low_open=True, high_open=True)
        self.grid = check_positive_int("grid", grid, minimum=2)

    def call(self, images):
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        noise = keras.random.uniform((batch, self.grid, self.grid, 1), seed=self.seed_generator)
        smooth = ops.reshape(ops.image.resize(noise, (height, width), interpolation="bilinear"), (batch, height * width))
        # Bilinear upsampling is flat near the borders: a little per-pixel jitter breaks the ties, so
        # exactly `hidden` pixels pass the threshold.
        smooth = smooth + 1e-4 * keras.random.uniform((batch, height * width), seed=self.seed_generator)
        hidden = max(1, round(self.coverage * height * width))
        # The hidden-th largest value of each image is its threshold.
        threshold = ops.top_k(smooth, hidden, sorted=True)[0][:, -1:]
        mask = ops.cast(smooth >= threshold, images.dtype)
        return ops.reshape(mask, (batch, height, width, 1))

    def get_config(self):
        return {**super().get_config(), "coverage": self.coverage, "grid": self.grid}


MASKS = {"central": CentralBlockMask, "random_blocks": RandomBlockMask, "random_region": RandomRegionMask}


def mask_generator(name, seed=None, **kwargs):
    """The mask layer `name` ("central", "random_blocks", "random_region") with its arguments.

    Example:
    >>> import kssl
    >>> kssl.corrupt.mask_generator("random_blocks", size=6, count=2).size
    6
    """
    if name not in MASKS:
        raise ValueError(f"`mask` must be one of {sorted(MASKS)}; got {name!r}.")
    return MASKS[name](seed=seed, **kwargs)
