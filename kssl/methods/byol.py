"""BYOL: bootstrap your own latent (Grill et al., 2020).

    for a minibatch x, at step k of K:
        v1, v2 = t(x), t'(x)                            two views
        p_i = q(g(f(v_i)))                              online: encoder, projector, predictor (gradient)
        z'_i = g'(f'(v_i)), no gradient                 target: encoder and projector (momentum copies)
        loss = sum over (i, j) in {(1, 2), (2, 1)} of  2 - 2 cos(p_i, z'_j)
        optimizer step on f, g, q
        tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2
        theta' <- tau theta' + (1 - tau) theta          momentum update of f', g'
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_positive_int, check_probability
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead
from kssl.layers.momentum import CosineMomentumSchedule, momentum_copy, momentum_pairs, momentum_update


@keras.saving.register_keras_serializable(package="kssl")
class BYOL(CosineMomentumSchedule, ImageModel):
    """BYOL: the online network predicts the target network's projection of the other view; the target is a
    momentum copy of the online encoder and projector and gets no gradient. No negatives.

    The momentum tau rises from `tau_base` to 1 on BYOL's cosine schedule over K = `total_steps` steps
    (`kssl.layers.momentum.CosineMomentumSchedule`: with `total_steps=None`, each `fit` call sets K to its
    epochs x steps per epoch; a resumed run continues the schedule exactly).

    Projector and predictor are MLPs Dense -> BN -> ReLU -> Dense (4096 hidden, 256 out in the paper; smaller
    defaults here); their batch norm is synchronised across replicas, so N replicas compute what one
    device computes on the global batch. The loss is the paper's symmetric sum, in [0, 8]:
    4 + 2 (D(p1, z'2) + D(p2, z'1)) with D = `kssl.losses.negative_cosine`.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        projection_dim: size of the projections z and predictions p (256 in the paper).
        hidden_dim: hidden width of the projector (4096 in the paper).
        predictor_hidden_dim: hidden width of the predictor (default: `hidden_dim`).
        tau_base: the momentum at step 0, in [0, 1] (0.996 in the paper; 0.99 for short runs).
        total_steps: K, the steps of the whole run; None: each `fit` call sets it.
        augment: one view's augmentation (e.g. `kssl.augment.simclr_views(...)`), applied twice, or a
            list of two layers.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.BYOL(encoder, projection_dim=8, hidden_dim=16, tau_base=0.99)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=8, epochs=2, verbose=0)
    >>> int(model.schedule_steps.numpy()), int(model.optimizer.iterations.numpy())  # K = 2 epochs x 4 steps
    (8, 8)
    >>> 0.0 <= history.history["loss"][-1] <= 8.0
    True
    """

    min_batch_size = 2

    def __init__(self, encoder, projection_dim=256, hidden_dim=1024, predictor_hidden_dim=None, tau_base=0.996,
                 total_steps=None, augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.predictor_hidden_dim = None if predictor_hidden_dim is None else check_positive_int(
            "predictor_hidden_dim", predictor_hidden_dim)
        self.tau_base = check_probability("tau_base", tau_base)

        self.projector = ProjectionHead(hidden_dim, projection_dim, name="projector")
        self.projector.build((None, self.feature_dim))
        self.predictor = ProjectionHead(predictor_hidden_dim or hidden_dim, projection_dim, name="predictor")
        self.predictor.build((None, projection_dim))
        self.target_encoder = momentum_copy(encoder)
        self.target_projector = momentum_copy(self.projector, input_shape=(None, self.feature_dim))
        self.init_momentum_schedule(tau_base, total_steps)
        self.built = True

    def forward(self, x, training=False):
        views = self.views(x, 2)  # each side one pass: batch norm sees all 2N views
        p_1, p_2 = encode_views(views, self.encoder, self.projector, self.predictor, training=training)
        z_1, z_2 = encode_views(views, self.target_encoder, self.target_projector, training=training)
        return {"p_1": p_1, "p_2": p_2, "z_1": ops.stop_gradient(z_1), "z_2": ops.stop_gradient(z_2)}

    def ssl_loss(self, outputs, y=None):
        # (2 - 2 cos(p1, z'2)) + (2 - 2 cos(p2, z'1)), with 2 - 2 cos = 2 + 2 D.
        return 4.0 + 2.0 * (losses.negative_cosine(outputs["p_1"], outputs["z_2"])
                            + losses.negative_cosine(outputs["p_2"], outputs["z_1"]))

    def after_step(self, x, y, outputs):
        momentum_update(self._momentum_pairs(), self.scheduled_momentum())  # theta' <- tau theta' + (1 - tau) theta

    def _momentum_pairs(self):
        return (momentum_pairs(self.encoder, self.target_encoder)
                + momentum_pairs(self.projector, self.target_projector))

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "predictor_hidden_dim": self.predictor_hidden_dim,
            "tau_base": self.tau_base,
            "total_steps": self.total_steps,
        }
