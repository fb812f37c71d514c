"""SimCLR (Chen, Kornblith, Norouzi & Hinton, 2020).

    for a minibatch {x_k}:
        two views   x~_2k-1 = t(x_k),  x~_2k = t'(x_k)
        encode      h = f(x~)            (the encoder; what transfers)
        project     z = g(h)             (MLP head; dropped at transfer)
        loss        NT-Xent(z_2k-1, z_2k, tau) over the 2N x 2N similarities of the global batch
"""

import keras

from kssl import losses
from kssl.checks import check_positive, check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead


@keras.saving.register_keras_serializable(package="kssl")
class SimCLR(ImageModel):
    """SimCLR: contrastive learning of visual representations with the NT-Xent loss.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`, e.g. `kssl.backbones.resnet(18, ...)`.
        projection_dim: size of z.
        hidden_dim: hidden width of the projection head (default: the encoder's feature size).
        head_layers: Dense layers in the head (2 in SimCLR v1, 3 in v2).
        temperature: tau > 0 of NT-Xent.
        augment: one view's augmentation (`kssl.augment.simclr_views(...)`), applied twice; or a list
            of two layers; None gives identical views (for tests).
        gather_distributed: negatives from every replica (the paper's global batch).

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.SimCLR(encoder, projection_dim=16, temperature=0.5,
    ...     augment=kssl.augment.simclr_views(28, channels=1, grayscale_policy="brightness_contrast"))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 28, 28, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    min_batch_size = 2

    def __init__(
        self,
        encoder,
        projection_dim=128,
        hidden_dim=None,
        head_layers=2,
        temperature=0.5,
        augment=None,
        gather_distributed=True,
        **kwargs,
    ):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim, self.head_layers = hidden_dim, head_layers
        self.temperature, self.gather_distributed = check_positive("temperature", temperature), bool(gather_distributed)
        self.head = ProjectionHead(hidden_dim or self.feature_dim, projection_dim, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        # One encoder pass over both views (batch norm sees all 2N images, as in the paper).
        z_1, z_2 = encode_views(self.views(x, 2), self.encoder, self.head, training=training)
        return {"z_1": z_1, "z_2": z_2}

    def ssl_loss(self, outputs, y=None):
        return losses.nt_xent(outputs["z_1"], outputs["z_2"], self.temperature, self.gather_distributed)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "temperature": self.temperature,
            "gather_distributed": self.gather_distributed,
        }
