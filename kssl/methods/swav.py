"""SwAV: swapping assignments between views (Caron, Misra, Mairal, Goyal, Bojanowski & Joulin, 2020).

    prototypes C = {c_1..c_K}, learnable, L2-normalised at the start of every step
    for a minibatch x:
        multi-crop   2 large views x_1, x_2 and S small (low-resolution) views x_3..x_{2+S}
        encode       z_v = normalize(g(f(x_v)))          (f: the encoder, what transfers; g: MLP head)
        score        s_v = z_v C^T                        (cosine similarity to each prototype)
        codes        q_1, q_2 = Sinkhorn(s_1), Sinkhorn(s_2)   (large views only; no gradient;
                     equipartition over the global batch, plus a queue of past z when batches are small)
        loss         swapped prediction: every view predicts q_1 and q_2 of the other views,
                     -sum_k q_i log softmax(s_v / t),  v != i
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_positive, check_positive_int
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.layers.memory import Queue
from kssl.ops import clustering
from kssl.ops.pretext import encode_at_any_size, group_by_size
from kssl.training import distribute


@keras.saving.register_keras_serializable(package="kssl")
class SwAV(ImageModel):
    """SwAV: online clustering into K prototypes with Sinkhorn codes and swapped prediction.

    Views: `augment` is a list of view layers, the first two the large crops (whose codes are the
    targets) and the rest small crops, e.g. `kssl.augment.multi_crop_views(...)`; or one layer applied
    twice (2 large views, no multi-crop); or None (2 identical views, for tests). Views of one size
    go through the encoder together (batch norm sees them together, as in the paper's
    per-resolution forward passes); small crops use the encoder's layers at their own size
    (`kssl.pretext.encode_at_any_size`), so the encoder must be fully convolutional with global
    pooling (or built with `(None, None, channels)` inputs).

    Codes: Sinkhorn-Knopp (`kssl.clustering`) over the global batch: under a distribution strategy
    every replica's scores are gathered, so N replicas compute the codes one device would. With
    `queue_size` > 0, the z of the two large views of the last `queue_size` examples (global batch,
    the same on every replica; `model.queue`, a `kssl.layers.memory.Queue` written after each
    optimizer step) join the Sinkhorn problem once the queue is full (SwAV's remedy for batches
    smaller than the number of prototypes); codes are still only used for the current batch.

    Prototypes: L2-normalised at construction and after every optimizer step (`after_step`), so every
    step starts from unit prototypes, as the paper's normalisation before each step does.

    Not implemented: the paper freezes the prototypes for the first iterations (313 steps of
    ImageNet); at the standard 2-epoch budget that would be a third of the run.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        num_prototypes: K >= 2 (3000 in the paper for ImageNet).
        projection_dim: size of z and of each prototype.
        hidden_dim: hidden width of the head (default: the encoder's feature size).
        head_layers: Dense layers in the head (2 in the paper).
        temperature: t > 0 of the swapped prediction's softmax (0.1).
        epsilon: Sinkhorn's entropy weight > 0 (0.05).
        sinkhorn_iterations: Sinkhorn-Knopp iterations >= 1 (3).
        queue_size: past examples added to the Sinkhorn problem (0: no queue); a multiple of the
            global batch size.
        augment: see above.

    Returns from `model(x)`: {"scores": list of `(batch, K)` per view, "z": `(2, batch, projection_dim)`
    of the large views}.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> views = kssl.augment.multi_crop_views(28, 14, num_small=2, channels=1, large_scale=(0.3, 1.0),
    ...                                       small_scale=(0.1, 0.3), grayscale_policy="brightness_contrast")
    >>> model = kssl.methods.SwAV(encoder, num_prototypes=10, projection_dim=16, augment=views)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 28, 28, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> [tuple(s.shape) for s in model(np.zeros((4, 28, 28, 1), "float32"))["scores"]]
    [(4, 10), (4, 10), (4, 10), (4, 10)]
    """

    min_batch_size = 2
    any_view_size = True  # multi-crop: small views of another size than the encoder's input

    def __init__(self, encoder, num_prototypes=3000, projection_dim=128, hidden_dim=None, head_layers=2,
                 temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, queue_size=0, augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        if isinstance(self.augment, list) and len(self.augment) < 2:
            raise ValueError(f"`augment` must list at least the 2 large views; got {len(self.augment)} layer(s).")
        self.num_prototypes = check_positive_int("num_prototypes", num_prototypes, 2)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.queue_size = check_positive_int("queue_size", queue_size, 0)
        self.temperature = check_positive("temperature", temperature)
        clustering.check_sinkhorn(epsilon, sinkhorn_iterations)
        self.epsilon, self.sinkhorn_iterations = float(epsilon), sinkhorn_iterations
        self.hidden_dim, self.head_layers = hidden_dim, head_layers
        self.head = ProjectionHead(hidden_dim or self.feature_dim, projection_dim, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        # Assigned (normalised) in every replica's after_step: all replicas hold the same value, so
        # keeping the first replica's is exact.
        self.prototypes = self.add_weight(shape=(num_prototypes, projection_dim), name="prototypes",
                                          initializer="glorot_uniform", aggregation="only_first_replica")
        self.normalize_prototypes()
        if self.queue_size:  # items: the 2 large views' z of one example
            self.queue = Queue(queue_size, (2, projection_dim), name="queue")
        self.built = True

    @property
    def num_views(self):
        return len(self.augment) if isinstance(self.augment, list) else 2

    def normalize_prototypes(self):
        """c_k <- c_k / ||c_k||, without gradient."""
        self.prototypes.assign(ops.normalize(self.prototypes, axis=-1))

    def forward(self, x, training=False):
        views = self.views(x, self.num_views)
        z = []
        for group in group_by_size(views):  # one encoder pass per resolution
            features = encode_at_any_size(self.encoder, ops.concatenate(group, axis=0), training=training)
            projected = ops.normalize(self.head(features, training=training), axis=-1)
            z.extend(ops.split(projected, len(group), axis=0))
        prototypes = ops.cast(self.prototypes, z[0].dtype)
        scores = [ops.matmul(z_v, ops.transpose(prototypes)) for z_v in z]
        return {"scores": scores, "z": ops.stop_gradient(ops.stack(z[:2], axis=0))}

    def codes(self, scores):
        """Sinkhorn codes of the two large views' `scores` (global batch, queue when full)."""
        out = []
        for i in range(2):
            codes = clustering.global_sinkhorn(scores[i], self.epsilon, self.sinkhorn_iterations)
            if self.queue_size:
                queue_scores = ops.matmul(ops.cast(self.queue.values[:, i], scores[i].dtype), ops.transpose(ops.cast(
                    self.prototypes, scores[i].dtype)))
                with_queue = clustering.global_sinkhorn(scores[i], self.epsilon, self.sinkhorn_iterations,
                                                        extra_scores=queue_scores)
                codes = ops.where(self.queue.full, with_queue, codes)
            out.append(codes)
        return out

    def ssl_loss(self, outputs, y=None):
        scores = outputs["scores"]
        return losses.swapped_prediction(scores, self.codes(scores), self.temperature)

    def after_step(self, x, y, outputs):
        self.normalize_prototypes()
        if self.queue_size:  # the global batch's two large views, one queue item per example
            self.queue.enqueue(ops.transpose(distribute.all_gather(outputs["z"], axis=1), (1, 0, 2)))

    def load_own_variables(self, store):
        if len(store.keys()) == 4:  # written before kssl.layers.memory: prototypes, queue, pointer, filled
            self.prototypes.assign(store["0"])
            self.queue.load_legacy_state(store["1"], store["2"], store["3"])
            return
        super().load_own_variables(store)

    def get_config(self):
        return {
            **super().get_config(),
            "num_prototypes": self.num_prototypes,
            "projection_dim": self.projection_dim,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "temperature": self.temperature,
            "epsilon": self.epsilon,
            "sinkhorn_iterations": self.sinkhorn_iterations,
            "queue_size": self.queue_size,
        }
