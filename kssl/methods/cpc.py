"""Contrastive Predictive Coding (van den Oord, Li & Vinyals, 2018; images as in CPC v2, Henaff et
al., 2019).

    for a batch of sequences (raw audio; or an image cut into an overlapping grid of patches,
    read top to bottom one patch row per step):
        encode     z_t = g_enc(x_t)                    (the encoder; what transfers)
        summarise  c_t = g_ar(z_1 .. z_t)              (GRU; for images a causal convolution over
                                                        patch rows: row r sees rows <= r only)
        predict    zhat_{t+k} = W_k c_t,   k = 1 .. K  (one linear map per k)
        loss       1/K sum_k InfoNCE(zhat_{t+k}, z_{t+k}); negatives: every other z_{t'+k} of every
                   sequence (and grid column) of the global batch; score zhat . z, no temperature

Audio: the encoder maps a waveform `(batch, samples, 1)` to `(batch, steps, d)` (`audio_encoder`:
strided 1-D convolutions, overall stride 160 = 10 ms at 16 kHz as in the paper). Images: the encoder
maps one patch `(patch_size, patch_size, channels)` to a vector (any kssl backbone), applied to every
cell of the grid (`PatchGrid`); `image_encoder()` is the whole-image encoder a linear probe uses (the
mean of the grid's patch vectors).
"""

import keras
from keras import layers, ops

from kssl import losses
from kssl.checks import check_choice
from kssl.core import ImageModel, encoder_output_dim

MODALITIES = ("image", "audio")
CONTEXTS = ("gru", "causal_conv")
DEFAULT_STEPS = {"audio": 12, "image": 3}


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    return value


def grid_size(size, patch_size, patch_stride, name="image_shape"):
    """Number of patches of `patch_size`, `patch_stride` apart, that tile a side of `size` pixels
    exactly; a ValueError naming the arguments when they do not (e.g. 32, 8, 4 -> 7; 28, 8, 4 -> 6)."""
    _positive_int(patch_size, "patch_size")
    _positive_int(patch_stride, "patch_stride")
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
        self.patch_size = _positive_int(patch_size, "patch_size")
        self.patch_stride = _positive_int(patch_stride, "patch_stride")

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


def audio_encoder(width=512, strides=(5, 4, 2, 2, 2), kernel_sizes=(10, 8, 4, 4, 4), samples=None, name="cpc_audio"):
    """The CPC audio encoder g_enc: per layer a strided Conv1D ("same" padding), a per-frame
    LayerNormalization (channel norm; it mixes no time steps) and ReLU.

    A waveform of L samples gives ceil(L / prod(strides)) steps (exactly L / 160 for the default
    strides when L is a multiple of 160): step t summarises samples [160 t, 160 (t + 1)), with
    receptive-field overlap into its neighbours.

    Example:
    >>> import kssl
    >>> kssl.methods.cpc.audio_encoder(width=32, samples=16000).output_shape
    (None, 100, 32)
    """
    _positive_int(width, "width")
    strides, kernel_sizes = tuple(strides), tuple(kernel_sizes)
    if not strides or len(strides) != len(kernel_sizes):
        raise ValueError(f"`strides` and `kernel_sizes` must be non-empty and of equal length; got {strides!r} and {kernel_sizes!r}.")
    for i, (s, k) in enumerate(zip(strides, kernel_sizes)):
        _positive_int(s, f"strides[{i}]")
        _positive_int(k, f"kernel_sizes[{i}]")
    inputs = keras.Input((samples, 1), name="waveform")
    x = inputs
    for i, (s, k) in enumerate(zip(strides, kernel_sizes)):
        x = layers.Conv1D(width, k, strides=s, padding="same", name=f"conv{i + 1}")(x)
        x = layers.LayerNormalization(name=f"norm{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
    return keras.Model(inputs, x, name=name)


def context_network(kind, input_shape, units=256, num_layers=1, kernel_size=3, name="context"):
    """g_ar: a causal model of `input_shape` = `(steps, d)` (audio) or `(rows, cols, d)` (images),
    whose output at step t (row r) depends on steps <= t (rows <= r) only.

    - "gru": GRU layers over time; for images one GRU per column, running down the rows.
    - "causal_conv": convolutions padded on the past side only (Conv1D padding="causal"; for images
      Conv2D with `kernel_size - 1` rows of zero padding above, centred across columns), ReLU between.
    """
    check_choice("context", kind, CONTEXTS)
    _positive_int(units, "context_dim")
    _positive_int(num_layers, "context_layers")
    _positive_int(kernel_size, "context_kernel")
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    if len(input_shape) == 2:
        for i in range(num_layers):
            if kind == "gru":
                x = layers.GRU(units, return_sequences=True, name=f"gru{i + 1}")(x)
            else:
                x = layers.Conv1D(units, kernel_size, padding="causal", activation="relu", name=f"conv{i + 1}")(x)
    else:
        if kind == "gru":
            x = layers.Permute((2, 1, 3))(x)  # (cols, rows, d): one sequence per column
            for i in range(num_layers):
                x = layers.TimeDistributed(layers.GRU(units, return_sequences=True), name=f"gru{i + 1}")(x)
            x = layers.Permute((2, 1, 3))(x)
        else:
            for i in range(num_layers):
                x = layers.ZeroPadding2D(((kernel_size - 1, 0), (kernel_size // 2, (kernel_size - 1) // 2)))(x)
                x = layers.Conv2D(units, kernel_size, activation="relu", name=f"conv{i + 1}")(x)
    return keras.Model(inputs, x, name=name)


@keras.saving.register_keras_serializable(package="kssl")
class CPC(ImageModel):
    """Contrastive Predictive Coding, for images (patch rows) or raw audio (10 ms steps).

    Args:
        encoder: g_enc. Images: a `keras.Model` from one patch `(patch_size, patch_size, channels)`
            to `(batch, d)`, e.g. `kssl.backbones.convnet((8, 8, 1))`. Audio: a `keras.Model` from
            `(batch, samples, 1)` to `(batch, steps, d)`, e.g. `kssl.methods.cpc.audio_encoder()`.
        modality: "image" or "audio".
        image_shape: images only, `(height, width, channels)` of the training images; the grid of
            `patch_size` patches `patch_stride` apart must tile it exactly (32 px: 7x7 of 8 stride 4;
            28 px Fashion-MNIST: 6x6 of 8 stride 4).
        patch_size, patch_stride: the patch grid (images).
        prediction_steps: K, the steps (patch rows) predicted ahead; default 12 for audio (the
            paper), 3 for images. Must be less than the sequence length (the grid's rows).
        context: g_ar, "gru" or "causal_conv" (default: "gru" for audio, "causal_conv" for images).
        context_dim: width of c_t.
        context_layers: layers of g_ar.
        context_kernel: kernel size of a "causal_conv" context.
        augment: a Keras layer applied to the whole batch before encoding (None: none).
        gather_distributed: negatives from every replica (the global batch).

    Example:
    >>> import numpy as np, keras, kssl
    >>> patches = kssl.backbones.convnet((8, 8, 1), widths=(8, 16))
    >>> model = kssl.methods.CPC(patches, modality="image", image_shape=(28, 28, 1), context_dim=16)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(8, 28, 28, 1).astype("float32"), batch_size=4, epochs=1, verbose=0)
    >>> model.image_encoder().output_shape
    (None, 16)
    >>> audio = kssl.methods.CPC(kssl.methods.cpc.audio_encoder(width=16), modality="audio", context_dim=16)
    >>> outputs = audio(np.zeros((2, 3200), "float32"))     # 3200 samples = 20 steps of 10 ms
    >>> tuple(outputs["latents"].shape), tuple(outputs["context"].shape), tuple(outputs["predictions"].shape)
    ((2, 20, 16), (2, 20, 16), (2, 20, 12, 16))
    """

    def __init__(
        self,
        encoder,
        modality="image",
        image_shape=None,
        patch_size=8,
        patch_stride=4,
        prediction_steps=None,
        context=None,
        context_dim=256,
        context_layers=1,
        context_kernel=3,
        augment=None,
        gather_distributed=True,
        **kwargs,
    ):
        check_choice("modality", modality, MODALITIES)
        self._modality_for_check = modality
        super().__init__(encoder, augment=augment, **kwargs)
        self.modality = modality
        self.patch_size = _positive_int(patch_size, "patch_size")
        self.patch_stride = _positive_int(patch_stride, "patch_stride")
        self.prediction_steps = _positive_int(
            DEFAULT_STEPS[modality] if prediction_steps is None else prediction_steps, "prediction_steps")
        self.context_kind = check_choice("context", context or ("gru" if modality == "audio" else "causal_conv"), CONTEXTS)
        self.context_dim = _positive_int(context_dim, "context_dim")
        self.context_layers = _positive_int(context_layers, "context_layers")
        self.context_kernel = _positive_int(context_kernel, "context_kernel")
        self.gather_distributed = bool(gather_distributed)
        d = self.feature_dim
        if modality == "image":
            self.image_shape = self._check_image_shape(image_shape)
            self.patch_grid = PatchGrid(patch_size, patch_stride, name="patch_grid")
            self.grid = self.patch_grid.grid(self.image_shape)
            if self.prediction_steps >= self.grid[0]:
                raise ValueError(
                    f"`prediction_steps` must be less than the patch grid's rows ({self.grid[0]} for "
                    f"`image_shape` {self.image_shape}); got {self.prediction_steps}."
                )
            steps_shape = (*self.grid, d)
        else:
            if image_shape is not None:
                raise ValueError(f"`image_shape` is for modality='image'; got {image_shape!r} with modality='audio'.")
            self.image_shape = None
            steps_shape = (None, d)
        self.context = context_network(self.context_kind, steps_shape, self.context_dim, self.context_layers,
                                       self.context_kernel, name="context")
        # W_1 .. W_K as one linear map to K * d outputs (the same parameters as K separate ones).
        self.predictor = layers.Dense(self.prediction_steps * d, use_bias=False, name="predictor")
        self.predictor.build((None, self.context_dim))
        self.built = True

    # ---- checks -------------------------------------------------------------------------------
    def encoder_dim(self, encoder):
        if self._modality_for_check == "image":
            return encoder_output_dim(encoder)
        if not isinstance(encoder, keras.Model):
            raise TypeError(f"`encoder` must be a keras.Model; got {type(encoder).__name__}.")
        shape = encoder.input_shape
        if not isinstance(shape, tuple) or len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                f"`encoder` must take waveforms shaped (batch, samples, 1) for modality='audio', e.g. "
                f"kssl.methods.cpc.audio_encoder(); its input shape is {shape}."
            )
        output = encoder.compute_output_spec(keras.KerasTensor((2, 1600, 1)))
        if len(output.shape) != 3 or output.shape[-1] is None:
            raise ValueError(
                f"`encoder` must map waveforms to sequences (batch, steps, features) for modality='audio'; it "
                f"outputs shape {tuple(output.shape)}."
            )
        return int(output.shape[-1])

    def _check_image_shape(self, image_shape):
        if image_shape is None or len(tuple(image_shape)) != 3:
            raise ValueError(f"`image_shape` must be (height, width, channels) for modality='image'; got {image_shape!r}.")
        image_shape = tuple(int(v) for v in image_shape)
        expected = (self.patch_size, self.patch_size, image_shape[-1])
        if tuple(self.encoder.input_shape[1:]) != expected:
            raise ValueError(
                f"`encoder` must take one patch of shape {expected} (`patch_size`, `patch_size`, channels of "
                f"`image_shape`); its input shape is {self.encoder.input_shape}."
            )
        return image_shape

    @property
    def input_channels(self):
        return 1 if self.modality == "audio" else self.image_shape[-1]

    def check_images(self, x):
        name = "CPC"
        shape = tuple(x.shape)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if self.modality == "image":
            expected = (None, *self.image_shape)
            if len(shape) != 4 or any(a is not None and a != b for a, b in zip(shape[1:], self.image_shape)):
                raise ValueError(f"{name}: `x` must be a batch of images shaped {expected}; got shape {shape}.")
        else:
            if len(shape) == 2:
                x = ops.expand_dims(x, -1)
                shape = tuple(x.shape)
            if len(shape) != 3 or shape[-1] != 1:
                raise ValueError(f"{name}: `x` must be a batch of waveforms shaped (batch, samples) or "
                                 f"(batch, samples, 1); got shape {shape}.")
            if shape[1] is not None:
                steps = self.encoder.compute_output_shape((None, shape[1], 1))[1]
                if steps is not None and steps <= self.prediction_steps:
                    raise ValueError(
                        f"{name}: `x` is shorter than the prediction horizon: {shape[1]} samples give {steps} "
                        f"steps, and `prediction_steps` = {self.prediction_steps} needs more than "
                        f"{self.prediction_steps} steps."
                    )
        if "int" in dtype:
            raise ValueError(f"{name}: `x` must be float; got dtype {dtype}.")
        return ops.cast(x, self.compute_dtype)

    # ---- the algorithm ------------------------------------------------------------------------
    def encode(self, x, training=False):
        """z: `(batch, steps, d)` for audio, `(batch, rows, cols, d)` for images."""
        if self.modality == "audio":
            return self.encoder(x, training=training)
        rows, cols = self.grid
        patches = ops.reshape(self.patch_grid(x), (-1, self.patch_size, self.patch_size, self.image_shape[-1]))
        return ops.reshape(self.encoder(patches, training=training), (-1, rows, cols, self.feature_dim))

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
        return losses.cpc_info_nce(outputs["predictions"], outputs["latents"], self.gather_distributed)

    # ---- transfer -----------------------------------------------------------------------------
    def image_encoder(self):
        """Images -> the mean of the patch encoder's vectors over the grid (shares weights)."""
        if self.modality != "image":
            raise ValueError("image_encoder() is for modality='image'; use `encoder` or context_encoder() for audio.")
        return patch_grid_encoder(self.encoder, self.image_shape, self.patch_size, self.patch_stride)

    def context_encoder(self):
        """Waveforms `(batch, samples, 1)` -> c_t `(batch, steps, context_dim)` (audio; shares weights):
        the features the paper's phone and speaker probes use."""
        if self.modality != "audio":
            raise ValueError("context_encoder() is for modality='audio'.")
        inputs = keras.Input((None, 1))
        return keras.Model(inputs, self.context(self.encoder(inputs)), name="cpc_context")

    def get_config(self):
        return {
            **super().get_config(),
            "modality": self.modality,
            "image_shape": self.image_shape,
            "patch_size": self.patch_size,
            "patch_stride": self.patch_stride,
            "prediction_steps": self.prediction_steps,
            "context": self.context_kind,
            "context_dim": self.context_dim,
            "context_layers": self.context_layers,
            "context_kernel": self.context_kernel,
            "gather_distributed": self.gather_distributed,
        }
