"""Encoders: functional `keras.Model`s from image to feature vector.

Built only from Keras' own layers, so a saved encoder deserialises in safe mode with no custom code.
ResNets at ImageNet sizes are keras-hub's `ResNetBackbone`; keras-hub's ResNet stem (stride-2 conv
then max-pool) shrinks a 28-32 px image 4x before the first block, so small images get the CIFAR
stem of the SimCLR paper (3x3 conv, stride 1, no pool), written here.

Every batch norm of every backbone here is synchronised (`synchronize_batch_norm`): under a
distribution strategy its statistics are those of the global batch, as SimCLR's global BN, so N
replicas train the model one device trains on the same global batch.
"""

import keras
from keras import layers

from kssl.checks import check_choice, check_positive_int

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


def synchronize_batch_norm(model):
    """`model` with every `BatchNormalization` layer synchronised across replicas, weights kept.

    Without it each replica normalises with its own slice of the batch (N replicas of batch B/N do not
    train what one device does on B, and contrastive methods can cheat through the statistics, which
    is why SimCLR uses global BN). Functional and Sequential models are rebuilt (nested ones too, e.g.
    keras-hub's `ResNetBackbone` inside an encoder) with `keras.models.clone_model`, each batch norm
    re-created from its config with `synchronized=True`, then the weights copied over; a model whose
    batch norms are all synchronised comes back as is. A nested keras-hub backbone comes back as a
    plain functional model of the same Keras layers (so it also loads without keras-hub).

    Args:
        model: a functional or Sequential `keras.Model`.

    Returns:
        A `keras.Model` computing what `model` computes, with synchronised batch norm.

    Example:
    >>> import keras, kssl
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    >>> [layer.synchronized for layer in kssl.backbones.synchronize_batch_norm(model).layers]
    [True]
    """
    if all(layer.synchronized for layer in batch_norm_layers(model)):
        return model

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    synced = keras.models.clone_model(model, clone_function=clone, recursive=True)
    synced.set_weights(model.get_weights())
    return synced


def batch_norm_layers(model):
    """Every `BatchNormalization` layer of `model`, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batch_norm_layers(layer))
    return found


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
        A functional `keras.Model` from images in [0, 1] to `(batch, width * 8 * expansion)` features,
        every batch norm synchronised. With `width=64, small_input=False` it is keras-hub's
        `ResNetBackbone` (its layers, batch norm made synchronised) plus pooling.

    Example:
    >>> import kssl
    >>> kssl.backbones.resnet(18, input_shape=(32, 32, 3), width=8).output_shape
    (None, 64)
    """
    if depth not in _BLOCKS:
        raise ValueError(f"`depth` must be one of {sorted(_BLOCKS)}; got {depth!r}.")
    check_positive_int("width", width)
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
        # keras-hub builds BatchNormalization(synchronized=False): rebuild them synchronised.
        return synchronize_batch_norm(keras.Model(inputs, outputs, name=name))
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
    return synchronize_batch_norm(keras.Model(inputs, outputs, name=name))  # a no-op check: _bn syncs


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
    check_positive_int("convs_per_stage", convs_per_stage)
    inputs = keras.Input(input_shape, name="images")
    x = inputs
    for stage, filters in enumerate(widths):
        for conv in range(convs_per_stage):
            x = _conv_bn_relu(x, filters, 3, 1, f"stage{stage + 1}_{conv + 1}")
        if stage < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return synchronize_batch_norm(keras.Model(inputs, outputs, name=name))  # a no-op check: _bn syncs


def get(name, input_shape, **kwargs):
    """Builds a backbone by name: "convnet", "resnet18", "resnet34", "resnet50" or "vit" (`kssl.backbones.vit`)."""
    check_choice("backbone", name, ["convnet", "vit"] + [f"resnet{depth}" for depth in sorted(_BLOCKS)])
    if name == "convnet":
        return convnet(input_shape, **kwargs)
    if name == "vit":
        from kssl.backbones.vit import vit

        return vit(input_shape, **kwargs)
    return resnet(int(name[6:]), input_shape, **kwargs)
