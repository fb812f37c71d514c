"""Split-brain autoencoder (Zhang, Isola & Efros, 2017): cross-channel prediction.

    for a minibatch {x_k}:
        split       x = (x1, x2)                         ("lab": L | ab;  "top_bottom": top | bottom half)
        predict     x2^ = g1(f1(x1)),  x1^ = g2(f2(x2))  (two sub-networks, each sees one half)
        loss        L(x2, x2^) + L(x1, x1^)              (L2 here; the paper also uses classification)
        represent   [f1(x1), f2(x2)]                     (the concatenation is what transfers)
"""

import keras
import numpy as np
from keras import ops

from kssl import losses
from kssl.layers import color
from kssl.checks import check_choice
from kssl.core import ImageModel, _deserialize, _serialize, deserialize_augment
from kssl.layers.heads import ConvDecoder, feature_map_model

SPLITS = ("lab", "top_bottom")


@keras.saving.register_keras_serializable(package="kssl")
class SplitHalves(keras.layers.Layer):
    """Splits images into the two halves of a split-brain autoencoder.

    "lab": RGB in [0, 1] -> (L / 100, 1 channel; ab / 110, 2 channels), the paper's split.
    "top_bottom": any images -> (the image with its bottom half zeroed, the image with its top half
    zeroed). This is kssl's choice for grey images, which have one channel and so no channel split:
    left/right would be near-trivial on mirror-symmetric data like Fashion-MNIST, top/bottom is not.

    Example:
    >>> import numpy as np, kssl
    >>> top, bottom = kssl.methods.split_brain.SplitHalves("top_bottom")(np.ones((1, 4, 4, 1), "float32"))
    >>> np.asarray(top)[0, :, 0, 0].tolist(), np.asarray(bottom)[0, :, 0, 0].tolist()
    ([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0])
    """

    def __init__(self, split="lab", **kwargs):
        super().__init__(**kwargs)
        self.split = check_choice("split", split, SPLITS)

    def top_mask(self, height):
        return (np.arange(height) < height // 2).astype("float32")[None, :, None, None]

    def call(self, images):
        if self.split == "lab":
            lab = color.rgb_to_lab(images) / np.array([color.L_SCALE, color.AB_SCALE, color.AB_SCALE], "float32")
            return [lab[..., :1], lab[..., 1:]]
        top = ops.cast(self.top_mask(images.shape[1]), images.dtype)
        return [images * top, images * (1.0 - top)]

    def compute_output_shape(self, input_shape):
        if self.split == "lab":
            return [(*input_shape[:-1], 1), (*input_shape[:-1], 2)]
        return [tuple(input_shape), tuple(input_shape)]

    def get_config(self):
        return {**super().get_config(), "split": self.split}


def _renamed(model, name):
    """The same layers under a new model name (a functional model needs unique sub-model names)."""
    return keras.Model(model.input, model.output, name=name)


@keras.saving.register_keras_serializable(package="kssl")
class SplitBrain(ImageModel):
    """Split-brain autoencoder: two sub-networks predict each half of the input from the other; the
    representation is the concatenation of their features.

    The encoder contract: `encoder_1` and `encoder_2` each map one half to `(batch, features)` through a
    final global pooling layer (the decoders read its input). `model.encoder` is built from them: a
    functional model from whole images (RGB for "lab") to `[f1(x1), f2(x2)]`, and it is what transfers.

    Args:
        encoder_1: encoder of the first half (L for "lab": input `(h, w, 1)`; top half for
            "top_bottom": input shaped like the images).
        encoder_2: encoder of the second half (ab: `(h, w, 2)`; or the bottom half). For "top_bottom"
            it may be None: a fresh copy of `encoder_1` (same architecture, new weights).
        split: "lab" (colour images) or "top_bottom" (any images; kssl's choice for grey data).
        decoder_widths: filters of each decoder's upsampling stages (default: halving).
        augment: optional Keras layer applied to the images first.

    Example:
    >>> import numpy as np, keras, kssl
    >>> model = kssl.methods.SplitBrain(kssl.backbones.convnet((16, 16, 1), widths=(8, 16)), split="top_bottom")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 16, 16, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> model.encoder.output_shape
    (None, 32)
    """

    def __init__(self, encoder_1, encoder_2=None, split="lab", decoder_widths=None, augment=None, **kwargs):
        check_choice("split", split, SPLITS)
        if not isinstance(encoder_1, keras.Model):
            raise TypeError(f"`encoder_1` must be a keras.Model; got {type(encoder_1).__name__}.")
        if encoder_2 is None:
            if split == "lab":
                raise ValueError("`encoder_2` is required for split='lab': it takes the 2 ab channels, `encoder_1` the L channel.")
            encoder_2 = keras.models.clone_model(encoder_1)
        shape_1, shape_2 = tuple(encoder_1.input_shape[1:]), tuple(encoder_2.input_shape[1:])
        expected = (1, 2) if split == "lab" else (shape_1[-1], shape_1[-1])
        if shape_1[:2] != shape_2[:2] or (shape_1[-1], shape_2[-1]) != expected:
            raise ValueError(
                f"`encoder_1` and `encoder_2` must take the two halves of split={split!r}: same image size and "
                f"{expected[0]} and {expected[1]} channels; got input shapes {shape_1} and {shape_2}."
            )
        encoder_1, encoder_2 = _renamed(encoder_1, "encoder_1"), _renamed(encoder_2, "encoder_2")
        image_shape = (*shape_1[:2], 3 if split == "lab" else shape_1[-1])
        images = keras.Input(image_shape, name="images")
        half_1, half_2 = SplitHalves(split, name="split")(images)
        features = keras.layers.Concatenate(name="features")([encoder_1(half_1), encoder_2(half_2)])
        super().__init__(keras.Model(images, features, name="split_brain_encoder"), augment=augment, **kwargs)
        self.encoder_1, self.encoder_2, self.split, self.decoder_widths = encoder_1, encoder_2, split, decoder_widths
        self.splitter = SplitHalves(split)
        self.feature_map_1, self.feature_map_2 = feature_map_model(encoder_1), feature_map_model(encoder_2)
        # Each decoder predicts the other half, in that half's normalised units: ab / 110 has no
        # fixed range (linear output); L / 100 and pixels are in [0, 1] (sigmoid).
        self.decoder_1 = ConvDecoder(shape_2, widths=decoder_widths, activation=None if split == "lab" else "sigmoid", name="decoder_1")
        self.decoder_2 = ConvDecoder(shape_1, widths=decoder_widths, activation="sigmoid", name="decoder_2")
        self.decoder_1.build(self.feature_map_1.output_shape)
        self.decoder_2.build(self.feature_map_2.output_shape)
        self.built = True

    def forward(self, x, training=False):
        (x,) = self.views(x, 1)
        half_1, half_2 = self.splitter(x)
        return {
            "half_1": half_1, "half_2": half_2,
            "predicted_2": self.decoder_1(self.feature_map_1(half_1, training=training), training=training),
            "predicted_1": self.decoder_2(self.feature_map_2(half_2, training=training), training=training),
        }

    def ssl_loss(self, outputs, y=None):
        if self.split == "lab":
            return (losses.reconstruction_loss(outputs["half_2"], outputs["predicted_2"])
                    + losses.reconstruction_loss(outputs["half_1"], outputs["predicted_1"]))
        top = ops.cast(self.splitter.top_mask(outputs["half_1"].shape[1]), outputs["half_1"].dtype)
        top = ops.broadcast_to(top, ops.shape(outputs["half_1"][..., :1]))
        return (losses.reconstruction_loss(outputs["half_2"], outputs["predicted_2"], mask=1.0 - top)
                + losses.reconstruction_loss(outputs["half_1"], outputs["predicted_1"], mask=top))

    def reconstruct(self, images):
        """For a grid: "inputs" (what sub-network 1 sees), "targets" (the images), "predictions" (half 1
        completed with sub-network 1's prediction of half 2)."""
        images = np.asarray(images, "float32")
        outputs = self(images, training=False)
        if self.split == "lab":
            lightness = outputs["half_1"] * color.L_SCALE
            grey = color.lab_to_rgb(ops.concatenate([lightness, ops.zeros_like(outputs["half_2"])], axis=-1))
            predicted = color.lab_to_rgb(ops.concatenate([lightness, outputs["predicted_2"] * color.AB_SCALE], axis=-1))
            return {"inputs": np.asarray(grey), "targets": images, "predictions": np.asarray(predicted)}
        top = self.splitter.top_mask(images.shape[1])
        return {"inputs": np.asarray(outputs["half_1"]), "targets": images,
                "predictions": np.asarray(outputs["half_1"]) + (1.0 - top) * np.asarray(outputs["predicted_2"])}

    def get_config(self):
        config = super().get_config()  # name, trainable, dtype policy, augment
        del config["encoder"]  # rebuilt from the two halves
        return {**config, "encoder_1": _serialize(self.encoder_1), "encoder_2": _serialize(self.encoder_2),
                "split": self.split, "decoder_widths": self.decoder_widths}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder_1"] = _deserialize(config["encoder_1"])
        config["encoder_2"] = _deserialize(config["encoder_2"])
        config["augment"] = deserialize_augment(config.get("augment"))
        return cls(**config)
