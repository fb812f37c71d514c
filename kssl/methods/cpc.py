"""Contrastive Predictive Coding (van den Oord, Li & Vinyals, 2018; images as in CPC v2, Henaff et
al., 2019): `CPC` on images, `CPCAudio` on raw waveforms, one algorithm box.

    for a batch of sequences (raw audio; or an image cut into an overlapping grid of patches,
    read top to bottom one patch row per step):
        encode     z_t = g_enc(x_t)                    (the encoder; what transfers)
        summarise  c_t = g_ar(z_1 .. z_t)              (GRU; for images a causal convolution over
                                                        patch rows: row r sees rows <= r only)
        predict    zhat_{t+k} = W_k c_t,   k = 1 .. K  (one linear map per k)
        loss       1/K sum_k InfoNCE(zhat_{t+k}, z_{t+k}); negatives: every other z_{t'+k} of every
                   sequence (and grid column) of the global batch, or (negatives="sequence") of the
                   same sequence only; score zhat . z, no temperature

Audio: the encoder maps a waveform `(batch, samples, 1)` to `(batch, steps, d)`
(`kssl.backbones.audio_encoder`: strided 1-D convolutions, overall stride 160 = 10 ms at 16 kHz as in the
paper). Images: the encoder maps one patch `(patch_size, patch_size, channels)` to a vector (any kssl
backbone), applied to every cell of the grid (`PatchGrid`); `image_encoder()` is the whole-image encoder a
linear probe uses (the mean of the grid's patch vectors). g_ar is `kssl.backbones.context_network`.
"""

import keras
from keras import layers, ops

from kssl import losses
from kssl.backbones.audio import CONTEXTS, context_network
from kssl.checks import check_choice, check_positive_int
from kssl.core import ImageModel, SelfSupervisedModel


def grid_size(size, patch_size, patch_stride, name="image_shape"):
    """Number of patches of `patch_size`, `patch_stride` apart, that tile a side of `size` pixels
    exactly; a ValueError naming the arguments when they do not (e.g. 32, 8, 4 -> 7; 28, 8, 4 -> 6)."""
    check_positive_int("patch_size", patch_size)
    check_positive_int("patch_stride", patch_stride)
    if size < patch_size or (size - patch_size) % patch_stride:
        raise ValueError(
            f"the patch grid does not fit the image: `{name}` side {size} must be `patch_size` "
            f"({patch_size}) plus a multiple of `patch_stride` ({patch_stride}), e.g. "
            f"{patch_size + patch_stride * max(1, (size - patch_size) // patch_stride)}."
        )
    return (size - patch_size) // patch_stride + 1


@keras.saving.register_keras_serializable(package="kssl")
class PatchGrid(layers.Layer):
    """Cuts images into an overlapping grid of square patches, row-major:
    `(batch, H, W, C)` -> `(batch, rows, cols, patch_size, patch_size, C)`.

    Why hand-written: static slices give exact copies with static shapes (XLA-friendly) and the
    layout CPC needs; `ops.image.extract_patches` flattens each patch instead.

    Example:
    >>> import numpy as np, kssl
    >>> grid = kssl.methods.cpc.PatchGrid(patch_size=8, patch_stride=4)
    >>> tuple(grid(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 6, 6, 8, 8, 1)
    """

    def __init__(self, patch_size=8, patch_stride=4, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = check_positive_int("patch_size", patch_size)
        self.patch_stride = check_positive_int("patch_stride", patch_stride)

    def grid(self, image_shape):
        return (grid_size(image_shape[0], self.patch_size, self.patch_stride),
                grid_size(image_shape[1], self.patch_size, self.patch_stride))

    def call(self, images):
        rows, cols = self.grid(tuple(images.shape[1:3]))
        p, s = self.patch_size, self.patch_stride
        patches = [images[:, i * s : i * s + p, j * s : j * s + p, :] for i in range(rows) for j in range(cols)]
        patches = ops.stack(patches, axis=1)
        return ops.reshape(patches, (-1, rows, cols, p, p, images.shape[-1]))

    def compute_output_shape(self, input_shape):
        rows, cols = self.grid(tuple(input_shape[1:3]))
        return (input_shape[0], rows, cols, self.patch_size, self.patch_size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "patch_stride": self.patch_stride}


def patch_grid_encoder(encoder, image_shape, patch_size=8, patch_stride=4, name="patch_grid_encoder"):
    """A whole-image encoder from a CPC patch `encoder`: the mean of its vectors over the patch grid
    (the pooled features CPC's linear evaluation uses). Shares `encoder`'s weights.

    Example:
    >>> import kssl
    >>> patches = kssl.backbones.convnet((8, 8, 1), widths=(8, 16))
    >>> kssl.methods.cpc.patch_grid_encoder(patches, (28, 28, 1)).output_shape
    (None, 16)
    """
    rows, cols = PatchGrid(patch_size, patch_stride).grid(tuple(image_shape))
    inputs = keras.Input(tuple(image_shape))
    x = PatchGrid(patch_size, patch_stride)(inputs)
    x = layers.Reshape((rows * cols, patch_size, patch_size, image_shape[-1]))(x)
    x = layers.TimeDistributed(encoder)(x)
    return keras.Model(inputs, layers.GlobalAveragePooling1D()(x), name=name)


class _PredictiveCoding:
    """What CPC on images and CPC on audio share: g_ar, the predictions W_k c_t, the loss and their config.
    The modality's class sets `feature_dim` and writes `encode(x, training)` (z with the steps on axis 1)."""

    def _build_prediction(self, steps_shape, prediction_steps, context, context_dim, context_layers,
                          context_kernel, gather_distributed, negatives):
        self.negatives = check_choice("negatives", negatives, losses.CPC_NEGATIVES)
        self.prediction_steps = check_positive_int("prediction_steps", prediction_steps)
        self.context_kind = check_choice("context", context, CONTEXTS)
        self.context_dim = check_positive_int("context_dim", context_dim)
        self.context_layers = check_positive_int("context_layers", context_layers)
        self.context_kernel = check_positive_int("context_kernel", context_kernel)
        self.gather_distributed = bool(gather_distributed)
        self.context = context_network(self.context_kind, steps_shape, self.context_dim, self.context_layers,
                                       self.context_kernel, name="context")
        # W_1 .. W_K as one linear map to K * d outputs (the same parameters as K separate ones).
        self.predictor = layers.Dense(self.prediction_steps * self.feature_dim, use_bias=False, name="predictor")
        self.predictor.build((None, self.context_dim))
        self.built = True

    def predict_ahead(self, c):
        """`(..., context_dim)` -> `(..., K, d)`: entry k - 1 is W_k c."""
        p = self.predictor(c)
        return ops.reshape(p, (*ops.shape(c)[:-1], self.prediction_steps, self.feature_dim))

    def forward(self, x, training=False):
        (x,) = self.views(x, 1)
        z = self.encode(x, training=training)
        c = self.context(z, training=training)
        return {"latents": z, "context": c, "predictions": self.predict_ahead(c)}

    def ssl_loss(self, outputs, y=None):
        return losses.cpc_info_nce(outputs["predictions"], outputs["latents"], self.gather_distributed,
                                   negatives=self.negatives)

    def _prediction_config(self):
        return {"prediction_steps": self.prediction_steps, "context": self.context_kind,
                "context_dim": self.context_dim, "context_layers": self.context_layers,
                "context_kernel": self.context_kernel, "gather_distributed": self.gather_distributed,
                "negatives": self.negatives}


@keras.saving.register_keras_serializable(package="kssl")
class CPC(_PredictiveCoding, ImageModel):
    """Contrastive Predictive Coding on images (CPC v2): patch rows are the steps.

    Args:
        encoder: g_enc, a `keras.Model` from one patch `(patch_size, patch_size, channels)` to
            `(batch, d)`, e.g. `kssl.backbones.convnet((8, 8, 1))`.
        image_shape: `(height, width, channels)` of the training images; the grid of `patch_size`
            patches `patch_stride` apart must tile it exactly (32 px: 7x7 of 8 stride 4; 28 px
            Fashion-MNIST: 6x6 of 8 stride 4).
        patch_size, patch_stride: the patch grid.
        prediction_steps: K, the patch rows predicted ahead; less than the grid's rows.
        context: g_ar, "causal_conv" (convolutions down the rows) or "gru" (one GRU per column).
        context_dim: width of c_t.
        context_layers: layers of g_ar.
        context_kernel: kernel size of a "causal_conv" context.
        augment: a Keras layer applied to the whole images before they are cut (None: none).
        gather_distributed: negatives from every replica (the global batch).
        negatives: "batch" (the paper's: every other latent of the batch) or "sequence" (the other
            patches of the same image only); `kssl.losses.cpc_info_nce`.

    Example:
    >>> import numpy as np, keras, kssl
    >>> patches = kssl.backbones.convnet((8, 8, 1), widths=(8, 16))
    >>> model = kssl.methods.CPC(patches, image_shape=(28, 28, 1), context_dim=16)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(8, 28, 28, 1).astype("float32"), batch_size=4, epochs=1, verbose=0)
    >>> model.grid, model.image_encoder().output_shape
    ((6, 6), (None, 16))
    """

    def __init__(self, encoder, image_shape=None, patch_size=8, patch_stride=4, prediction_steps=3,
                 context="causal_conv", context_dim=256, context_layers=1, context_kernel=3, augment=None,
                 gather_distributed=True, negatives="batch", **kwargs):
        if image_shape is None or len(tuple(image_shape)) != 3:
            raise ValueError(f"`image_shape` must be (height, width, channels) of the training images; got {image_shape!r}.")
        image_shape = tuple(int(v) for v in image_shape)
        super().__init__(encoder, augment=augment, image_shape=image_shape, **kwargs)
        self.patch_grid = PatchGrid(patch_size, patch_stride, name="patch_grid")
        self.patch_size, self.patch_stride = self.patch_grid.patch_size, self.patch_grid.patch_stride
        expected = (self.patch_size, self.patch_size, image_shape[-1])
        if tuple(encoder.input_shape[1:]) != expected:
            raise ValueError(
                f"`encoder` must take one patch of shape {expected} (`patch_size`, `patch_size`, channels of "
                f"`image_shape`); its input shape is {encoder.input_shape}."
            )
        self.grid = self.patch_grid.grid(image_shape)
        if check_positive_int("prediction_steps", prediction_steps) >= self.grid[0]:
            raise ValueError(
                f"`prediction_steps` must be less than the patch grid's rows ({self.grid[0]} for "
                f"`image_shape` {image_shape}); got {prediction_steps}."
            )
        self._build_prediction((*self.grid, self.feature_dim), prediction_steps, context, context_dim,
                               context_layers, context_kernel, gather_distributed, negatives)

    def encode(self, x, training=False):
        """z: `(batch, rows, cols, d)`, the encoder applied to every patch of the grid."""
        rows, cols = self.grid
        patches = ops.reshape(self.patch_grid(x), (-1, self.patch_size, self.patch_size, self.image_shape[-1]))
        return ops.reshape(self.encoder(patches, training=training), (-1, rows, cols, self.feature_dim))

    def image_encoder(self):
        """Images -> the mean of the patch encoder's vectors over the grid (shares weights)."""
        return patch_grid_encoder(self.encoder, self.image_shape, self.patch_size, self.patch_stride)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "patch_size": self.patch_size,
                "patch_stride": self.patch_stride, **self._prediction_config()}


@keras.saving.register_keras_serializable(package="kssl")
class CPCAudio(_PredictiveCoding, SelfSupervisedModel):
    """Contrastive Predictive Coding on raw waveforms: the encoder's frames (10 ms) are the steps.

    Args:
        encoder: g_enc, a `keras.Model` from `(batch, samples, 1)` to `(batch, steps, d)`, e.g.
            `kssl.backbones.audio_encoder()`.
        prediction_steps: K, the steps predicted ahead (12 in the paper); a training window must give
            more steps than K.
        context: g_ar, "gru" (the paper's) or "causal_conv".
        context_dim, context_layers, context_kernel: as `CPC`.
        augment: a Keras layer applied to the waveforms `(batch, samples, 1)` before encoding (None: none).
        gather_distributed: negatives from every replica (the global batch).
        negatives: "batch" (the paper's: every other step of every sequence of the batch) or "sequence"
            (the other steps of the same clip only, Riviere et al., 2020: the speaker no longer gives
            the positive away); `kssl.losses.cpc_info_nce`.

    Batches are float waveforms shaped `(batch, samples)` or `(batch, samples, 1)` (`kssl.data.audio`).

    Example:
    >>> import numpy as np, kssl
    >>> model = kssl.methods.CPCAudio(kssl.backbones.audio_encoder(width=16), context_dim=16)
    >>> outputs = model(np.zeros((2, 3200), "float32"))     # 3200 samples = 20 steps of 10 ms
    >>> tuple(outputs["latents"].shape), tuple(outputs["context"].shape), tuple(outputs["predictions"].shape)
    ((2, 20, 16), (2, 20, 16), (2, 20, 12, 16))
    >>> model.context_encoder().output_shape
    (None, None, 16)
    """

    def __init__(self, encoder, prediction_steps=12, context="gru", context_dim=256, context_layers=1,
                 context_kernel=3, augment=None, gather_distributed=True, negatives="batch", **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.feature_dim = self._check_encoder(encoder)
        self._build_prediction((None, self.feature_dim), prediction_steps, context, context_dim,
                               context_layers, context_kernel, gather_distributed, negatives)

    @staticmethod
    def _check_encoder(encoder):
        shape = encoder.input_shape
        if not isinstance(shape, tuple) or len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                f"`encoder` must take waveforms shaped (batch, samples, 1), e.g. kssl.backbones.audio_encoder(); "
                f"its input shape is {shape}."
            )
        output = encoder.compute_output_spec(keras.KerasTensor((2, 1600, 1)))
        if len(output.shape) != 3 or output.shape[-1] is None:
            raise ValueError(
                f"`encoder` must map waveforms to sequences (batch, steps, features); it outputs shape "
                f"{tuple(output.shape)}."
            )
        return int(output.shape[-1])

    def check_inputs(self, x):
        name = type(self).__name__
        if len(x.shape) == 2:
            x = ops.expand_dims(x, -1)
        shape = tuple(x.shape)
        if len(shape) != 3 or shape[-1] != 1:
            raise ValueError(f"{name}: `x` must be a batch of waveforms shaped (batch, samples) or "
                             f"(batch, samples, 1); got shape {shape}.")
        dtype = keras.backend.standardize_dtype(x.dtype)
        if "float" not in dtype:
            raise ValueError(f"{name}: `x` must be float waveforms; got dtype {dtype}.")
        if shape[1] is not None:
            steps = self.encoder.compute_output_shape((None, shape[1], 1))[1]
            if steps is not None and steps <= self.prediction_steps:
                raise ValueError(
                    f"{name}: `x` is shorter than the prediction horizon: {shape[1]} samples give {steps} "
                    f"steps, and `prediction_steps` = {self.prediction_steps} needs more than "
                    f"{self.prediction_steps} steps."
                )
        return ops.cast(x, self.compute_dtype)

    def encode(self, x, training=False):
        """z: `(batch, steps, d)`."""
        return self.encoder(x, training=training)

    def context_encoder(self):
        """Waveforms `(batch, samples, 1)` -> c_t `(batch, steps, context_dim)` (shares weights): the
        features the paper's phone and speaker probes use."""
        inputs = keras.Input((None, 1))
        return keras.Model(inputs, self.context(self.encoder(inputs)), name="cpc_context")

    def get_config(self):
        return {**super().get_config(), **self._prediction_config()}


__all__ = ["CPC", "CPCAudio", "PatchGrid", "grid_size", "patch_grid_encoder"]
