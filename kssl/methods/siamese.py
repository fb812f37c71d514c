"""Siamese network with the margin contrastive loss (Bromley et al., 1993; Hadsell, Chopra & LeCun, 2006).

    for a minibatch x (with labels y, or two augmented views):
        z1, z2 = g(f(view_1(x))), g(f(view_2(x)))        twin encoder: one set of weights
        every pair (i, j) of z1 x z2(global):   similar = same label (or same image)
        l_ij = s d_ij^2 + (1 - s) max(0, m - d_ij)^2    d = Euclidean distance
        loss = (mean over similar pairs + mean over dissimilar pairs) / 2
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_non_negative
from kssl.training import distribute
from kssl.methods.metric import MetricLearningModel


@keras.saving.register_keras_serializable(package="kssl")
class Siamese(MetricLearningModel):
    """Siamese network trained with the margin contrastive loss `kssl.losses.margin_contrastive`.

    Every pair of the batch counts (view 1 of image i against view 2 of image j, j over the global
    batch): n similar and n(G - 1) dissimilar pairs for "views". Similar and dissimilar pairs are
    averaged separately (over the global batch's pairs) and weighted equally, so the many dissimilar
    pairs do not drown the similar ones.

    Args (and those of `MetricLearningModel`: embedding_dim, hidden_dim, head_layers, pairs, normalize,
    augment, gather_distributed; with pairs="labels" fit on (images, labels) batches):
        margin: m >= 0; dissimilar pairs farther apart than m cost nothing (with normalized
            embeddings distances lie in [0, 2]).

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.Siamese(encoder, embedding_dim=16, margin=1.0, pairs="labels")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x, y = np.random.rand(32, 28, 28, 1).astype("float32"), np.arange(32) % 4
    >>> history = model.fit(x, y, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, encoder, margin=1.0, **kwargs):
        super().__init__(encoder, **kwargs)
        check_non_negative("margin", margin)
        self.margin = float(margin)

    def forward(self, x, training=False):
        z1, z2 = self.embed(self.views(x, 2), training)
        return {"z_1": z1, "z_2": z2}

    def ssl_loss(self, outputs, y=None):
        z1, z2 = outputs["z_1"], outputs["z_2"]
        n = ops.shape(z1)[0]
        ids = self.ids(n, y)  # labels (pairs="labels") or global image indices
        z2_all, ids_all = (distribute.all_gather(z2), distribute.all_gather(ids)) if self.gather_distributed else (z2, ids)
        g = ops.shape(z2_all)[0]
        similar = ops.cast(ops.equal(ids[:, None], ids_all[None, :]), losses._loss_dtype(z1))  # (n, G)
        counts = ops.stack([ops.sum(similar), ops.sum(1.0 - similar)])
        replicas = 1
        if self.gather_distributed:  # balance the global batch's pairs, not each replica's own
            counts, replicas = distribute.all_sum(counts), distribute.num_replicas()
        weight = similar / ops.maximum(counts[0], 1.0) + (1.0 - similar) / ops.maximum(counts[1], 1.0)
        groups = ops.maximum(ops.sum(ops.cast(counts > 0, similar.dtype)), 1.0)  # 2, or 1 if a kind is absent
        x1 = ops.reshape(ops.repeat(z1[:, None, :], g, axis=1), (-1, ops.shape(z1)[-1]))
        x2 = ops.reshape(ops.repeat(z2_all[None, :, :], n, axis=0), (-1, ops.shape(z1)[-1]))
        weighted_mean = losses.margin_contrastive(x1, x2, ops.reshape(similar, (-1,)), self.margin,
                                                  sample_weight=ops.reshape(weight, (-1,)))
        # = sum(weight * l) / sum(weight): back to this replica's share of the global mean.
        return weighted_mean * ops.sum(weight) * replicas / groups

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
