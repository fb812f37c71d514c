"""Rotation prediction (Gidaris, Singh & Komodakis, 2018, "Unsupervised representation learning by
predicting image rotations").

    for a minibatch {x_k}:
        (optional) view     x_k <- t(x_k)
        rotations           x_k^r = rot(x_k, r * 90 deg),  r = 0, 1, 2, 3   (all four, as in the paper)
        encode              h = f(x_k^r)           (the encoder; what transfers)
        classify            p = softmax(g(h))      (4-way head; dropped at transfer)
        loss                mean_k,r  -log p_r(x_k^r)
"""

import keras

from kssl.ops import pretext
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead


@keras.saving.register_keras_serializable(package="kssl")
class RotationPrediction(ImageModel):
    """RotNet: predict which of 0/90/180/270 degrees an image was rotated by.

    Every image of the batch is shown in all four rotations (one encoder pass over 4 x batch images),
    so the labels are built inside the train step and need no data. Images must be square.

    Args:
        encoder: `keras.Model` from square images to `(batch, features)`.
        hidden_dim: hidden width of the classifier head (default: the encoder's feature size).
        head_layers: Dense layers in the head (1: a linear classifier on the features).
        augment: optional Keras layer applied once to the batch before it is rotated (e.g. a random
            crop or flip); None uses the images as they are (the paper's main setting).

    Returns from `model(x)`: {"logits": (4 * batch, 4), "labels": (4 * batch,)}.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.RotationPrediction(encoder)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(16, 28, 28, 1).astype("float32"), batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, encoder, hidden_dim=None, head_layers=2, augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        height, width = encoder.input_shape[1:3]
        if height is not None and width is not None and height != width:
            raise ValueError(
                f"`encoder` must take square images (rotations keep the shape); its input shape is "
                f"{encoder.input_shape}."
            )
        self.hidden_dim, self.head_layers = hidden_dim, head_layers
        self.head = ProjectionHead(hidden_dim or self.feature_dim, 4, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        (view,) = self.views(x, 1)
        rotated, labels = pretext.rotate_all_four(view)
        logits = self.head(self.encoder(rotated, training=training), training=training)
        return {"logits": logits, "labels": labels}

    def ssl_loss(self, outputs, y=None):
        return pretext.cross_entropy(outputs["labels"], outputs["logits"])

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "head_layers": self.head_layers}
