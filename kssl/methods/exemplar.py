"""Exemplar CNN (Dosovitskiy, Springenberg, Riedmiller & Brox, 2014, "Discriminative unsupervised
feature learning with convolutional neural networks").

    seed set       N unlabelled images x_1..x_N; image i is its own surrogate class i
    for a minibatch {(x_i, i)}:
        views      V strong random transformations t_v(x_i)  (crop/scale, flip, brightness, contrast)
        encode     h = f(t_v(x_i))                            (the encoder; what transfers)
        classify   p = softmax(g(h)) over the N exemplar classes  (head; dropped at transfer)
        loss       mean_i,v  -log p_i(t_v(x_i))               (every view keeps its exemplar's label)
"""

import keras
import tensorflow as tf
from keras import ops

from kssl.checks import check_positive_int
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.ops import pretext


@keras.saving.register_keras_serializable(package="kssl")
class Exemplar(ImageModel):
    """Exemplar CNN: classify every augmented view of a seed image as that image's own class.

    The data must yield `(images, exemplar_ids)`: id i in [0, num_exemplars) names seed image i (the
    only "label" there is, assigned by the user, e.g. `np.arange(N)`; no class labels are used). The
    ids arrive as Keras' `y`, which `ssl_loss(outputs, y)` reads.
    Each step makes `views` random views of every image and gives each view its image's id.

    Only the parametric form is provided: a softmax over `num_exemplars` classes (the paper's 8000
    to 32000), whose head has features x num_exemplars weights. For a whole large dataset as
    exemplars (N = 60000 or more) train on a random subset of N seed images, as the paper and
    `examples/exemplar_fashion_mnist.py` do; the memory-bank (non-parametric instance
    discrimination) variant is not implemented.

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        num_exemplars: N, the number of surrogate classes.
        augment: the strong transformation of one view, a Keras layer (e.g.
            `kssl.augment.simclr_views(...)`), applied `views` times; or a list of `views` layers.
        views: augmented views of each image per step (>= 1).
        hidden_dim: hidden width of the head (default: the encoder's feature size).
        head_layers: Dense layers of the head (1: a linear softmax classifier, as in the paper).

    Returns from `model(x)`: {"logits": (views * batch, num_exemplars)}, views stacked view-major.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.Exemplar(encoder, num_exemplars=16,
    ...     augment=kssl.augment.simclr_views(28, channels=1, grayscale_policy="brightness_contrast"))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> images, ids = np.random.rand(16, 28, 28, 1).astype("float32"), np.arange(16)
    >>> history = model.fit(images, ids, batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, encoder, num_exemplars, augment=None, views=2, hidden_dim=None, head_layers=1, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.num_exemplars = check_positive_int("num_exemplars", num_exemplars, 2)
        self.num_views = check_positive_int("views", views)
        self.hidden_dim, self.head_layers = hidden_dim, head_layers
        self.head = ProjectionHead(hidden_dim or self.feature_dim, num_exemplars, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.built = True

    def make_views(self, x):
        """The `views` augmented views of `x`, stacked view-major: `(views * batch, ...)`."""
        return ops.concatenate(self.views(x, self.num_views), axis=0)

    def exemplar_labels(self, exemplar_ids):
        """The label of every view from `make_views`: row v * batch + i gets `exemplar_ids[i]`."""
        ids = ops.cast(ops.convert_to_tensor(exemplar_ids), "int32")
        if len(ids.shape) == 2 and ids.shape[-1] == 1:
            ids = ops.squeeze(ids, -1)
        if len(ids.shape) != 1:
            raise ValueError(f"`exemplar_ids` must be one integer per image, shape (batch,); got {tuple(ids.shape)}.")
        return ops.tile(ids, [self.num_views])

    def forward(self, x, training=False):
        logits = self.head(self.encoder(self.make_views(x), training=training), training=training)
        return {"logits": logits}

    def ssl_loss(self, outputs, y=None):
        """Cross-entropy of every view's logits against its image's exemplar id, `y`."""
        if y is None:
            raise ValueError(
                "Exemplar: batches must be (images, exemplar_ids) with one id in [0, num_exemplars) per "
                "seed image, e.g. model.fit(images, np.arange(len(images)))."
            )
        labels = self.exemplar_labels(y)
        # Checked at run time: an id outside [0, N) would otherwise give a NaN or garbage loss.
        # (tf.debugging: keras.ops has no run-time assertion.)
        tf.debugging.assert_less(
            labels, self.num_exemplars, message="Exemplar: `exemplar_ids` must be < num_exemplars."
        )
        tf.debugging.assert_non_negative(labels, message="Exemplar: `exemplar_ids` must be >= 0.")
        return pretext.cross_entropy(labels, outputs["logits"])

    def get_config(self):
        return {
            **super().get_config(),
            "num_exemplars": self.num_exemplars,
            "views": self.num_views,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
        }
