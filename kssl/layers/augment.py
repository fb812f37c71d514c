"""View pipelines as Keras preprocessing layers that run inside the train step (graph and XLA friendly).

Keras 3 supplies flip, colour jitter, grayscale and Gaussian blur; two pieces are written here:
- `RandomResizedCrop`: Keras has none (RandomCrop is fixed-size, RandomZoom keeps the aspect ratio and
  uses ImageProjectiveTransform, which XLA cannot compile, as is tf.image.crop_and_resize). This one
  resamples with two bilinear interpolation matrices per image, i.e. two batched matmuls.
- `RandomApply`: applies a layer to each image with probability `rate` (torchvision's RandomApply).
keras-cv has both, but as its last release it is not worth a dependency for ~60 lines.
"""

import math

import keras
from keras import ops

from kssl.checks import check_positive_int, check_probability


def _pair(value, name, low=None, high=None):
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not value[0] <= value[1]:
        raise ValueError(f"`{name}` must be a (min, max) pair with min <= max; got {value!r}.")
    if (low is not None and value[0] <= low) or (high is not None and value[1] > high):
        raise ValueError(f"`{name}` must lie in ({low}, {high}]; got {value!r}.")
    return (float(value[0]), float(value[1]))


def _interpolation_matrix(start, extent, out_size, in_size):
    """(batch, out_size, in_size) bilinear weights sampling [start, start + extent) (fractions)."""
    centres = (ops.arange(out_size, dtype="float32") + 0.5) / out_size
    coords = (start[:, None] + centres[None, :] * extent[:, None]) * in_size - 0.5
    coords = ops.clip(coords, 0.0, in_size - 1.0)
    pixels = ops.arange(in_size, dtype="float32")
    return ops.relu(1.0 - ops.abs(coords[:, :, None] - pixels[None, None, :]))


@keras.saving.register_keras_serializable(package="kssl")
class RandomResizedCrop(keras.layers.Layer):
    """Crops a random area fraction in `scale` with aspect ratio in `ratio` and resizes it to
    (height, width), independently per image (Szegedy et al., 2015; SimCLR's main augmentation).

    In inference mode (`training=False`) the whole image is resized.

    Example:
    >>> import numpy as np, kssl
    >>> crop = kssl.augment.RandomResizedCrop(16, 16, scale=(0.2, 1.0), seed=0)
    >>> tuple(crop(np.random.rand(4, 28, 28, 1).astype("float32"), training=True).shape)
    (4, 16, 16, 1)
    """

    def __init__(self, height, width, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("height", height), check_positive_int("width", width)
        self.height, self.width = height, width
        self.scale = _pair(scale, "scale", 0.0, 1.0)
        self.ratio = _pair(ratio, "ratio", 0.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        images = ops.cast(images, self.compute_dtype)
        batch = ops.shape(images)[0]
        in_h, in_w = images.shape[1], images.shape[2]
        if not training:
            area, aspect = ops.ones((batch,)), ops.ones((batch,))
            start_x = start_y = ops.zeros((batch,))
            crop_w = crop_h = ops.ones((batch,))
        else:
            area = keras.random.uniform((batch,), *self.scale, seed=self.seed_generator)
            log_ratio = [math.log(r) for r in self.ratio]
            aspect = ops.exp(keras.random.uniform((batch,), *log_ratio, seed=self.seed_generator))
            # Crop sides as fractions of the image; an over-long side is clipped to the whole image.
            crop_w = ops.minimum(ops.sqrt(area * aspect), 1.0)
            crop_h = ops.minimum(ops.sqrt(area / aspect), 1.0)
            start_x = keras.random.uniform((batch,), seed=self.seed_generator) * (1.0 - crop_w)
            start_y = keras.random.uniform((batch,), seed=self.seed_generator) * (1.0 - crop_h)
        rows = _interpolation_matrix(start_y, crop_h, self.height, in_h)
        cols = _interpolation_matrix(start_x, crop_w, self.width, in_w)
        out = ops.einsum("bij,bjkc->bikc", ops.cast(rows, images.dtype), images)
        return ops.einsum("bikc,blk->bilc", out, ops.cast(cols, images.dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "scale": self.scale,
            "ratio": self.ratio,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="kssl")
class RandomApply(keras.layers.Layer):
    """Applies `layer` to each image independently with probability `rate`.

    Example:
    >>> import numpy as np, keras, kssl
    >>> ones = kssl.augment.RandomApply(keras.layers.Rescaling(0.0, offset=1.0), rate=0.5, seed=0)
    >>> tuple(ones(np.zeros((8, 4, 4, 1), "float32"), training=True).shape)
    (8, 4, 4, 1)
    """

    def __init__(self, layer, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"`layer` must be a Keras layer; got {layer!r}.")
        self.layer = layer
        self.rate = check_probability("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.layer.build(input_shape)
        self.built = True

    def call(self, images, training=True):
        if not training or self.rate == 0.0:
            return images
        applied = self.layer(images, training=True)
        if self.rate == 1.0:
            return applied
        draw = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator)
        return ops.where(draw < self.rate, ops.cast(applied, images.dtype), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "layer": keras.saving.serialize_keras_object(self.layer),
            "rate": self.rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


GRAYSCALE_POLICIES = ("brightness_contrast", "none")


@keras.saving.register_keras_serializable(package="kssl")
class SimCLRAugmentation(keras.layers.Layer):
    """One random SimCLR view (Chen et al., 2020, appendix A) of a batch of images in [0, 1]:

        random resized crop -> horizontal flip -> colour jitter (p) -> grayscale (p) -> blur (p)

    Colour jitter uses strength s: brightness, contrast and saturation factors 0.8 s and hue 0.2 s,
    as Keras' `RandomColorJitter` defines them (brightness is an additive shift of up to 0.8 s of the
    value range, not torchvision's multiplicative factor; the order is fixed, not shuffled). Blur is
    Keras' `RandomGaussianBlur` with sigma in `blur_sigma` drawn once per batch.

    Grey images (channels=1) have no saturation, hue or colour to drop, so you must say what colour
    augmentation means for them: `grayscale_policy="brightness_contrast"` (jitter brightness and
    contrast only) or `"none"` (no colour augmentation). Leaving it unset for grey images is an error.

    Args:
        image_size: output size, an int or (height, width).
        channels: 1 or 3.
        crop_scale, crop_ratio: area fraction and aspect-ratio ranges of the crop.
        flip: random horizontal flip.
        jitter_strength, jitter_prob: s and the probability of colour jitter.
        grayscale_prob: probability of converting to grey (colour images only).
        blur_prob, blur_sigma, blur_kernel_size: Gaussian blur probability, sigma range and kernel size
            (odd; default about a tenth of the image side).
        grayscale_policy: required when channels == 1; see above.
        seed: seed of the random layers.

    Example:
    >>> import numpy as np, kssl
    >>> views = kssl.augment.SimCLRAugmentation(28, channels=1, grayscale_policy="brightness_contrast", seed=1)
    >>> tuple(views(np.random.rand(4, 28, 28, 1).astype("float32")).shape)
    (4, 28, 28, 1)
    """

    def __init__(
        self,
        image_size,
        channels=3,
        crop_scale=(0.08, 1.0),
        crop_ratio=(3 / 4, 4 / 3),
        flip=True,
        jitter_strength=0.5,
        jitter_prob=0.8,
        grayscale_prob=0.2,
        blur_prob=0.5,
        blur_sigma=(0.1, 2.0),
        blur_kernel_size=None,
        grayscale_policy=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"`image_size` must be a positive int or (height, width); got {image_size!r}.")
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 (grey) or 3 (RGB); got {channels!r}.")
        if channels == 1 and grayscale_policy not in GRAYSCALE_POLICIES:
            raise ValueError(
                "Grey images (channels=1) have no saturation, hue or colour to drop: set "
                f"`grayscale_policy` to one of {GRAYSCALE_POLICIES}; got {grayscale_policy!r}."
            )
        if channels == 3 and grayscale_policy is not None:
            raise ValueError(f"`grayscale_policy` is for grey images only; got {grayscale_policy!r} with channels=3.")
        if not isinstance(jitter_strength, (int, float)) or jitter_strength < 0:
            raise ValueError(f"`jitter_strength` must be a number >= 0; got {jitter_strength!r}.")
        if blur_kernel_size is None:
            blur_kernel_size = max(3, (min(size) // 10) | 1)
        if not isinstance(blur_kernel_size, int) or blur_kernel_size < 1 or blur_kernel_size % 2 == 0:
            raise ValueError(f"`blur_kernel_size` must be an odd integer >= 1; got {blur_kernel_size!r}.")
        self.image_size, self.channels = size, channels
        self.crop_scale, self.crop_ratio = _pair(crop_scale, "crop_scale", 0.0, 1.0), _pair(crop_ratio, "crop_ratio", 0.0)
        self.flip, self.jitter_strength = bool(flip), float(jitter_strength)
        self.jitter_prob = check_probability("jitter_prob", jitter_prob)
        self.grayscale_prob = check_probability("grayscale_prob", grayscale_prob)
        self.blur_prob = check_probability("blur_prob", blur_prob)
        self.blur_sigma = _pair(blur_sigma, "blur_sigma", 0.0)
        self.blur_kernel_size, self.grayscale_policy, self.seed = blur_kernel_size, grayscale_policy, seed

        def sub_seed(i):
            return None if seed is None else seed + i

        self.stages = [RandomResizedCrop(*size, scale=self.crop_scale, ratio=self.crop_ratio, seed=sub_seed(0))]
        if self.flip:
            self.stages.append(keras.layers.RandomFlip("horizontal", seed=sub_seed(1)))
        s = self.jitter_strength
        colour = channels == 3 or grayscale_policy == "brightness_contrast"
        if colour and s > 0 and self.jitter_prob > 0:
            hue_and_saturation = {"saturation_factor": 0.8 * s, "hue_factor": 0.2 * s} if channels == 3 else {}
            jitter = keras.layers.RandomColorJitter(
                value_range=(0, 1), brightness_factor=0.8 * s, contrast_factor=0.8 * s,
                seed=sub_seed(2), **hue_and_saturation,
            )
            self.stages.append(RandomApply(jitter, self.jitter_prob, seed=sub_seed(3)))
        if channels == 3 and self.grayscale_prob > 0:
            self.stages.append(keras.layers.RandomGrayscale(self.grayscale_prob, seed=sub_seed(4)))
        if self.blur_prob > 0:
            self.stages.append(
                keras.layers.RandomGaussianBlur(
                    factor=(self.blur_prob, self.blur_prob), kernel_size=blur_kernel_size,
                    sigma=self.blur_sigma, value_range=(0, 1), seed=sub_seed(5),
                )
            )

    def _check_channels(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.channels:
            raise ValueError(
                f"`channels`: this SimCLRAugmentation was built for {self.channels}-channel images; got images "
                f"shaped {tuple(input_shape)}. Build it with channels={input_shape[-1]}."
            )

    def build(self, input_shape):
        self._check_channels(input_shape)
        for stage in self.stages:
            stage.build(input_shape)
            input_shape = stage.compute_output_shape(input_shape)
        self.built = True

    def call(self, images, training=True):
        images = ops.cast(images, self.compute_dtype)
        for stage in self.stages:
            images = stage(images, training=training)
        return ops.clip(images, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        self._check_channels(input_shape)
        return (input_shape[0], *self.image_size, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "crop_scale": self.crop_scale,
            "crop_ratio": self.crop_ratio,
            "flip": self.flip,
            "jitter_strength": self.jitter_strength,
            "jitter_prob": self.jitter_prob,
            "grayscale_prob": self.grayscale_prob,
            "blur_prob": self.blur_prob,
            "blur_sigma": self.blur_sigma,
            "blur_kernel_size": self.blur_kernel_size,
            "grayscale_policy": self.grayscale_policy,
            "seed": self.seed,
        }


def simclr_views(image_size, channels=3, **kwargs):
    """The SimCLR view pipeline as one Keras layer (see `SimCLRAugmentation` for every argument).

    Example:
    >>> import kssl
    >>> aug = kssl.augment.simclr_views(32, channels=3, blur_prob=0.0)
    >>> aug.image_size
    (32, 32)
    """
    return SimCLRAugmentation(image_size, channels=channels, **kwargs)


def multi_crop_views(image_size, small_size, num_small=4, large_scale=(0.14, 1.0), small_scale=(0.05, 0.14),
                     channels=3, seed=None, **kwargs):
    """SwAV's multi-crop (Caron et al., 2020): 2 large views plus `num_small` small, low-resolution
    views of each image, as a list of `SimCLRAugmentation` layers (one per view, large ones first),
    for `augment=` of `kssl.methods.SwAV`.

    The crops differ only in output size and area range (the paper: 2 x 224 px of 14-100 % of the
    image, and 6 x 96 px of 5-14 %); `kwargs` (flip, colour, blur, `grayscale_policy`, ...) go to
    every view. Each view gets its own seed (`seed + 10 * view`).

    Example:
    >>> import numpy as np, kssl
    >>> views = kssl.augment.multi_crop_views(28, 12, num_small=3, channels=1,
    ...                                       grayscale_policy="brightness_contrast", seed=0)
    >>> x = np.random.rand(4, 28, 28, 1).astype("float32")
    >>> [tuple(view(x).shape) for view in views]
    [(4, 28, 28, 1), (4, 28, 28, 1), (4, 12, 12, 1), (4, 12, 12, 1), (4, 12, 12, 1)]
    """
    check_positive_int("num_small", num_small, minimum=0)

    def view(i, size, scale):
        return SimCLRAugmentation(size, channels=channels, crop_scale=scale, seed=None if seed is None else seed + 10 * i,
                                  **kwargs)

    return [view(i, image_size, large_scale) for i in range(2)] + [
        view(2 + i, small_size, small_scale) for i in range(num_small)
    ]
