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
from kssl.checks import check_non_negative
from kssl.core import TwoViewEmbedding


@keras.saving.register_keras_serializable(package="kssl")
class BarlowTwins(TwoViewEmbedding):
    """Barlow Twins: redundancy reduction between the embeddings of two views, no negatives. The head
    (`kssl.core.TwoViewEmbedding`) is the paper's "projector" (`model.head`, named "projector").

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

    head_name = "projector"

    def __init__(self, encoder, projection_dim=8192, hidden_dim=None, head_layers=3, lambda_=5e-3, augment=None,
                 gather_distributed=True, **kwargs):
        super().__init__(encoder, projection_dim=projection_dim, hidden_dim=hidden_dim, head_layers=head_layers,
                         augment=augment, gather_distributed=gather_distributed, **kwargs)
        self.lambda_ = check_non_negative("lambda_", lambda_)

    def ssl_loss(self, outputs, y=None):
        return losses.barlow_twins(outputs["z_1"], outputs["z_2"], self.lambda_, self.gather_distributed)

    def get_config(self):
        return {**super().get_config(), "lambda_": self.lambda_}
