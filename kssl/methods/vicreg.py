"""VICReg (Bardes, Ponce & LeCun, 2022).

    for a minibatch {x_k}:
        two views   x' = t(x),  x'' = t'(x)
        encode      y = f(x')                  (the encoder; what transfers)
        expand      z = h(y)                   (MLP with batch norm, the "expander"; dropped at transfer)
        loss        lambda s(z', z'') + mu [v(z') + v(z'')] + nu [c(z') + c(z'')]
                    invariance s: MSE;  variance v: hinge on each dimension's std over the global batch;
                    covariance c: squared off-diagonal covariances of the global batch / d
"""

import keras

from kssl import losses
from kssl.checks import check_non_negative, check_positive
from kssl.core import TwoViewEmbedding


@keras.saving.register_keras_serializable(package="kssl")
class VICReg(TwoViewEmbedding):
    """VICReg: variance-invariance-covariance regularisation of two views' embeddings, no negatives. The
    head (`kssl.core.TwoViewEmbedding`) is the paper's "expander" (`model.head`, named "expander").

    Args:
        encoder: `keras.Model` from images to `(batch, features)`, e.g. `kssl.backbones.resnet(18, ...)`.
        projection_dim: size of z (8192 in the paper).
        hidden_dim: width of the expander's hidden layers (default: `projection_dim`, as in the paper).
        head_layers: Dense layers in the expander (3 in the paper: two Dense -> BN -> ReLU, then Dense).
        invariance_weight, variance_weight, covariance_weight: lambda, mu, nu >= 0 (25, 25, 1 in the paper).
        eps: > 0, inside the variance hinge's square root (1e-4).
        augment: one view's augmentation (`kssl.augment.simclr_views(...)`), applied twice; or a list
            of two layers; None gives identical views (for tests).
        gather_distributed: variances and covariances over the global batch (every replica's
            embeddings), as one device would; False: each replica's slice alone.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.VICReg(encoder, projection_dim=16,
    ...     augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast"))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    head_name = "expander"

    def __init__(self, encoder, projection_dim=8192, hidden_dim=None, head_layers=3, invariance_weight=25.0,
                 variance_weight=25.0, covariance_weight=1.0, eps=1e-4, augment=None, gather_distributed=True,
                 **kwargs):
        super().__init__(encoder, projection_dim=projection_dim, hidden_dim=hidden_dim, head_layers=head_layers,
                         augment=augment, gather_distributed=gather_distributed, **kwargs)
        self.invariance_weight = check_non_negative("invariance_weight", invariance_weight)
        self.variance_weight = check_non_negative("variance_weight", variance_weight)
        self.covariance_weight = check_non_negative("covariance_weight", covariance_weight)
        self.eps = check_positive("eps", eps)

    def ssl_loss(self, outputs, y=None):
        return losses.vicreg(outputs["z_1"], outputs["z_2"], self.invariance_weight, self.variance_weight,
                             self.covariance_weight, gather_distributed=self.gather_distributed, eps=self.eps)

    def get_config(self):
        return {**super().get_config(), "invariance_weight": self.invariance_weight,
                "variance_weight": self.variance_weight, "covariance_weight": self.covariance_weight, "eps": self.eps}
