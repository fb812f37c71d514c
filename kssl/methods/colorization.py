"""Colorization as a pretext task (Zhang, Isola & Efros, 2016, "Colorful Image Colorization").

    for a minibatch of RGB images {x_k}:
        convert     (L, ab) = Lab(x)                      (kssl.color, TensorFlow ops)
        encode      h = f(L / 100)                        (the encoder sees lightness only)
        decode      regression:      ab^ = 110 * g(h)     loss  || ab/110 - ab^/110 ||^2
                    classification:  z^ = g(h) in R^Q     loss  -sum_hw v(Z_hw) sum_q Z_hwq log softmax(z^)_hwq
                      Z = soft encoding of ab over its 5 nearest of Q in-gamut bins (grid 10, sigma 5)
                      v = class-rebalancing weight of the nearest bin (optional; 1 otherwise)
                      ab^ = annealed mean of softmax(z^) (T = 0.38) when colouring an image
"""

import keras
import numpy as np
from keras import ops

from kssl import losses
from kssl.checks import check_choice, check_positive
from kssl.core import ImageModel
from kssl.layers import color
from kssl.layers.heads import ConvDecoder, feature_map_model

HEADS = ("regression", "classification")


@keras.saving.register_keras_serializable(package="kssl")
class Colorization(ImageModel):
    """Colorization: predict the ab channels of CIE Lab from the L channel.

    The encoder contract: the model trains on RGB images in [0, 1] `(batch, h, w, 3)`; `encoder` takes
    their normalised lightness L / 100, `(batch, h, w, 1)` (so it also reads grey images directly), and
    ends in a global pooling layer whose input, the spatial feature map, the decoder reads. To probe
    it on RGB images use `model.rgb_encoder()`, which puts `kssl.color.LabChannels("L")` in front.

    Heads: "regression" (L2 on ab, which the seeds report, and Zhang et al. show, gives desaturated,
    brownish colours: the mean of plausible colours) or "classification" over the Q quantized ab bins
    with soft-encoded targets, optional class rebalancing, and annealed-mean decoding.

    Args:
        encoder: `keras.Model` from `(h, w, 1)` lightness to `(batch, features)`, ending in global pooling.
        head: "regression" or "classification".
        grid: ab bin size (classification).
        neighbours, sigma: soft encoding over the `neighbours` nearest bins with a Gaussian of `sigma`.
        class_weights: None (no rebalancing) or `Q` per-bin weights, e.g.
            `kssl.color.rebalancing_weights(kssl.color.bin_prior(ab_of_training_images, bins))`.
        temperature: annealed-mean temperature used by `colorize`.
        decoder_widths: filters of the decoder's upsampling stages (default: halving).
        augment: optional Keras layer applied to the RGB images first.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((16, 16, 1), widths=(8, 16))
    >>> model = kssl.methods.Colorization(encoder, head="classification")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> images = np.random.rand(32, 16, 16, 3).astype("float32")
    >>> history = model.fit(images, batch_size=16, epochs=1, verbose=0)
    >>> model.colorize(images[:2]).shape, model.rgb_encoder()(images[:2]).shape
    ((2, 16, 16, 3), TensorShape([2, 16]))
    """

    def __init__(self, encoder, head="classification", grid=10, neighbours=5, sigma=5.0, class_weights=None,
                 temperature=0.38, decoder_widths=None, augment=None, **kwargs):
        if isinstance(encoder, keras.Model) and encoder.input_shape[-1] != 1:
            raise ValueError(
                f"`encoder` must take the L channel, input shape (h, w, 1); got {encoder.input_shape}."
            )
        # RGB images in; the encoder sees their L channel.
        super().__init__(encoder, augment=augment, image_shape=(*encoder.input_shape[1:3], 3), **kwargs)
        self.head = check_choice("head", head, HEADS)
        self.grid, self.neighbours, self.sigma = grid, neighbours, float(sigma)
        self.temperature, self.decoder_widths = check_positive("temperature", temperature), decoder_widths
        self.bins = color.ab_bins(grid)
        if class_weights is not None:
            class_weights = [float(w) for w in np.asarray(class_weights).ravel()]
            if head != "classification" or len(class_weights) != len(self.bins):
                raise ValueError(
                    f"`class_weights` must hold one weight per ab bin ({len(self.bins)} for grid={grid}) and "
                    f"needs head='classification'; got {len(class_weights)} weights with head={head!r}."
                )
        self.class_weights = class_weights
        color.soft_encode(np.zeros((1, 2), "float32"), self.bins, neighbours, sigma)  # validates both
        channels = 2 if head == "regression" else len(self.bins)
        self.feature_map = feature_map_model(encoder)
        self.decoder = ConvDecoder((*encoder.input_shape[1:3], channels), widths=decoder_widths,
                                   activation=None, name="decoder")
        self.decoder.build(self.feature_map.output_shape)
        self.built = True

    def forward(self, x, training=False):
        (x,) = self.views(x, 1)
        lab = color.rgb_to_lab(x)
        lightness = lab[..., :1] / color.L_SCALE
        out = self.decoder(self.feature_map(lightness, training=training), training=training)
        return {"lightness": lightness, "ab": lab[..., 1:], "outputs": out}

    def ssl_loss(self, outputs, y=None):
        if self.head == "regression":
            return losses.reconstruction_loss(outputs["ab"] / color.AB_SCALE, outputs["outputs"], "mse")
        targets = color.soft_encode(outputs["ab"], self.bins, self.neighbours, self.sigma)
        weights = None
        if self.class_weights is not None:
            weights = ops.take(ops.convert_to_tensor(self.class_weights, "float32"), color.nearest_bin(outputs["ab"], self.bins))
        return losses.soft_cross_entropy(targets, outputs["outputs"], weights)

    def predict_ab(self, outputs):
        """ab values `(batch, h, w, 2)` from `forward`'s outputs (annealed mean for classification)."""
        if self.head == "regression":
            return outputs["outputs"] * color.AB_SCALE
        return color.annealed_mean(outputs["outputs"], self.bins, self.temperature)

    def colorize(self, images, batch_size=64):
        """RGB predictions (numpy, [0, 1]) for RGB or grey-as-RGB images: their L with predicted ab."""
        results = []
        for start in range(0, len(images), batch_size):
            outputs = self(np.asarray(images[start : start + batch_size], "float32"), training=False)
            lab = ops.concatenate([outputs["lightness"] * color.L_SCALE, self.predict_ab(outputs)], axis=-1)
            results.append(np.asarray(color.lab_to_rgb(lab)))
        return np.concatenate(results)

    def reconstruct(self, images):
        """{"inputs" (the grey L image), "targets" (the images), "predictions" (colourised)} for a grid."""
        images = np.asarray(images, "float32")
        grey = np.asarray(color.lab_to_rgb(ops.pad(color.rgb_to_lab(images)[..., :1], [[0, 0]] * 3 + [[0, 2]])))
        return {"inputs": grey, "targets": images, "predictions": self.colorize(images)}

    def rgb_encoder(self):
        """`model.encoder` behind `kssl.color.LabChannels("L")`: RGB images in, features out."""
        return self.rgb_encoder_of(self.encoder)

    @staticmethod
    def rgb_encoder_of(encoder):
        """Any L-input `encoder` behind `kssl.color.LabChannels("L")` (e.g. a random-init baseline)."""
        inputs = keras.Input((*encoder.input_shape[1:3], 3), name="rgb")
        return keras.Model(inputs, encoder(color.LabChannels("L")(inputs)), name=f"{encoder.name}_rgb")

    def get_config(self):
        return {
            **super().get_config(),
            "head": self.head,
            "grid": self.grid,
            "neighbours": self.neighbours,
            "sigma": self.sigma,
            "class_weights": self.class_weights,
            "temperature": self.temperature,
            "decoder_widths": self.decoder_widths,
        }
