"""NNCLR: nearest-neighbour contrastive learning (Dwibedi, Aytar, Tompson, Sermanet & Zisserman, 2021).

    for a minibatch x:
        x_1, x_2 = aug(x), aug(x)                   two views
        z_v = g(f(x_v)),  p_v = h(z_v)              projection, prediction
        nn_v = NN(z_v, Q), no gradient              nearest neighbour in the support set Q (cosine)
        loss = L(nn_1, p_2) / 2 + L(nn_2, p_1) / 2  InfoNCE, in-batch negatives p_k (global batch)
        SGD update of f, g, h
        enqueue(z_1 of the global batch) into Q; dequeue the oldest
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_positive, check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead
from kssl.layers.memory import Queue
from kssl.training import distribute


@keras.saving.register_keras_serializable(package="kssl")
class NNCLR(ImageModel):
    """NNCLR: the positive of a view is the nearest neighbour of its projection in a support set of past
    projections, contrasted with the prediction for the other view.

    The support set (`model.support_set`, a `kssl.layers.memory.Queue` of `queue_size` x `projection_dim`
    L2-normalised projections, oldest overwritten first) holds non-trainable weights, so checkpoints and
    `.keras` files carry it. After each optimizer step (`after_step`) the first view's projections of
    EVERY replica are enqueued (gathered: the global batch), so all replicas hold the same support set;
    `queue_size` must therefore be a multiple of the global batch. Only rows already written are
    neighbours: at the very first step a view's positive is its own projection (NN(z) = z).

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        projection_dim: size of z and p (256 in the paper).
        hidden_dim: hidden width of the projector (paper: 2048; default: the encoder's feature size).
        projector_layers: Dense layers in the projector (3 in the paper), with batch norm.
        predictor_hidden_dim: hidden width of the 2-layer predictor (paper: 4096; default: `hidden_dim`'s).
        queue_size: size of the support set (98304 in the paper); a multiple of the global batch.
        temperature: t > 0 (0.1 in the paper).
        augment: one view's augmentation, applied twice (`kssl.augment.simclr_views(...)`), or a list of two.
        gather_distributed: negatives from every replica's predictions, and the support set fed with every
            replica's projections (False: both local; for tests, never what you want).
        seed: seed of the initial support set (random unit vectors, never used as neighbours).

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.NNCLR(encoder, projection_dim=8, queue_size=32)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1))
    >>> history = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=16, verbose=0)
    >>> int(model.support_set.pointer.numpy()), int(model.support_set.filled.numpy())   # 2 batches of 16
    (0, 32)
    """

    min_batch_size = 2

    def __init__(self, encoder, projection_dim=256, hidden_dim=None, projector_layers=3, predictor_hidden_dim=None,
                 queue_size=8192, temperature=0.1, augment=None, gather_distributed=True, seed=0, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.projector_layers = check_positive_int("projector_layers", projector_layers)
        self.queue_size = check_positive_int("queue_size", queue_size)
        self.temperature = check_positive("temperature", temperature)
        if hidden_dim is not None:
            check_positive_int("hidden_dim", hidden_dim)
        if predictor_hidden_dim is not None:
            check_positive_int("predictor_hidden_dim", predictor_hidden_dim)
        self.hidden_dim, self.predictor_hidden_dim = hidden_dim, predictor_hidden_dim
        self.gather_distributed, self.seed = bool(gather_distributed), seed

        hidden = hidden_dim or self.feature_dim
        self.projector = ProjectionHead(hidden, projection_dim, num_layers=projector_layers, name="projector")
        self.projector.build((None, self.feature_dim))
        self.predictor = ProjectionHead(predictor_hidden_dim or hidden, projection_dim, num_layers=2, name="predictor")
        self.predictor.build((None, projection_dim))
        self.support_set = Queue(queue_size, projection_dim, initializer=keras.initializers.RandomNormal(seed=seed),
                                 normalize=True, name="support_set")
        self.built = True

    def forward(self, x, training=False):
        # One encoder pass over both views (batch norm sees all 2N images, as in SimCLR).
        (z_1, z_2), (p_1, p_2) = encode_views(self.views(x, 2), self.encoder, self.projector, self.predictor,
                                              training=training, all_stages=True)[1:]
        support, filled = self.support_set.values, self.support_set.filled
        return {"z_1": ops.stop_gradient(ops.normalize(z_1, axis=-1)), "p_1": p_1, "p_2": p_2,
                "nn_1": losses.nearest_neighbour(z_1, support, filled),
                "nn_2": losses.nearest_neighbour(z_2, support, filled)}

    def ssl_loss(self, outputs, y=None):
        return losses.nnclr(outputs["nn_1"], outputs["nn_2"], outputs["p_1"], outputs["p_2"], self.temperature,
                            self.gather_distributed)

    def after_step(self, x, y, outputs):
        z_1 = outputs["z_1"]
        self.support_set.enqueue(distribute.all_gather(z_1) if self.gather_distributed else z_1)

    def get_config(self):
        return {
            **super().get_config(),
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "projector_layers": self.projector_layers,
            "predictor_hidden_dim": self.predictor_hidden_dim,
            "queue_size": self.queue_size,
            "temperature": self.temperature,
            "gather_distributed": self.gather_distributed,
            "seed": self.seed,
        }
