"""Context encoder: inpainting as a pretext task (Pathak, Krahenbuhl, Donahue, Darrell & Efros, 2016).

    for a minibatch {x_k}:
        mask        M = mask generator (central block | random blocks | random region), 1 = hidden
        context     x~ = (1 - M) * x + M * fill
        predict     x^ = g(f(x~))                      (encoder feature map -> decoder)
        L_rec       = || M * (x - x^) ||^2 / |M|       (masked L2)
        optional    x_c = (1 - M) * x + M * x^         (the completed image)
                    L_adv = -log D(x_c);  D trained on  -log D(x) - log(1 - D(x_c))
        loss        lambda_rec * L_rec + lambda_adv * L_adv      (generator: encoder + decoder)
"""

import keras
import numpy as np
from keras import ops

from kssl import losses
from kssl.backbones.discriminator import discriminator
from kssl.checks import check_choice, check_non_negative, check_positive, check_positive_int, check_probability
from kssl.core import ImageModel, scale_loss_for_distribution
from kssl.layers import corrupt
from kssl.layers.heads import ConvDecoder, feature_map_model




@keras.saving.register_keras_serializable(package="kssl")
class ContextEncoder(ImageModel):
    """Context encoder: hide a region, reconstruct it from its context (masked L2, optional adversarial
    term), all in one `fit()`.

    The encoder contract is the denoising autoencoder's: `model.encoder` maps images to `(batch,
    features)` through a final global pooling layer, and the decoder reads that layer's input.

    With `adversarial=True`, `train_step` first updates a small discriminator (its own Adam optimizer,
    lr `discriminator_learning_rate`, beta_1 0.5 as in DCGAN) on real vs. completed images, then calls
    Keras' own step for encoder + decoder on lambda_rec * L2 + lambda_adv * adversarial loss, with the
    discriminator frozen (`kssl.backbones.discriminator`). Logged: `loss` (the joint loss),
    `reconstruction_loss`, `adversarial_loss` (both updated after the generator's optimizer step, in
    `compute_metrics`, and in `evaluate`), `discriminator_loss`. This step uses `tf.GradientTape`, so
    the adversarial variant runs on the TensorFlow backend only; the plain variant is backend-agnostic.

    Args:
        encoder: `keras.Model` from images in [0, 1] to `(batch, features)`, ending in global pooling.
        mask: "central", "random_blocks" or "random_region" (`kssl.corrupt`).
        mask_size: side in pixels of the central block (default half the image side) or of each random
            block (default a quarter of the side).
        mask_count: number of random blocks.
        mask_coverage: fraction of the image the random region hides, in (0, 1).
        fill: value written into hidden pixels (the paper fills with the dataset mean).
        adversarial: add the adversarial term and train a discriminator.
        lambda_rec, lambda_adv: weights of the two terms (the paper: 0.999 and 0.001).
        discriminator_learning_rate: Adam learning rate of the discriminator.
        decoder_widths: filters of the decoder's upsampling stages (default: halving).
        augment: optional Keras layer applied to the images before masking.
        seed: seed of the masks.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((16, 16, 1), widths=(8, 16))
    >>> model = kssl.methods.ContextEncoder(encoder, mask="central", adversarial=True)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(32, 16, 16, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['adversarial_loss', 'discriminator_loss', 'loss', 'reconstruction_loss']
    """

    def __init__(self, encoder, mask="central", mask_size=None, mask_count=4, mask_coverage=0.25, fill=0.5,
                 adversarial=False, lambda_rec=0.999, lambda_adv=0.001, discriminator_learning_rate=2e-4,
                 decoder_widths=None, augment=None, seed=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        check_choice("mask", mask, sorted(corrupt.MASKS))
        image_shape = tuple(encoder.input_shape[1:])
        side = min(image_shape[:2])
        if mask_size is None:
            mask_size = side // 2 if mask == "central" else max(1, side // 4)
        if check_positive_int("mask_size", mask_size) > side:
            raise ValueError(f"`mask_size` must be an integer in [1, {side}] (the image side); got {mask_size!r}.")
        self.mask_name, self.mask_size, self.mask_count, self.mask_coverage = mask, mask_size, mask_count, mask_coverage
        self.fill, self.adversarial = check_probability("fill", fill), bool(adversarial)
        self.lambda_rec, self.lambda_adv = check_non_negative("lambda_rec", lambda_rec), check_non_negative("lambda_adv", lambda_adv)
        self.discriminator_learning_rate = check_positive("discriminator_learning_rate", discriminator_learning_rate)
        self.decoder_widths, self.seed = decoder_widths, seed
        mask_args = {"central": {"size": mask_size}, "random_blocks": {"size": mask_size, "count": mask_count},
                     "random_region": {"coverage": mask_coverage}}[mask]
        self.masker = corrupt.mask_generator(mask, seed=seed, **mask_args)
        self.masker.build((None, *image_shape))
        self.feature_map = feature_map_model(encoder)
        self.decoder = ConvDecoder(image_shape, widths=decoder_widths, activation="sigmoid", name="decoder")
        self.decoder.build(self.feature_map.output_shape)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        if self.adversarial:
            self.discriminator = discriminator(image_shape)
            self.discriminator_optimizer = keras.optimizers.Adam(self.discriminator_learning_rate, beta_1=0.5)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")
            self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.built = True

    @property
    def metrics(self):
        extra = [self.reconstruction_tracker]
        if self.adversarial:
            extra += [self.adversarial_tracker, self.discriminator_tracker]
        return super().metrics + extra

    def forward(self, x, training=False):
        (x,) = self.views(x, 1)
        mask = self.masker(x)
        context = x * (1.0 - mask) + self.fill * mask
        predictions = self.decoder(self.feature_map(context, training=training), training=training)
        outputs = {"inputs": context, "targets": x, "predictions": predictions, "mask": mask}
        if self.adversarial:
            completed = x * (1.0 - mask) + predictions * mask
            outputs["fake_logits"] = self.discriminator(completed, training=training)
        return outputs

    def terms(self, outputs):
        """{"reconstruction": masked L2, and with `adversarial` "adversarial": -log D(x_c)}."""
        out = {"reconstruction": losses.reconstruction_loss(outputs["targets"], outputs["predictions"], "mse",
                                                            mask=outputs["mask"])}
        if self.adversarial:
            out["adversarial"] = losses.generator_adversarial_loss(outputs["fake_logits"])
        return out

    def ssl_loss(self, outputs, y=None):
        terms = self.terms(outputs)
        if not self.adversarial:
            return terms["reconstruction"]
        return self.lambda_rec * terms["reconstruction"] + self.lambda_adv * terms["adversarial"]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Metric bookkeeping, the Keras hook for it: in a train step it runs after the optimizer step
        # (and the base's after_step), and it also runs in evaluate, which should report the terms too.
        terms = self.terms(y_pred)
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        if self.adversarial:
            self.adversarial_tracker.update_state(terms["adversarial"])
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def reconstruct(self, images):
        """{"inputs" (the context), "targets" (the images), "predictions" (the context with the hole
        filled by the decoder)} as numpy, for a grid."""
        outputs = self(np.asarray(images, "float32"), training=False)
        mask = np.asarray(outputs["mask"])
        completed = np.asarray(outputs["targets"]) * (1.0 - mask) + np.asarray(outputs["predictions"]) * mask
        return {"inputs": np.asarray(outputs["inputs"]), "targets": np.asarray(outputs["targets"]), "predictions": completed}

    def train_step(self, data):
        if not self.adversarial:
            return super().train_step(data)
        import tensorflow as tf  # GradientTape: the two-optimizer step is TensorFlow-only.

        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        # 1. Discriminator: real images vs. completions by the current generator.
        outputs = self(x, training=True)
        completed = ops.stop_gradient(outputs["targets"] * (1.0 - outputs["mask"]) + outputs["predictions"] * outputs["mask"])
        with tf.GradientTape() as tape:
            d_loss = losses.discriminator_loss(
                self.discriminator(outputs["targets"], training=True), self.discriminator(completed, training=True)
            )
            scaled = scale_loss_for_distribution(d_loss)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        self.discriminator_tracker.update_state(d_loss)
        # 2. Generator (encoder + decoder): Keras' own step on the joint loss, the discriminator frozen
        #    so that self.trainable_weights (what the base step differentiates) leaves it out.
        self.discriminator.trainable = False
        try:
            return super().train_step(data)
        finally:
            self.discriminator.trainable = True

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask_name,
            "mask_size": self.mask_size,
            "mask_count": self.mask_count,
            "mask_coverage": self.mask_coverage,
            "fill": self.fill,
            "adversarial": self.adversarial,
            "lambda_rec": self.lambda_rec,
            "lambda_adv": self.lambda_adv,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "decoder_widths": self.decoder_widths,
            "seed": self.seed,
        }
