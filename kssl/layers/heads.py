"""Projection and prediction heads: thin named layers, dropped when the encoder transfers."""

import keras

from kssl.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kssl")
class ProjectionHead(keras.layers.Layer):
    """MLP projection head g(h) of SimCLR (Chen et al., 2020): (Dense -> BN -> ReLU) x (L-1) -> Dense.

    Batch norm is synchronised across replicas (a no-op on one device), so N replicas compute what
    one device computes on the global batch, as SimCLR's global BN does.

    Args:
        hidden_dim: width of the hidden layers.
        output_dim: size of the projection z.
        num_layers: number of Dense layers (>= 1; 2 in SimCLR v1, 3 in v2).
        batch_norm: batch norm after each hidden Dense.

    Example:
    >>> import numpy as np, kssl
    >>> head = kssl.heads.ProjectionHead(hidden_dim=32, output_dim=8)
    >>> tuple(head(np.zeros((4, 16), "float32")).shape)
    (4, 8)
    """

    def __init__(self, hidden_dim=2048, output_dim=128, num_layers=2, batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_layers, self.batch_norm = check_positive_int("num_layers", num_layers), bool(batch_norm)
        self.blocks = []
        for _ in range(num_layers - 1):
            self.blocks.append(keras.layers.Dense(hidden_dim, use_bias=not batch_norm))
            if batch_norm:
                self.blocks.append(keras.layers.BatchNormalization(synchronized=True))
            self.blocks.append(keras.layers.ReLU())
        self.blocks.append(keras.layers.Dense(output_dim))

    def build(self, input_shape):
        for block in self.blocks:
            block.build(input_shape)
            input_shape = block.compute_output_shape(input_shape)
        self.built = True

    def call(self, x, training=False):
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "output_dim": self.output_dim,
            "num_layers": self.num_layers,
            "batch_norm": self.batch_norm,
        }


def feature_map_model(encoder):
    """The spatial part of `encoder`: a `keras.Model` sharing its layers, from its input to the input of
    its last global pooling layer, i.e. `(batch, h, w, channels)` feature maps. Reconstruction methods
    decode these; training them trains `encoder` itself.

    Example:
    >>> import kssl
    >>> kssl.heads.feature_map_model(kssl.backbones.convnet((28, 28, 1), widths=(8, 16))).output_shape
    (None, 14, 14, 16)
    """
    pools = [
        layer for layer in encoder.layers
        if isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D))
    ]
    if not pools:
        raise ValueError(
            f"`encoder` ({encoder.name}) must end in a global pooling layer (GlobalAveragePooling2D or "
            "GlobalMaxPooling2D) whose input is the spatial feature map to decode, as kssl.backbones' "
            "encoders do."
        )
    return keras.Model(encoder.inputs, pools[-1].input, name=f"{encoder.name}_feature_map")


@keras.saving.register_keras_serializable(package="kssl")
class ConvDecoder(keras.layers.Layer):
    """Decoder from `(batch, h, w, c)` feature maps to `(batch, height, width, channels)`: per factor of
    2 in size, a stride-2 3x3 Conv2DTranspose -> BN -> ReLU (widths halve each time by default), then a
    3x3 Conv2D to `channels` with `activation` (a resize closes any gap left by a size that is not the
    feature map's times a power of 2).

    Args:
        output_shape: (height, width, channels) of the prediction.
        widths: filters of the upsampling stages (default: the input channels halved at each stage).
        activation: of the last layer ("sigmoid" for pixels in [0, 1], None for logits or ab values).

    Example:
    >>> import numpy as np, kssl
    >>> decoder = kssl.heads.ConvDecoder((28, 28, 1), activation="sigmoid")
    >>> tuple(decoder(np.zeros((2, 7, 7, 32), "float32")).shape)
    (2, 28, 28, 1)
    """

    def __init__(self, output_shape, widths=None, activation="sigmoid", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 3:
            raise ValueError(f"`output_shape` must be (height, width, channels) of positive ints; got {output_shape!r}.")
        self.target_shape = tuple(check_positive_int("output_shape", d) for d in output_shape)
        self.widths = None if widths is None else tuple(check_positive_int("widths", w) for w in widths)
        self.activation = activation

    def build(self, input_shape):
        h, w, c = input_shape[1], input_shape[2], input_shape[3]
        height, width, channels = self.target_shape
        stages = 0
        while h * 2 ** (stages + 1) <= height and w * 2 ** (stages + 1) <= width:
            stages += 1
        widths = self.widths or tuple(max(8, c // 2 ** (i + 1)) for i in range(stages))
        if len(widths) != stages:
            raise ValueError(
                f"`widths` must have one entry per upsampling stage ({stages} from {h}x{w} to {height}x{width}); "
                f"got {self.widths!r}."
            )
        self.blocks = []
        for width_i in widths:
            self.blocks += [
                keras.layers.Conv2DTranspose(width_i, 3, strides=2, padding="same", use_bias=False),
                keras.layers.BatchNormalization(synchronized=True),
                keras.layers.ReLU(),
            ]
        if h * 2**stages != height or w * 2**stages != width:
            self.blocks.append(keras.layers.Resizing(height, width, interpolation="bilinear"))
        self.blocks.append(keras.layers.Conv2D(channels, 3, padding="same", activation=self.activation))
        shape = tuple(input_shape)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.built = True

    def call(self, x, training=False):
        for block in self.blocks:
            x = block(x, training=training) if isinstance(block, keras.layers.BatchNormalization) else block(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.target_shape,
            "widths": self.widths,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="kssl")
class DINOHead(keras.layers.Layer):
    """DINO's projection head (Caron et al., 2021): an MLP (Dense -> GELU) x (L - 1) -> Dense to a
    bottleneck, L2-normalised, then a weight-normalised linear layer without bias to K outputs, its weight
    norm fixed to 1 (the paper's `norm_last_layer`): each output's weight vector is used divided by its norm.

    `call(x, freeze_last_layer=...)`: while it is true (a Python bool or a tensor, e.g. "in the first
    epoch"), no gradient reaches the last layer, as the paper's `cancel_gradients_last_layer`. Only the
    direction of each weight vector counts, so weight decay (a uniform shrink) does not move a frozen layer.

    Args:
        hidden_dim: width of the hidden layers (2048 in the paper).
        bottleneck_dim: size of the normalised bottleneck (256).
        output_dim: K, the number of outputs ("prototypes"; 65536).
        num_layers: Dense layers before the last one (3).
        batch_norm: batch norm after each hidden Dense (off in the paper's ViT setting; synchronised).

    Example:
    >>> import numpy as np, kssl
    >>> head = kssl.heads.DINOHead(hidden_dim=32, bottleneck_dim=8, output_dim=100)
    >>> tuple(head(np.zeros((4, 16), "float32")).shape)
    (4, 100)
    """

    def __init__(self, hidden_dim=2048, bottleneck_dim=256, output_dim=65536, num_layers=3, batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.bottleneck_dim = check_positive_int("bottleneck_dim", bottleneck_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_layers, self.batch_norm = check_positive_int("num_layers", num_layers), bool(batch_norm)
        self.blocks = []
        for _ in range(num_layers - 1):
            self.blocks.append(keras.layers.Dense(hidden_dim))
            if batch_norm:
                self.blocks.append(keras.layers.BatchNormalization(synchronized=True))
            self.blocks.append(keras.layers.Activation("gelu"))
        self.blocks.append(keras.layers.Dense(bottleneck_dim))

    def build(self, input_shape):
        for block in self.blocks:
            block.build(input_shape)
            input_shape = block.compute_output_shape(input_shape)
        self.last_layer = self.add_weight(shape=(self.bottleneck_dim, self.output_dim), name="last_layer",
                                          initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        self.built = True

    def last_layer_weights(self):
        """The last layer as used: each output's weight vector divided by its norm."""
        return keras.ops.normalize(self.last_layer, axis=0)

    def call(self, x, training=False, freeze_last_layer=False):
        for block in self.blocks:
            x = block(x, training=training)
        x = keras.ops.normalize(x, axis=-1)
        weights = keras.ops.cast(self.last_layer_weights(), x.dtype)
        if freeze_last_layer is not False:
            frozen = keras.ops.cast(freeze_last_layer, x.dtype)
            weights = frozen * keras.ops.stop_gradient(weights) + (1.0 - frozen) * weights
        return keras.ops.matmul(x, weights)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "bottleneck_dim": self.bottleneck_dim,
            "output_dim": self.output_dim,
            "num_layers": self.num_layers,
            "batch_norm": self.batch_norm,
        }
