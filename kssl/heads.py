"""Projection and prediction heads: thin named layers, dropped when the encoder transfers."""

import keras


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
        for arg, value in (("hidden_dim", hidden_dim), ("output_dim", output_dim), ("num_layers", num_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be an integer >= 1; got {value!r}.")
        self.hidden_dim, self.output_dim = hidden_dim, output_dim
        self.num_layers, self.batch_norm = num_layers, batch_norm
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
