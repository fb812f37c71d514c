"""Jigsaw puzzles (Noroozi & Favaro, 2016, "Unsupervised learning of visual representations by solving
jigsaw puzzles").

    permutation set  P = {p_1..p_N}: N permutations of 9 tiles with maximal Hamming distance (fixed)
    for a minibatch {x_k}:
        tiles      a 3x3 grid of tile_size tiles, gap pixels apart, each jittered in its cell
        shuffle    draw i_k uniformly from 1..N; position j gets tile p_{i_k}(j)
        encode     h_j = f(tile_j) for each of the 9 tiles   (one shared encoder: the context-free
                                                              network; what transfers)
        classify   p = softmax(g([h_1, ..., h_9]))            (MLP head; dropped at transfer)
        loss       mean_k  -log p_{i_k}
"""

import math

import keras
from keras import ops

from kssl.checks import check_positive_int
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.ops import pretext


@keras.saving.register_keras_serializable(package="kssl")
class Jigsaw(ImageModel):
    """Jigsaw: classify which permutation of a 3x3 grid of tiles the network is shown.

    `encoder` is the shared-weight tile encoder (the context-free network's column), applied to each
    tile with `kssl.pretext.encode_at_any_size`: build it for `tile_size` tiles, for
    `(None, None, channels)`, or for the whole images if it is fully convolutional with global pooling
    (as `kssl.backbones` encoders are; then `model.encoder` takes whole images as it is). An encoder
    built for tiles applies to whole images through `kssl.pretext.with_input_shape` (a copy at the
    image size), which is how the examples' linear probe evaluates it.

    The images must hold the grid: at least 3 x (tile_size + gap + jitter) pixels a side (checked).
    Tile layout, gap and jitter: `kssl.pretext` (module docstring). Tiles are not normalised one by
    one (the paper does, against low-level statistics shortcuts), so that the encoder sees at
    transfer time the same pixel scale it was trained on.

    Args:
        encoder: `keras.Model` from `(tile_size, tile_size, channels)` tiles to `(batch, features)` (see
            above for the other input sizes it may be built for).
        tile_size: side of each tile in pixels.
        gap: smallest distance between neighbouring tiles in pixels (>= 0).
        jitter: largest random offset of a tile in its cell (>= 0).
        num_permutations: size of the permutation set (the paper: 100 or 1000; at most 9!).
        permutation_seed: seed of the permutation set (`kssl.pretext.maximal_hamming_permutations`).
        hidden_dim: hidden width of the head (default 512).
        head_layers: Dense layers of the head on the 9 concatenated tile features.
        augment: optional Keras layer applied to the whole images first (e.g. a resize, crop or flip).
        seed: seed of the tile jitter and of the permutation drawn for each image.

    Returns from `model(x)`: {"logits": (batch, num_permutations), "labels": (batch,)}.

    Example (28x28 images, tiles 8x8, gap 1, jitter 0 -> a 27x27 grid):
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((8, 8, 1), widths=(8, 16))
    >>> model = kssl.methods.Jigsaw(encoder, tile_size=8, gap=1, jitter=0, num_permutations=10, hidden_dim=32)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(16, 28, 28, 1).astype("float32"), batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    grid = 3

    def __init__(self, encoder, tile_size=9, gap=1, jitter=1, num_permutations=100, permutation_seed=0,
                 hidden_dim=512, head_layers=2, augment=None, seed=None, **kwargs):
        # The images are larger than the tiles the encoder sees: any size (checked against the grid on
        # the first batch), with the encoder's channels.
        super().__init__(encoder, augment=augment, image_shape=(None, None, encoder.input_shape[-1]), **kwargs)
        # Validates tile_size, gap and jitter (a minimum image size is checked on the first batch).
        pretext.check_grid((10**9, 10**9), self.grid, tile_size, gap, jitter)
        pretext.check_tile_encoder(encoder, tile_size, type(self).__name__)
        self.tile_size, self.gap, self.jitter = int(tile_size), int(gap), int(jitter)
        limit = math.factorial(self.grid**2)
        check_positive_int("num_permutations", num_permutations, 2)
        if num_permutations > limit:
            raise ValueError(
                f"`num_permutations` must be an integer in [2, {limit}] (9! permutations of 9 tiles); got "
                f"{num_permutations!r}."
            )
        self.num_permutations, self.permutation_seed = num_permutations, permutation_seed
        self.permutations = pretext.maximal_hamming_permutations(num_permutations, self.grid**2, permutation_seed)
        self.hidden_dim, self.head_layers, self.seed = hidden_dim, head_layers, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.head = ProjectionHead(hidden_dim, num_permutations, num_layers=head_layers, name="head")
        self.head.build((None, self.grid**2 * self.feature_dim))
        self.built = True

    def puzzles(self, view, training=True):
        """Puzzles of a batch of (augmented) images `view`: shuffled tiles `(batch, 9, tile, tile,
        channels)`, their labels `(batch,)`, and each shuffled position's tile corners `(ys, xs)`,
        each `(batch, 9)`. With `training=False` the grid is centred and the tiles not jittered."""
        tiles, (ys, xs) = pretext.extract_tiles(
            view, self.grid, self.tile_size, self.gap, self.jitter, self.seed_generator, training
        )
        labels = keras.random.randint((ops.shape(view)[0],), 0, self.num_permutations, seed=self.seed_generator)
        labels = ops.cast(labels, "int32")
        shuffled = pretext.shuffle_tiles(tiles, self.permutations, labels)
        order = ops.take(ops.convert_to_tensor(self.permutations, "int32"), labels, axis=0)
        return shuffled, labels, (ops.take_along_axis(ys, order, 1), ops.take_along_axis(xs, order, 1))

    def forward(self, x, training=False):
        (view,) = self.views(x, 1)
        tiles, labels, _ = self.puzzles(view, training=True)  # random puzzles also in evaluate()
        count, t, channels = self.grid**2, self.tile_size, tiles.shape[-1]
        features = pretext.encode_at_any_size(self.encoder, ops.reshape(tiles, (-1, t, t, channels)), training=training)
        features = ops.reshape(features, (-1, count * self.feature_dim))  # tiles in shuffled order
        return {"logits": self.head(features, training=training), "labels": labels}

    def ssl_loss(self, outputs, y=None):
        return pretext.cross_entropy(outputs["labels"], outputs["logits"])

    def get_config(self):
        return {
            **super().get_config(),
            "tile_size": self.tile_size,
            "gap": self.gap,
            "jitter": self.jitter,
            "num_permutations": self.num_permutations,
            "permutation_seed": self.permutation_seed,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "seed": self.seed,
        }
