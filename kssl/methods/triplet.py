"""Triplet network with online mining (Schroff et al., 2015, FaceNet; Hermans et al., 2017).

    for a minibatch x (with labels y, or two augmented views per image):
        z = g(f(views))                                 one shared encoder
        D = distances(z, z_global)                      squared / plain Euclidean, or cosine
        T = mine(D, ids)                                batch_all | batch_hard | semi_hard
        loss = mean over (a, p, n) in T of max(0, D_ap - D_an + margin)
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_choice, check_non_negative
from kssl.methods.metric import MetricLearningModel


@keras.saving.register_keras_serializable(package="kssl")
class Triplet(MetricLearningModel):
    """Triplet network trained with `kssl.losses.batch_triplet` and online mining.

    With pairs="views" each image gives two views (anchor and positive of each other) and every other
    image is a negative; with pairs="labels" each image is embedded once (after `augment`, if any) and
    same-class images are positives.

    Args (and those of `MetricLearningModel`: embedding_dim, hidden_dim, head_layers, pairs, normalize,
    augment, gather_distributed; with pairs="labels" fit on (images, labels) batches):
        margin: >= 0 (0.2 in FaceNet, with normalized embeddings and squared distances).
        mining: "batch_all", "batch_hard" or "semi_hard" (see `kssl.losses.mine_triplets`).
        distance: "squared_euclidean", "euclidean" or "cosine".

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.Triplet(encoder, embedding_dim=16, mining="semi_hard", pairs="labels")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x, y = np.random.rand(32, 28, 28, 1).astype("float32"), np.arange(32) % 4
    >>> history = model.fit(x, y, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, encoder, margin=0.2, mining="batch_hard", distance="squared_euclidean", **kwargs):
        super().__init__(encoder, **kwargs)
        check_non_negative("margin", margin)
        self.margin = float(margin)
        self.mining = check_choice("mining", mining, losses.MINING)
        self.distance = check_choice("distance", distance, losses.DISTANCES)

    def forward(self, x, training=False):
        count = 2 if self.pairs == "views" else 1
        return {"z": ops.concatenate(self.embed(self.views(x, count), training), axis=0)}

    def ssl_loss(self, outputs, y=None):
        z = outputs["z"]
        count = 2 if self.pairs == "views" else 1
        ids = self.ids(ops.shape(z)[0] // count, y)  # labels (pairs="labels") or global image indices
        return losses.batch_triplet(z, ops.tile(ids, (count,)), self.margin, self.mining, self.distance,
                                    gather_distributed=self.gather_distributed)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "mining": self.mining, "distance": self.distance}
