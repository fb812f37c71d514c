"""What Siamese and Triplet share: an embedding head on the encoder, and who counts as "same".

Pairs/triplets come either from labels (metric learning: same class = similar) or from augmented views
(self-supervised: two views of one image are similar, views of different images are not). Ids are
global across replicas, so positives and negatives come from the whole (global) batch.
"""

from keras import ops

from kssl.training import distribute
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead

PAIRS = ("views", "labels")


class MetricLearningModel(ImageModel):
    """Base of kssl's metric-learning methods (not used directly): embedding head + pair ids.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        embedding_dim: size of the embedding the loss sees.
        hidden_dim: hidden width of the head (default: the encoder's feature size).
        head_layers: Dense layers in the head (1: linear embedding).
        pairs: "views" (self-supervised) or "labels" (batches of (images, labels)).
        normalize: L2-normalise embeddings (then distances lie in [0, 2]).
        augment: one view's augmentation, or a list of layers (one per view).
        gather_distributed: positives and negatives from every replica.
    """

    min_batch_size = 2

    def __init__(self, encoder, embedding_dim=64, hidden_dim=None, head_layers=2, pairs="views",
                 normalize=True, augment=None, gather_distributed=True, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        if pairs not in PAIRS:
            raise ValueError(f"`pairs` must be one of {PAIRS}; got {pairs!r}.")
        self.embedding_dim, self.hidden_dim, self.head_layers = embedding_dim, hidden_dim, head_layers
        self.pairs, self.normalize, self.gather_distributed = pairs, bool(normalize), bool(gather_distributed)
        self.uses_labels = pairs == "labels"
        self.head = ProjectionHead(hidden_dim or self.feature_dim, embedding_dim, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.built = True

    def embed(self, views, training):
        """Embeddings of a list of equally sized view batches, through one encoder pass."""
        z = self.head(self.encoder(ops.concatenate(views, axis=0), training=training), training=training)
        if self.normalize:
            z = ops.normalize(ops.cast(z, "float32"), axis=-1)
        return ops.split(z, len(views), axis=0)

    def ids(self, batch_size, labels):
        """Per-example ids of this replica: its labels, or its global image index for "views"."""
        if self.pairs == "labels":
            return ops.cast(ops.reshape(labels, (-1,)), "int32")
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
