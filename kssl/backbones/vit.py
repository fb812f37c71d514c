"""A small Vision Transformer (Dosovitskiy et al., 2021) for 28-32 px images, and its two halves for MAE.

    images (H, W, C) -> p x p patches -> linear embedding (a stride-p convolution) -> + learnt positions
      -> [class token] + tokens -> depth x pre-norm transformer block -> LayerNorm -> class token or mean

Why not keras-hub's `ViTBackbone` (keras-hub 0.32): it builds the patch embedding, the class token and the
position embedding as one layer (`ViTPatchingAndEmbedding`) fixed to the image size it was built for, so
it cannot (1) encode a subset of the patch tokens, which MAE's encoder needs (it sees only the visible
25 %), nor (2) take DINO's small multi-crop views, which need the position embedding resized to another
grid. The transformer blocks are keras-hub's own (`keras_hub.layers.TransformerEncoder`, pre-norm, GELU),
and the model is a functional `keras.Model` built in one function, keras-hub's way, so its config round
trips and `kssl.zoo` presets load it.

The two halves share the encoder's layers (training them trains the encoder):
  - `patch_tokens(encoder)`: images -> `(batch, patches, dim)` embedded patches with their positions;
  - `token_encoder(encoder)`: any `(batch, n, dim)` subset of those tokens -> the encoded sequence
    `(batch, [1 +] n, dim)` (class token first when the encoder has one), after the final LayerNorm.
"""

import keras
from keras import ops

from kssl.checks import check_choice, check_positive, check_positive_int

POOLING = ("cls", "mean")


@keras.saving.register_keras_serializable(package="kssl")
class PatchPositions(keras.layers.Layer):
    """Adds a learnt position embedding to a `(batch, h, w, dim)` grid of patch embeddings and flattens it
    to `(batch, h * w, dim)` tokens, row by row. A grid of another size than `grid_size` (a small
    multi-crop view) gets the embedding resized to its size, as DINO's `interpolate_pos_encoding` does
    (bilinearly: XLA has no bicubic resize kernel).

    Args:
        grid_size: (rows, columns) of patches of the images the encoder is built for.

    Example:
    >>> import numpy as np
    >>> from kssl.backbones.vit import PatchPositions
    >>> layer = PatchPositions((7, 7))
    >>> tuple(layer(np.zeros((2, 7, 7, 8), "float32")).shape), tuple(layer(np.zeros((2, 3, 3, 8), "float32")).shape)
    ((2, 49, 8), (2, 9, 8))
    """

    def __init__(self, grid_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(grid_size, (tuple, list)) or len(grid_size) != 2:
            raise ValueError(f"`grid_size` must be (rows, columns) of patches; got {grid_size!r}.")
        self.grid_size = tuple(check_positive_int("grid_size", g) for g in grid_size)

    def build(self, input_shape):
        self.embedding = self.add_weight(shape=(*self.grid_size, input_shape[-1]), name="embedding",
                                         initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, x):
        h, w, dim = x.shape[1], x.shape[2], x.shape[3]
        embedding = ops.cast(self.embedding, x.dtype)
        if (h, w) != self.grid_size:
            embedding = ops.image.resize(embedding[None], (h, w), interpolation="bilinear")[0]
        return ops.reshape(x + embedding[None], (-1, h * w, dim))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None or w is None else h * w, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size}


@keras.saving.register_keras_serializable(package="kssl")
class ClassToken(keras.layers.Layer):
    """Prepends one learnt token to a `(batch, n, dim)` sequence: `(batch, 1 + n, dim)`.

    Example:
    >>> import numpy as np
    >>> from kssl.backbones.vit import ClassToken
    >>> tuple(ClassToken()(np.zeros((2, 5, 8), "float32")).shape)
    (2, 6, 8)
    """

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), name="token",
                                     initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, x):
        token = ops.broadcast_to(ops.cast(self.token, x.dtype), (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] + 1, input_shape[2])


@keras.saving.register_keras_serializable(package="kssl")
class TokenPooling(keras.layers.Layer):
    """`(batch, tokens, dim)` -> `(batch, dim)`: the class token (`pooling="cls"`, the first token) or the
    mean of the patch tokens (`pooling="mean"`; the class token, if any, left out).

    Example:
    >>> import numpy as np
    >>> from kssl.backbones.vit import TokenPooling
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> TokenPooling("mean", class_token=True)(x).numpy().tolist()
    [[3.0, 4.0]]
    """

    def __init__(self, pooling="cls", class_token=True, **kwargs):
        super().__init__(**kwargs)
        self.pooling = check_choice("pooling", pooling, POOLING)
        self.class_token = bool(class_token)
        if self.pooling == "cls" and not self.class_token:
            raise ValueError("`pooling`='cls' needs a class token (`class_token`=True).")

    def call(self, x):
        if self.pooling == "cls":
            return x[:, 0]
        return ops.mean(x[:, 1:] if self.class_token else x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "pooling": self.pooling, "class_token": self.class_token}


def vit(input_shape=(28, 28, 1), patch_size=4, hidden_dim=128, depth=4, num_heads=4, mlp_ratio=2.0,
        pooling="cls", dropout=0.0, name="vit"):
    """A small ViT encoder from images in [0, 1] to `(batch, hidden_dim)` features.

    Defaults fit this CPU: 28x28 images in 4x4 patches (7x7 = 49 tokens), width 128, 4 blocks (~0.55 M
    parameters); ViT-S/16 is width 384, depth 12, 6 heads, MLP ratio 4.

    Args:
        input_shape: (height, width, channels), each side a multiple of `patch_size`.
        patch_size: side p of the square patches.
        hidden_dim: token width, a multiple of `num_heads`.
        depth: transformer blocks.
        num_heads: attention heads.
        mlp_ratio: hidden width of each block's MLP over `hidden_dim` (4 in the paper).
        pooling: "cls" (a class token, whose final state is the feature) or "mean" (no class token; the
            mean of the patch tokens).
        dropout: dropout rate inside the blocks.
        name: model name.

    Returns:
        A functional `keras.Model`; `patch_tokens` and `token_encoder` give its two halves.

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.vit((28, 28, 1), patch_size=4, hidden_dim=32, depth=2, num_heads=2)
    >>> encoder.output_shape, tuple(kssl.backbones.patch_tokens(encoder).output_shape)
    ((None, 32), (None, 49, 32))
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3 or not all(
            isinstance(d, int) and d > 0 for d in input_shape):
        raise ValueError(f"`input_shape` must be (height, width, channels) with positive integers; got {input_shape!r}.")
    patch_size = check_positive_int("patch_size", patch_size)
    if input_shape[0] % patch_size or input_shape[1] % patch_size:
        raise ValueError(f"`patch_size` {patch_size} must divide the image's height and width {tuple(input_shape[:2])}.")
    hidden_dim = check_positive_int("hidden_dim", hidden_dim)
    num_heads = check_positive_int("num_heads", num_heads)
    if hidden_dim % num_heads:
        raise ValueError(f"`hidden_dim` {hidden_dim} must be a multiple of `num_heads` {num_heads}.")
    depth = check_positive_int("depth", depth)
    mlp_ratio = check_positive("mlp_ratio", mlp_ratio)
    pooling = check_choice("pooling", pooling, POOLING)
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1); got {dropout!r}.")
    import keras_hub

    grid = (input_shape[0] // patch_size, input_shape[1] // patch_size)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = keras.layers.Conv2D(hidden_dim, patch_size, strides=patch_size, name="patch_embedding")(inputs)
    x = PatchPositions(grid, name="position_embedding")(x)
    if pooling == "cls":
        x = ClassToken(name="class_token")(x)
    for i in range(depth):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=max(1, int(round(mlp_ratio * hidden_dim))), num_heads=num_heads, dropout=dropout,
            activation="gelu", layer_norm_epsilon=1e-6, normalize_first=True, name=f"block{i + 1}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    outputs = TokenPooling(pooling, class_token=pooling == "cls", name="pool")(x)
    return keras.Model(inputs, outputs, name=name)


def _check_vit(encoder, what):
    names = {layer.name for layer in getattr(encoder, "layers", [])}
    missing = {"patch_embedding", "position_embedding", "norm", "pool"} - names
    if missing or not any(name.startswith("block") for name in names):
        raise ValueError(f"{what}: `encoder` must be a ViT from kssl.backbones.vit (layers patch_embedding, "
                         f"position_embedding, block1.., norm, pool); {getattr(encoder, 'name', encoder)!r} lacks "
                         f"{sorted(missing) or ['block1']}.")


def patch_size_of(encoder):
    """The patch side p of a `vit` encoder."""
    _check_vit(encoder, "patch_size_of")
    return int(encoder.get_layer("patch_embedding").kernel_size[0])


def has_class_token(encoder):
    """Whether a `vit` encoder has a class token (`pooling="cls"`)."""
    _check_vit(encoder, "has_class_token")
    return any(layer.name == "class_token" for layer in encoder.layers)


def patch_tokens(encoder):
    """The first half of a `vit` encoder: a `keras.Model` from its images to `(batch, patches, dim)`
    embedded patch tokens, positions added, in row-major patch order (sharing the encoder's layers).

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.vit((28, 28, 1), patch_size=7, hidden_dim=16, depth=1, num_heads=2)
    >>> kssl.backbones.patch_tokens(encoder).output_shape
    (None, 16, 16)
    """
    _check_vit(encoder, "patch_tokens")
    return keras.Model(encoder.input, encoder.get_layer("position_embedding").output,
                       name=f"{encoder.name}_patch_tokens")


def token_encoder(encoder):
    """The second half of a `vit` encoder: a `keras.Model` from any `(batch, n, dim)` set of patch tokens
    (e.g. MAE's visible ones, taken from `patch_tokens`) to the encoded sequence `(batch, [1 +] n, dim)`
    after the final LayerNorm, class token first when the encoder has one. It shares the encoder's layers.

    Example:
    >>> import numpy as np, kssl
    >>> encoder = kssl.backbones.vit((28, 28, 1), patch_size=4, hidden_dim=16, depth=1, num_heads=2)
    >>> tuple(kssl.backbones.token_encoder(encoder)(np.zeros((2, 12, 16), "float32")).shape)
    (2, 13, 16)
    """
    _check_vit(encoder, "token_encoder")
    dim = encoder.get_layer("position_embedding").output.shape[-1]
    tokens = keras.Input((None, dim), name="tokens")
    x = tokens
    for layer in encoder.layers:
        if layer.name == "class_token" or layer.name.startswith("block") or layer.name == "norm":
            x = layer(x)
    return keras.Model(tokens, x, name=f"{encoder.name}_token_encoder")


__all__ = ["ClassToken", "PatchPositions", "TokenPooling", "has_class_token", "patch_size_of", "patch_tokens",
           "token_encoder", "vit"]
