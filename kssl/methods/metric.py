"""What Siamese and Triplet share: an embedding head on the encoder, and who counts as "same".

Pairs/triplets come either from labels (metric learning: same class = similar) or from augmented views
(self-supervised: two views of one image are similar, views of different images are not). Ids are
global across replicas, so positives and negatives come from the whole (global) batch.
"""

from keras import ops

from kssl import losses
from kssl.checks import check_choice, check_positive_int
from kssl.core import ImageModel, encode_views
from kssl.layers.heads import ProjectionHead
from kssl.training import distribute

PAIRS = ("views", "labels")


class MetricLearningModel(ImageModel):
    """Base of kssl's metric-learning methods (not used directly): embedding head + pair ids.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        embedding_dim: size of the embedding the loss sees.
        hidden_dim: hidden width of the head (default: the encoder's feature size).
        head_layers: Dense layers in the head (1: linear embedding).
        pairs: "views" (self-supervised: batches of images) or "labels" (batches of (images, labels),
            e.g. `dataset.train.labelled(batch_size, shuffle=True)`; the labels reach the loss as `y`).
        normalize: L2-normalise embeddings (then distances lie in [0, 2]).
        augment: one view's augmentation, or a list of layers (one per view).
        gather_distributed: positives and negatives from every replica.
    """

    min_batch_size = 2

    def __init__(self, encoder, embedding_dim=64, hidden_dim=None, head_layers=2, pairs="views",
                 normalize=True, augment=None, gather_distributed=True, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.hidden_dim = None if hidden_dim is None else check_positive_int("hidden_dim", hidden_dim)
        self.head_layers = check_positive_int("head_layers", head_layers)
        self.pairs = check_choice("pairs", pairs, PAIRS)
        self.normalize, self.gather_distributed = bool(normalize), bool(gather_distributed)
        self.head = ProjectionHead(self.hidden_dim or self.feature_dim, self.embedding_dim,
                                   num_layers=self.head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.built = True

    def embed(self, views, training):
        """Embeddings of a list of equally sized view batches, through one encoder pass."""
        z = encode_views(views, self.encoder, self.head, training=training)
        if self.normalize:  # in float32 under mixed precision, float64 kept
            z = [ops.normalize(ops.cast(v, losses._loss_dtype(v)), axis=-1) for v in z]
        return z

    def ids(self, batch_size, y):
        """Per-example ids of this replica: its labels `y` for "labels", its global image index for "views"."""
        if self.pairs == "labels":
            if y is None:
                name = type(self).__name__
                raise ValueError(
                    f"{name}(pairs='labels') learns from labels: the data must yield (images, labels) batches, "
                    "e.g. model.fit(dataset.train.labelled(batch_size, shuffle=True)) or model.fit(images, labels); "
                    f"it got images only. For label-free training use {name}(pairs='views') with an `augment`."
                )
            return ops.cast(ops.reshape(y, (-1,)), "int32")
        offset = ops.cast(distribute.replica_id(), "int32") * batch_size if self.gather_distributed else 0
        return offset + ops.arange(batch_size, dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "pairs": self.pairs,
            "normalize": self.normalize,
            "gather_distributed": self.gather_distributed,
        }


__all__ = ["MetricLearningModel", "PAIRS"]
