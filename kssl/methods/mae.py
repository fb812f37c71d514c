"""MAE: masked autoencoders are scalable vision learners (He, Chen, Xie, Li, Dollar & Girshick, 2022).

    for a minibatch x (one view: a random resized crop and flip, or x itself):
        embed        x -> N patch tokens of p x p pixels with their positions      (the ViT's first half)
        mask         per image, a random permutation of the N patches: the first N_vis = int(N (1 - r)) are
                     visible, the other N - N_vis masked (r = 0.75: exactly the same count in every image)
        encode       latent = ViT blocks([class token] + visible tokens)   (the encoder sees visible patches only)
        decode       Dense to the decoder width; one learnt mask token for every masked patch; un-shuffle to
                     the patches' order; + decoder positions; a light transformer; Dense to p * p * C pixels
        loss         MSE on the (per-patch normalised) pixels of the masked patches only
"""

import keras
import numpy as np
from keras import ops

from kssl import losses
from kssl import backbones
from kssl.checks import check_positive_int, check_probability
from kssl.core import ImageModel
from kssl.ops.pretext import patchify, unpatchify


@keras.saving.register_keras_serializable(package="kssl")
class MAE(ImageModel):
    """MAE: reconstruct the pixels of randomly masked patches from the visible ones. No views, no negatives.

    The encoder must be a ViT from `kssl.backbones.vit`: the method runs its two halves
    (`kssl.backbones.patch_tokens`, then `kssl.backbones.token_encoder` on the visible tokens only), which
    share its layers, so `model.encoder` is what trains and transfers. The decoder (its own positions,
    mask token, blocks and pixel head) is dropped at transfer time.

    Args:
        encoder: a `kssl.backbones.vit` encoder.
        mask_ratio: r in (0, 1), the share of patches masked in every image (0.75).
        decoder_dim: the decoder's token width (512 in the paper for ViT-L; small here).
        decoder_depth: the decoder's transformer blocks (8 in the paper).
        decoder_heads: its attention heads (a divisor of `decoder_dim`).
        norm_pix_loss: per-patch normalised pixels as targets (the paper's better setting).
        seed: seed of the masks.
        augment: a layer returning one view of the batch at the encoder's size (the paper: a random resized
            crop of 20-100 % and a flip), or None.

    Returns from `model(x)`: {"predictions": `(batch, N, p * p * C)`, "patches": the targets'
    `kssl.pretext.patchify(view)`, "mask": `(batch, N)`, 1 for masked patches}.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.vit((28, 28, 1), patch_size=4, hidden_dim=32, depth=1, num_heads=2)
    >>> model = kssl.methods.MAE(encoder, mask_ratio=0.75, decoder_dim=16, decoder_depth=1, decoder_heads=2, seed=0)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> history = model.fit(np.random.rand(16, 28, 28, 1).astype("float32"), batch_size=8, epochs=1, verbose=0)
    >>> outputs = model(np.zeros((2, 28, 28, 1), "float32"))
    >>> tuple(outputs["predictions"].shape), outputs["mask"].numpy().sum(axis=1).tolist()   # 49 - int(49 / 4) masked
    ((2, 49, 16), [37.0, 37.0])
    """

    def __init__(self, encoder, mask_ratio=0.75, decoder_dim=64, decoder_depth=2, decoder_heads=4,
                 norm_pix_loss=True, seed=None, augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        import keras_hub

        self.mask_ratio = check_probability("mask_ratio", mask_ratio, low_open=True, high_open=True)
        self.decoder_dim = check_positive_int("decoder_dim", decoder_dim)
        self.decoder_depth = check_positive_int("decoder_depth", decoder_depth)
        self.decoder_heads = check_positive_int("decoder_heads", decoder_heads)
        if decoder_dim % decoder_heads:
            raise ValueError(f"`decoder_dim` {decoder_dim} must be a multiple of `decoder_heads` {decoder_heads}.")
        self.norm_pix_loss, self.seed = bool(norm_pix_loss), seed
        try:
            self.patch_size = backbones.patch_size_of(encoder)
        except ValueError as error:
            raise ValueError(f"MAE: {error}") from error
        self.class_token = backbones.has_class_token(encoder)
        self.embed_patches = backbones.patch_tokens(encoder)      # images -> (batch, N, dim), positions added
        self.encode_tokens = backbones.token_encoder(encoder)     # any subset of tokens -> encoded sequence
        self.num_patches = int(self.embed_patches.output_shape[1])
        self.num_visible = int(self.num_patches * (1.0 - self.mask_ratio))  # the paper's int(L * (1 - r))
        if not 1 <= self.num_visible < self.num_patches:
            raise ValueError(f"`mask_ratio` {mask_ratio} leaves {self.num_visible} of {self.num_patches} patches "
                             "visible; at least one must be visible and one masked.")
        self.seed_generator = keras.random.SeedGenerator(seed)
        width = int(self.embed_patches.output_shape[-1])
        pixels = self.patch_size * self.patch_size * self.image_shape[-1]

        self.decoder_embed = keras.layers.Dense(decoder_dim, name="decoder_embed")
        self.decoder_embed.build((None, None, width))
        self.mask_token = self.add_weight(shape=(1, 1, decoder_dim), name="mask_token",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.decoder_positions = self.add_weight(shape=(1, self.num_patches, decoder_dim), name="decoder_positions",
                                                 initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        self.decoder_blocks = [keras_hub.layers.TransformerEncoder(
            intermediate_dim=4 * decoder_dim, num_heads=decoder_heads, activation="gelu", layer_norm_epsilon=1e-6,
            normalize_first=True, name=f"decoder_block{i + 1}") for i in range(decoder_depth)]
        for block in self.decoder_blocks:
            block.build((None, None, decoder_dim))
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.decoder_norm.build((None, None, decoder_dim))
        self.decoder_pred = keras.layers.Dense(pixels, name="decoder_pred")
        self.decoder_pred.build((None, None, decoder_dim))
        self.built = True

    def random_masking(self, batch):
        """(keep, restore, mask): the visible patches' indices `(batch, N_vis)`, the permutation that puts a
        shuffled sequence back in patch order `(batch, N)`, and the mask `(batch, N)`, 1 = masked."""
        noise = keras.random.uniform((batch, self.num_patches), seed=self.seed_generator)
        shuffle = ops.argsort(noise, axis=1)        # ascending: the first N_vis are kept
        restore = ops.argsort(shuffle, axis=1)
        keep = shuffle[:, :self.num_visible]
        masked_in_shuffled_order = ops.concatenate(
            [ops.zeros((batch, self.num_visible)), ops.ones((batch, self.num_patches - self.num_visible))], axis=1)
        return keep, restore, ops.take_along_axis(masked_in_shuffled_order, restore, axis=1)

    def decode(self, latent, restore, training=False):
        """Pixels `(batch, N, p * p * C)` of every patch from the encoded visible tokens."""
        x = self.decoder_embed(latent)
        extra = 1 if self.class_token else 0
        visible = x[:, extra:]
        batch = ops.shape(x)[0]
        mask_tokens = ops.broadcast_to(ops.cast(self.mask_token, x.dtype),
                                       (batch, self.num_patches - self.num_visible, self.decoder_dim))
        x_full = ops.take_along_axis(ops.concatenate([visible, mask_tokens], axis=1), restore[:, :, None], axis=1)
        x_full = x_full + ops.cast(self.decoder_positions, x.dtype)
        x = ops.concatenate([x[:, :extra], x_full], axis=1)
        for block in self.decoder_blocks:
            x = block(x, training=training)
        return self.decoder_pred(self.decoder_norm(x))[:, extra:]

    def forward(self, x, training=False):
        if self.augment is not None:
            x = self.views(x, 1)[0]
        return self.autoencode(x, training=training)

    def autoencode(self, x, training=False):
        """The box after the view: mask, encode the visible patches, decode every patch."""
        tokens = self.embed_patches(x, training=training)
        keep, restore, mask = self.random_masking(ops.shape(tokens)[0])
        visible = ops.take_along_axis(tokens, keep[:, :, None], axis=1)
        latent = self.encode_tokens(visible, training=training)   # the encoder sees only the visible patches
        return {"predictions": self.decode(latent, restore, training=training),
                "patches": ops.stop_gradient(patchify(x, self.patch_size)), "mask": mask}

    def reconstruct(self, images):
        """{"inputs" (masked patches grey), "targets" (the images), "predictions" (the decoded masked
        patches pasted among the visible ones)} as numpy images, for a grid (no augmentation). Normalised-pixel
        predictions are shown with each patch's true mean and standard deviation, as the paper's figures."""
        x = ops.convert_to_tensor(np.asarray(images, "float32"))
        outputs = self.autoencode(x, training=False)
        patches, predictions = outputs["patches"], outputs["predictions"]
        if self.norm_pix_loss:
            count = ops.cast(ops.shape(patches)[-1], patches.dtype)
            mean = ops.mean(patches, axis=-1, keepdims=True)
            var = ops.sum(ops.square(patches - mean), axis=-1, keepdims=True) / (count - 1.0)
            predictions = predictions * ops.sqrt(var + 1e-6) + mean
        masked = outputs["mask"][:, :, None]
        as_images = lambda p: np.clip(np.asarray(unpatchify(p, self.image_shape)), 0.0, 1.0)  # noqa: E731
        return {"inputs": as_images(patches * (1.0 - masked) + 0.5 * masked), "targets": np.asarray(images, "float32"),
                "predictions": as_images(patches * (1.0 - masked) + predictions * masked)}

    def ssl_loss(self, outputs, y=None):
        return losses.masked_patch_mse(outputs["predictions"], outputs["patches"], outputs["mask"],
                                       normalize_targets=self.norm_pix_loss)

    def get_config(self):
        return {
            **super().get_config(),
            "mask_ratio": self.mask_ratio,
            "decoder_dim": self.decoder_dim,
            "decoder_depth": self.decoder_depth,
            "decoder_heads": self.decoder_heads,
            "norm_pix_loss": self.norm_pix_loss,
            "seed": self.seed,
        }
