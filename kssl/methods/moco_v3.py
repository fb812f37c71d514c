"""MoCo v3 (Chen, Xie & He, 2021, "An Empirical Study of Training Self-Supervised Vision Transformers").

    for a minibatch x:
        x_1, x_2 = aug(x), aug(x)                   two views
        q_v = h(g(f(x_v)))                          encoder f, projector g, predictor h (gradient)
        k_v = g_k(f_k(x_v)), no gradient            momentum encoder and projector
        loss = ctr(q_1, k_2) + ctr(q_2, k_1)        ctr(q, k) = CE(q k^T / t) * 2t, keys of the global batch
        SGD update of f, g, h
        m = 1 - (1 - m_0) (cos(pi k / K) + 1) / 2    cosine schedule from m_0 to 1 over K steps
        theta_k <- m theta_k + (1 - m) theta_q      momentum update (no queue)
"""

import keras

from kssl import losses
from kssl.checks import check_choice, check_positive, check_positive_int, check_probability
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.layers.momentum import CosineMomentumSchedule, momentum_copy, momentum_pairs, momentum_update


@keras.saving.register_keras_serializable(package="kssl")
class MoCoV3(CosineMomentumSchedule, ImageModel):
    """MoCo v3: symmetric InfoNCE between a query side with a predictor and a momentum key side, with the
    other images of the global batch as negatives (no queue).

    Its own class, not `MoCo(version=3)`: v3 drops the queue, adds a predictor, encodes both views on both
    sides and symmetrises the loss, so `MoCo`'s forward, loss, state and config would each branch on the
    version. It shares MoCo's momentum pieces (`kssl.layers.momentum`). The key encoder and key projector
    are momentum copies that get no gradient; after each optimizer step (`after_step`) they take the
    update from the UPDATED query side. Keys are gathered from every replica inside the loss.

    The momentum rises from `momentum` to 1 on a cosine schedule over training, as in the paper
    (`kssl.layers.momentum.CosineMomentumSchedule`; K = `total_steps`, or each `fit` call's epochs x steps);
    `momentum_schedule="constant"` keeps it fixed.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        projection_dim: size of q and k (256 in the paper).
        hidden_dim: hidden width of projector and predictor (paper: 4096; default: the encoder's feature size).
        projector_layers: Dense layers in the projector (3 in the paper for ResNets), with batch norm.
        momentum: m_0 in [0, 1), the momentum at step 0 (paper: 0.99, rising to 1).
        momentum_schedule: "cosine" (the paper's) or "constant".
        total_steps: K for the cosine schedule; None: each `fit` call sets it.
        temperature: t > 0. Default 0.2, the paper's ResNet value (it uses 1.0 for ViT at batch 4096); kssl's
            encoders are convnets trained at small batches.
        augment: one view's augmentation, applied twice, or a list of two layers.
        gather_distributed: keys from every replica (False: local keys only; for tests).

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.MoCoV3(encoder, projection_dim=8, momentum=0.9)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=16, verbose=0)
    >>> len(model.key_encoder.trainable_weights), sorted(history.history)
    (0, ['loss'])
    """

    min_batch_size = 2

    def __init__(self, encoder, projection_dim=256, hidden_dim=None, projector_layers=3, momentum=0.99,
                 temperature=0.2, augment=None, gather_distributed=True, momentum_schedule="cosine",
                 total_steps=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.projector_layers = check_positive_int("projector_layers", projector_layers)
        self.momentum = check_probability("momentum", momentum, high_open=True)
        self.temperature = check_positive("temperature", temperature)
        self.momentum_schedule = check_choice("momentum_schedule", momentum_schedule, ("cosine", "constant"))
        self.init_momentum_schedule(self.momentum, total_steps)
        if hidden_dim is not None:
            check_positive_int("hidden_dim", hidden_dim)
        self.hidden_dim, self.gather_distributed = hidden_dim, bool(gather_distributed)

        hidden = hidden_dim or self.feature_dim
        self.projector = ProjectionHead(hidden, projection_dim, num_layers=projector_layers, name="projector")
        self.projector.build((None, self.feature_dim))
        self.predictor = ProjectionHead(hidden, projection_dim, num_layers=2, name="predictor")
        self.predictor.build((None, projection_dim))
        self.key_encoder = momentum_copy(encoder)
        self.key_projector = momentum_copy(self.projector, input_shape=(None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        outputs = {}
        for v, view in enumerate(self.views(x, 2), start=1):  # each view its own pass, as the paper's code
            outputs[f"q_{v}"] = self.predictor(self.projector(self.encoder(view, training=training),
                                                              training=training), training=training)
            key = self.key_projector(self.key_encoder(view, training=training), training=training)
            outputs[f"k_{v}"] = keras.ops.stop_gradient(key)
        return outputs

    def ssl_loss(self, outputs, y=None):
        return losses.moco_v3(outputs["q_1"], outputs["q_2"], outputs["k_1"], outputs["k_2"], self.temperature,
                              self.gather_distributed)

    def momentum_is_scheduled(self):
        return self.momentum_schedule == "cosine"

    def after_step(self, x, y, outputs):
        m = self.scheduled_momentum() if self.momentum_is_scheduled() else self.momentum
        momentum_update(self._momentum_pairs(), m)  # theta_k <- m theta_k + (1 - m) theta_q

    def _momentum_pairs(self):
        return momentum_pairs(self.encoder, self.key_encoder) + momentum_pairs(self.projector, self.key_projector)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "projector_layers": self.projector_layers,
            "momentum": self.momentum,
            "temperature": self.temperature,
            "gather_distributed": self.gather_distributed,
            "momentum_schedule": self.momentum_schedule,
            "total_steps": self.total_steps,
        }
