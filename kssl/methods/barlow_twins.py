"""Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, 2021).

    for a minibatch {x_k}:
        two views    y_A = t_A(x),  y_B = t_B(x)
        encode       h = f(y)                   (the encoder; what transfers)
        project      z = g(h)                   (MLP with batch norm, the "projector"; dropped at transfer)
        standardise  each dimension of z_A and z_B over the global batch
        loss         sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2,   C = z~_A^T z~_B / N
"""

import keras

from kssl import losses
from kssl.checks import check_non_negative, check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead


@keras.saving.register_keras_serializable(package="kssl")
class BarlowTwins(ImageModel):
    """Barlow Twins: redundancy reduction between the embeddings of two views, no negatives.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`, e.g. `kssl.backbones.resnet(18, ...)`.
        projection_dim: size of z (8192 in the paper).
        hidden_dim: width of the projector's hidden layers (default: `projection_dim`, as in the paper).
        head_layers: Dense layers in the projector (3 in the paper: two Dense -> BN -> ReLU, then Dense).
        lambda_: weight >= 0 of the off-diagonal (redundancy) term; 5e-3 is the paper's for d = 8192,
            a smaller projector wants a larger one (the off-diagonal sum has d^2 - d terms).
        augment: one view's augmentation (`kssl.augment.simclr_views(...)`), applied twice; or a list
            of two layers; None gives identical views (for tests).
        gather_distributed: standardise and correlate over the global batch (every replica's
            embeddings), as one device would; False: each replica's slice alone.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.BarlowTwins(encoder, projection_dim=16, lambda_=0.05,
    ...     augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast"))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    min_batch_size = 2  # a standard deviation over the batch

    def __init__(
        self,
        encoder,
        projection_dim=8192,
        hidden_dim=None,
        head_layers=3,
        lambda_=5e-3,
        augment=None,
        gather_distributed=True,
        **kwargs,
    ):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim = None if hidden_dim is None else check_positive_int("hidden_dim", hidden_dim)
        self.head_layers = check_positive_int("head_layers", head_layers)
        self.lambda_, self.gather_distributed = check_non_negative("lambda_", lambda_), bool(gather_distributed)
        self.projector = ProjectionHead(self.hidden_dim or projection_dim, projection_dim, num_layers=head_layers,
                                        name="projector")
        self.projector.build((None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        # One pass over both views: the projector's batch norm sees all 2N images.
        z_a, z_b = encode_views(self.views(x, 2), self.encoder, self.projector, training=training)
        return {"z_1": z_a, "z_2": z_b}

    def ssl_loss(self, outputs, y=None):
        return losses.barlow_twins(outputs["z_1"], outputs["z_2"], self.lambda_, self.gather_distributed)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "lambda_": self.lambda_,
            "gather_distributed": self.gather_distributed,
        }
