"""Denoising autoencoder (Vincent, Larochelle, Bengio & Manzagol, 2008; Vincent et al., 2010).

    for a minibatch {x_k}:
        corrupt     x~ = q(x~ | x)          (additive Gaussian, masking or salt-and-pepper noise)
        encode      h = f(x~)               (the encoder's feature map, or its pooled vector: `bottleneck`)
        decode      x^ = g(h)               (a convolutional decoder; dropped at transfer)
        loss        L(x, x^)                (MSE, or binary cross-entropy for pixels in [0, 1])
"""

import keras
import numpy as np

from kssl import losses
from kssl.checks import check_choice
from kssl.core import ImageModel
from kssl.layers import corrupt
from kssl.layers.heads import ConvDecoder, feature_map_model

BOTTLENECKS = ("feature_map", "pooled")


@keras.saving.register_keras_serializable(package="kssl")
class DenoisingAutoencoder(ImageModel):
    """Convolutional denoising autoencoder: reconstruct the clean image from a corrupted one.

    The encoder contract: `encoder` maps images to `(batch, features)` through a final global pooling
    layer (as every `kssl.backbones` encoder does). With bottleneck="feature_map" the decoder reads the
    pooling layer's input, the encoder's spatial feature map (`kssl.heads.feature_map_model`, sharing the
    encoder's layers); with bottleneck="pooled" it reads the pooled feature vector itself (a Dense layer
    expands it back to the feature map's shape), so the code that transfers is the code that must hold the
    image, as in the paper's fully connected autoencoders. Either way training the autoencoder trains
    `model.encoder`, which transfers like any other kssl encoder.

    Args:
        encoder: `keras.Model` from images in [0, 1] to `(batch, features)`, ending in global pooling.
        corruption: "gaussian", "masking" or "salt_and_pepper" (`kssl.corrupt`).
        noise_level: the Gaussian's stddev (>= 0), or the probability a pixel is masked / salted (in
            [0, 1]).
        loss: "mse" or "bce" (binary cross-entropy; the decoder ends in a sigmoid either way).
        decoder_widths: filters of the decoder's upsampling stages (default: halving).
        bottleneck: "feature_map" (decode the spatial map: a free path for pixel detail that the pooled
            features never have to carry) or "pooled" (decode the pooled vector, the transferred code).
        augment: optional Keras layer applied before the corruption.
        seed: seed of the corruption.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.DenoisingAutoencoder(encoder, corruption="masking", noise_level=0.3)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 28, 28, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> sorted(model(np.zeros((2, 28, 28, 1), "float32")))
    ['inputs', 'predictions', 'targets']
    """

    def __init__(self, encoder, corruption="gaussian", noise_level=0.3, loss="mse", decoder_widths=None,
                 bottleneck="feature_map", augment=None, seed=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        check_choice("loss", loss, losses.RECONSTRUCTION_LOSSES)
        check_choice("corruption", corruption, sorted(corrupt.CORRUPTIONS))
        if not isinstance(noise_level, (int, float)) or noise_level < 0 or (corruption != "gaussian" and noise_level > 1):
            expected = ">= 0 (the noise stddev)" if corruption == "gaussian" else "in [0, 1] (a probability)"
            raise ValueError(f"`noise_level` must be a number {expected} for corruption={corruption!r}; got {noise_level!r}.")
        self.corruption, self.noise_level, self.loss_name = corruption, float(noise_level), loss
        self.decoder_widths, self.seed = decoder_widths, seed
        self.bottleneck = check_choice("bottleneck", bottleneck, BOTTLENECKS)
        self.corrupt = corrupt.corruption(corruption, self.noise_level, seed=seed)
        self.feature_map = feature_map_model(encoder)
        self.map_shape = tuple(self.feature_map.output_shape[1:])
        if self.bottleneck == "pooled":  # pooled vector -> the feature map's shape, for the same decoder
            self.expand = keras.layers.Dense(int(np.prod(self.map_shape)), activation="relu", name="expand")
            self.expand.build((None, self.feature_dim))
        self.decoder = ConvDecoder(encoder.input_shape[1:], widths=decoder_widths, activation="sigmoid", name="decoder")
        self.decoder.build(self.feature_map.output_shape)
        self.built = True

    def code(self, noisy, training=False):
        """What the decoder reads: the feature map, or the pooled features expanded to its shape."""
        if self.bottleneck == "pooled":
            return keras.ops.reshape(self.expand(self.encoder(noisy, training=training)), (-1, *self.map_shape))
        return self.feature_map(noisy, training=training)

    def forward(self, x, training=False):
        (x,) = self.views(x, 1)
        noisy = self.corrupt(x, training=True)  # the pretext task: corrupt in evaluate too
        return {"inputs": noisy, "targets": x,
                "predictions": self.decoder(self.code(noisy, training=training), training=training)}

    def ssl_loss(self, outputs, y=None):
        return losses.reconstruction_loss(outputs["targets"], outputs["predictions"], self.loss_name)

    def reconstruct(self, images):
        """{"inputs" (corrupted), "targets" (the images), "predictions" (denoised)} as numpy, for a grid."""
        outputs = self(np.asarray(images, "float32"), training=False)
        return {key: np.asarray(outputs[key]) for key in ("inputs", "targets", "predictions")}

    def get_config(self):
        return {
            **super().get_config(),
            "corruption": self.corruption,
            "noise_level": self.noise_level,
            "loss": self.loss_name,
            "decoder_widths": self.decoder_widths,
            "bottleneck": self.bottleneck,
            "seed": self.seed,
        }
