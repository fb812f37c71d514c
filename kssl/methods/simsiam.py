"""SimSiam: simple Siamese representation learning (Chen & He, 2021), Algorithm 1:

    for x in loader:
        x1, x2 = aug(x), aug(x)                 two views
        z1, z2 = f(x1), f(x2)                   encoder + projector
        p1, p2 = h(z1), h(z2)                   predictor
        L = D(p1, z2) / 2 + D(p2, z1) / 2       D(p, z) = -cos(p, stopgrad(z))
        SGD update of f, h                      no momentum encoder, no negatives
"""

import keras

from kssl import losses
from kssl.checks import check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead


@keras.saving.register_keras_serializable(package="kssl")
class SimSiam(ImageModel):
    """SimSiam: each view's prediction matches the other view's projection under a stop-gradient, the one
    ingredient that prevents collapse without negatives or a momentum encoder.

    Projector: (Dense -> BN -> ReLU) x (L-1) -> Dense -> BN (the paper's BN on the output, L = 3 on ImageNet,
    2 on CIFAR); predictor: Dense -> BN -> ReLU -> Dense, a bottleneck (2048 -> 512 -> 2048 in the paper).
    All batch norm is synchronised across replicas. The loss lies in [-1, 1].

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        projection_dim: size of z and p (2048 in the paper).
        hidden_dim: hidden width of the projector (default: `projection_dim`).
        predictor_hidden_dim: the predictor's bottleneck (default: `projection_dim // 4`, at least 1).
        projector_layers: Dense layers of the projector (>= 1).
        augment: one view's augmentation (e.g. `kssl.augment.simclr_views(...)`), applied twice, or a
            list of two layers.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.SimSiam(encoder, projection_dim=16)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=8, verbose=0)
    >>> model.predictor.hidden_dim, -1.0 <= history.history["loss"][-1] <= 1.0
    (4, True)
    """

    min_batch_size = 2

    def __init__(self, encoder, projection_dim=512, hidden_dim=None, predictor_hidden_dim=None, projector_layers=2,
                 augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim = None if hidden_dim is None else check_positive_int("hidden_dim", hidden_dim)
        self.predictor_hidden_dim = None if predictor_hidden_dim is None else check_positive_int(
            "predictor_hidden_dim", predictor_hidden_dim)
        self.projector_layers = check_positive_int("projector_layers", projector_layers)

        self.projector = ProjectionHead(hidden_dim or projection_dim, projection_dim, num_layers=projector_layers,
                                        name="projector")
        self.projector_bn = keras.layers.BatchNormalization(synchronized=True, name="projector_bn")
        self.predictor = ProjectionHead(predictor_hidden_dim or max(1, projection_dim // 4), projection_dim,
                                        name="predictor")
        self.projector.build((None, self.feature_dim))
        self.projector_bn.build((None, projection_dim))
        self.predictor.build((None, projection_dim))
        self.built = True

    def forward(self, x, training=False):
        (z_1, z_2), (p_1, p_2) = encode_views(  # one pass: batch norm sees all 2N views
            self.views(x, 2), self.encoder, self.projector, self.projector_bn, self.predictor, training=training,
            all_stages=True)[-2:]
        return {"p_1": p_1, "p_2": p_2, "z_1": z_1, "z_2": z_2}

    def ssl_loss(self, outputs, y=None):
        return (losses.negative_cosine(outputs["p_1"], outputs["z_2"]) / 2.0
                + losses.negative_cosine(outputs["p_2"], outputs["z_1"]) / 2.0)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "predictor_hidden_dim": self.predictor_hidden_dim,
            "projector_layers": self.projector_layers,
        }
