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
from kssl.checks import check_non_negative, check_positive, check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead


@keras.saving.register_keras_serializable(package="kssl")
class VICReg(ImageModel):
    """VICReg: variance-invariance-covariance regularisation of two views' embeddings, no negatives.

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

    min_batch_size = 2  # a variance over the batch

    def __init__(
        self,
        encoder,
        projection_dim=8192,
        hidden_dim=None,
        head_layers=3,
        invariance_weight=25.0,
        variance_weight=25.0,
        covariance_weight=1.0,
        eps=1e-4,
        augment=None,
        gather_distributed=True,
        **kwargs,
    ):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim = None if hidden_dim is None else check_positive_int("hidden_dim", hidden_dim)
        self.head_layers = check_positive_int("head_layers", head_layers)
        self.invariance_weight = check_non_negative("invariance_weight", invariance_weight)
        self.variance_weight = check_non_negative("variance_weight", variance_weight)
        self.covariance_weight = check_non_negative("covariance_weight", covariance_weight)
        self.eps, self.gather_distributed = check_positive("eps", eps), bool(gather_distributed)
        self.expander = ProjectionHead(self.hidden_dim or projection_dim, projection_dim, num_layers=head_layers,
                                       name="expander")
        self.expander.build((None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        # One pass over both views: the expander's batch norm sees all 2N images.
        z_1, z_2 = encode_views(self.views(x, 2), self.encoder, self.expander, training=training)
        return {"z_1": z_1, "z_2": z_2}

    def ssl_loss(self, outputs, y=None):
        return losses.vicreg(outputs["z_1"], outputs["z_2"], self.invariance_weight, self.variance_weight,
                             self.covariance_weight, gather_distributed=self.gather_distributed, eps=self.eps)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "invariance_weight": self.invariance_weight,
            "variance_weight": self.variance_weight,
            "covariance_weight": self.covariance_weight,
            "eps": self.eps,
            "gather_distributed": self.gather_distributed,
        }
