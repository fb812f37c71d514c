"""A small image discriminator for adversarial pretext losses (the context encoder's)."""

import keras

from kssl.checks import check_positive_int


def discriminator(input_shape, widths=(32, 64), name="discriminator"):
    """A small DCGAN-style discriminator (Radford et al., 2016): stride-2 4x4 convolutions with
    LeakyReLU(0.2) and no batch norm, global average pooling, then one logit per image (real = high).

    Example:
    >>> import kssl.backbones.discriminator as d
    >>> d.discriminator((16, 16, 1), widths=(8, 16)).output_shape
    (None, 1)
    """
    widths = tuple(check_positive_int("widths", w) for w in widths)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = inputs
    for i, width in enumerate(widths):
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{i + 1}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"lrelu{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name=name)
