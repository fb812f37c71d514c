"""Encoders: functional `keras.Model`s from image to feature vector.

Built only from Keras' own layers, so a saved encoder deserialises in safe mode with no custom code.
ResNet-50 at ImageNet sizes is keras-hub's `ResNetBackbone`; keras-hub's ResNet stem (stride-2 conv
then max-pool) shrinks a 28-32 px image 4x before the first block, so small images get the CIFAR
stem of the SimCLR paper (3x3 conv, stride 1, no pool), written here.
"""

import keras
from keras import layers

from kssl.checks import check_choice

_BLOCKS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3])}


def _check_input_shape(input_shape):
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            f"`input_shape` must be (height, width, channels) with positive integers; got {input_shape!r}."
        )
    return tuple(input_shape)


def _bn(name):
    # Synchronised: under MirroredStrategy the statistics are those of the global batch.
    return layers.BatchNormalization(synchronized=True, name=name)


def _conv_bn_relu(x, filters, kernel, strides, name):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name + "_conv")(x)
    x = _bn(name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def _residual_block(x, filters, strides, kind, name):
    out_filters = filters * (4 if kind == "bottleneck" else 1)
    shortcut = x
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = layers.Conv2D(out_filters, 1, strides=strides, use_bias=False, name=name + "_proj")(x)
        shortcut = _bn(name + "_proj_bn")(shortcut)
    if kind == "basic":
        y = _conv_bn_relu(x, filters, 3, strides, name + "_1")
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(y)
    else:
        y = _conv_bn_relu(x, filters, 1, 1, name + "_1")
        y = _conv_bn_relu(y, filters, 3, strides, name + "_2")
        y = layers.Conv2D(out_filters, 1, use_bias=False, name=name + "_3_conv")(y)
    y = _bn(name + "_out_bn")(y)
    return layers.ReLU(name=name + "_out")(layers.Add(name=name + "_add")([shortcut, y]))


def resnet(depth=18, input_shape=(32, 32, 3), width=64, small_input=None, name=None):
    """ResNet-18/34/50 (He et al., 2016) encoder ending in global average pooling.

    Args:
        depth: 18, 34 or 50.
        input_shape: (height, width, channels).
        width: filters of the first stage (64 in the paper); stages use width x (1, 2, 4, 8).
        small_input: CIFAR stem (3x3 conv, stride 1, no max-pool). Default: True below 64 px.
        name: model name (default "resnet{depth}").

    Returns:
        A functional `keras.Model` from images in [0, 1] to `(batch, width * 8 * expansion)` features.
        With `depth=50, width=64, small_input=False` it is keras-hub's `ResNetBackbone` plus pooling.

    Example:
    >>> import kssl
    >>> kssl.backbones.resnet(18, input_shape=(32, 32, 3), width=8).output_shape
    (None, 64)
    """
    if depth not in _BLOCKS:
        raise ValueError(f"`depth` must be one of {sorted(_BLOCKS)}; got {depth!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be an integer >= 1; got {width!r}.")
    input_shape = _check_input_shape(input_shape)
    if small_input is None:
        small_input = min(input_shape[:2]) < 64
    name = name or f"resnet{depth}"
    kind, blocks = _BLOCKS[depth]
    if not small_input and width == 64:
        import keras_hub

        backbone = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=blocks,
            stackwise_num_strides=[1, 2, 2, 2],
            block_type="basic_block" if kind == "basic" else "bottleneck_block",
            image_shape=input_shape,
        )
        inputs = keras.Input(input_shape, name="images")
        outputs = layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
        return keras.Model(inputs, outputs, name=name)
    inputs = keras.Input(input_shape, name="images")
    if small_input:
        x = _conv_bn_relu(inputs, width, 3, 1, "stem")
    else:
        x = _conv_bn_relu(inputs, width, 7, 2, "stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, count in enumerate(blocks):
        for block in range(count):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _residual_block(x, width * 2**stage, strides, kind, f"stage{stage + 1}_block{block + 1}")
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name)


def convnet(input_shape=(28, 28, 1), widths=(32, 64, 128), convs_per_stage=1, name="convnet"):
    """A small VGG-style CNN for CPU-sized experiments: per stage, `convs_per_stage` x (3x3 conv, BN,
    ReLU) then 2x2 max-pool (none after the last stage), then global average pooling.

    Args:
        input_shape: (height, width, channels).
        widths: filters per stage.
        convs_per_stage: convolutions in each stage.
        name: model name.

    Example:
    >>> import kssl
    >>> kssl.backbones.convnet((28, 28, 1), widths=(8, 16)).output_shape
    (None, 16)
    """
    input_shape = _check_input_shape(input_shape)
    widths = tuple(widths)
    if not widths or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"`widths` must be a non-empty list of positive integers; got {widths!r}.")
    if not isinstance(convs_per_stage, int) or convs_per_stage < 1:
        raise ValueError(f"`convs_per_stage` must be an integer >= 1; got {convs_per_stage!r}.")
    inputs = keras.Input(input_shape, name="images")
    x = inputs
    for stage, filters in enumerate(widths):
        for conv in range(convs_per_stage):
            x = _conv_bn_relu(x, filters, 3, 1, f"stage{stage + 1}_{conv + 1}")
        if stage < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=name)


def get(name, input_shape, **kwargs):
    """Builds a backbone by name: "convnet", "resnet18", "resnet34" or "resnet50"."""
    check_choice("backbone", name, ["convnet"] + [f"resnet{depth}" for depth in sorted(_BLOCKS)])
    if name == "convnet":
        return convnet(input_shape, **kwargs)
    return resnet(int(name[6:]), input_shape, **kwargs)
