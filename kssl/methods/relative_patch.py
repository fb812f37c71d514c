"""Relative patch position (Doersch, Gupta & Efros, 2015, "Unsupervised visual representation learning
by context prediction").

    for a minibatch {x_k}:
        patches    a 3x3 grid of patch_size patches, gap pixels apart, each jittered in its cell
        pairs      (centre patch, neighbour n) for n in the 8 neighbours (or one random n per image)
        guard      colour images: drop colour channels or project out green-magenta (chromatic aberration)
        encode     h = f(patch)                       (one shared encoder; what transfers)
        classify   p = softmax(g([h_centre, h_n]))    (MLP head on the pair; dropped at transfer)
        loss       mean  -log p_n                     (8-way: where is the neighbour?)
"""

import keras
import numpy as np
from keras import ops

from kssl.checks import check_choice
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.ops import pretext


@keras.saving.register_keras_serializable(package="kssl")
class RelativePatchPosition(ImageModel):
    """Context prediction: which of the 8 neighbouring cells did a patch come from, relative to the centre?

    Label n (0..7) is neighbour cell `kssl.pretext.NEIGHBOURS[n]` of the 3x3 grid, row-major:

        0 1 2
        3 . 4
        5 6 7

    The seeds' guards against trivial shortcuts: a `gap` between patches and a random `jitter` of
    each patch (no matching of edges or lines), and for colour images `chromatic_guard` ("drop" or
    "project", see `kssl.pretext.chromatic_guard`) against lens chromatic aberration, which leaks a
    patch's position in the frame. Grey images need none (`chromatic_guard="none"`).

    `encoder` is the shared patch encoder, applied to each patch with `kssl.pretext.encode_at_any_size`:
    build it for `patch_size` patches, for `(None, None, channels)`, or for the whole images if it is
    fully convolutional with global pooling (then `model.encoder` takes whole images as it is). An
    encoder built for patches applies to whole images through `kssl.pretext.with_input_shape`, which
    is how the examples' linear probe evaluates it.

    Args:
        encoder: `keras.Model` from `(patch_size, patch_size, channels)` patches to `(batch, features)`
            (see above for the other input sizes it may be built for).
        patch_size: side of each patch in pixels.
        gap: smallest distance between neighbouring patches in pixels (>= 0).
        jitter: largest random offset of a patch in its cell (>= 0).
        pairs_per_image: 8 (every neighbour with the centre: one encoder pass over the 9 patches
            gives 8 labelled pairs) or 1 (one random neighbour, as in the paper: 2 patches per image).
        chromatic_guard: "none", "drop" or "project".
        hidden_dim: hidden width of the head (default 512).
        head_layers: Dense layers of the head on the concatenated pair features.
        augment: optional Keras layer applied to the whole images first.
        seed: seed of the jitter, the neighbours and the colour guard.

    Returns from `model(x)`: {"logits": (pairs, 8), "labels": (pairs,)}, pairs = batch * pairs_per_image.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((8, 8, 1), widths=(8, 16))
    >>> model = kssl.methods.RelativePatchPosition(encoder, patch_size=8, gap=1, jitter=0, hidden_dim=32)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.rand(16, 28, 28, 1).astype("float32"), batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    grid = 3

    def __init__(self, encoder, patch_size=9, gap=1, jitter=1, pairs_per_image=8, chromatic_guard="none",
                 hidden_dim=512, head_layers=2, augment=None, seed=None, **kwargs):
        # The images are larger than the patches the encoder sees: any size, the encoder's channels.
        super().__init__(encoder, augment=augment, image_shape=(None, None, encoder.input_shape[-1]), **kwargs)
        pretext.check_grid((10**9, 10**9), self.grid, patch_size, gap, jitter, "patch_size")
        pretext.check_tile_encoder(encoder, patch_size, type(self).__name__, "patch_size")
        if pairs_per_image not in (1, 8):
            raise ValueError(f"`pairs_per_image` must be 1 or 8; got {pairs_per_image!r}.")
        check_choice("chromatic_guard", chromatic_guard, pretext.CHROMATIC_GUARDS)
        channels = encoder.input_shape[-1]
        if chromatic_guard != "none" and channels != 3:
            raise ValueError(
                f"`chromatic_guard` {chromatic_guard!r} is for colour (3-channel) images; the encoder takes "
                f"{channels} channel(s). Use chromatic_guard='none'."
            )
        self.patch_size, self.gap, self.jitter = int(patch_size), int(gap), int(jitter)
        self.pairs_per_image, self.chromatic_guard = pairs_per_image, chromatic_guard
        self.hidden_dim, self.head_layers, self.seed = hidden_dim, head_layers, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.head = ProjectionHead(hidden_dim, 8, num_layers=head_layers, name="head")
        self.head.build((None, 2 * self.feature_dim))
        self.built = True

    def patch_pairs(self, view, training=True):
        """The labelled pairs of a batch of (augmented) images `view`: `(centres, neighbours, labels,
        corners)`, patches `(pairs, size, size, channels)`, labels `(pairs,)`, and corners
        {"centre": (ys, xs), "neighbour": (ys, xs)}, each `(pairs,)`.

        Pairs are image-major: with 8 pairs per image, pair 8 * b + n is image b's neighbour n. With
        `training=False` the grid is centred and the patches are not jittered."""
        batch = ops.shape(view)[0]
        ys, xs = pretext.tile_coordinates(
            batch, tuple(view.shape[1:3]), self.grid, self.patch_size, self.gap, self.jitter,
            self.seed_generator, training, "patch_size",
        )
        neighbours = ops.convert_to_tensor(np.array(pretext.NEIGHBOURS), "int32")
        if self.pairs_per_image == 8:
            labels = ops.tile(ops.arange(8, dtype="int32"), [batch])
            cells = ops.concatenate([ops.full((1,), pretext.CENTRE, "int32"), neighbours])  # 9 patches
            cells = ops.broadcast_to(cells[None, :], (batch, 9))
        else:
            labels = ops.cast(keras.random.randint((batch,), 0, 8, seed=self.seed_generator), "int32")
            cells = ops.stack([ops.full((batch,), pretext.CENTRE, "int32"), ops.take(neighbours, labels)], axis=1)
        ys, xs = ops.take_along_axis(ys, cells, 1), ops.take_along_axis(xs, cells, 1)
        patches = pretext.crop_tiles(view, ys, xs, self.patch_size)  # (batch, 1 + pairs_per_image, ...)
        size, channels = self.patch_size, patches.shape[-1]
        patches = pretext.chromatic_guard(
            ops.reshape(patches, (-1, size, size, channels)), self.chromatic_guard, self.seed_generator
        )
        patches = ops.reshape(patches, (batch, 1 + self.pairs_per_image, size, size, channels))
        centres = ops.repeat(patches[:, :1], self.pairs_per_image, axis=1)
        corners = {
            "centre": tuple(ops.reshape(ops.repeat(c[:, :1], self.pairs_per_image, axis=1), (-1,)) for c in (ys, xs)),
            "neighbour": tuple(ops.reshape(c[:, 1:], (-1,)) for c in (ys, xs)),
        }
        flat = (-1, size, size, channels)
        return ops.reshape(centres, flat), ops.reshape(patches[:, 1:], flat), labels, corners

    def forward(self, x, training=False):
        (view,) = self.views(x, 1)
        centres, neighbours, labels, _ = self.patch_pairs(view, training=True)  # random pairs also in evaluate()
        # One encoder pass over every distinct patch: each centre once, then the neighbours.
        batch, k = ops.shape(view)[0], self.pairs_per_image
        size, channels = self.patch_size, view.shape[-1]
        first_centres = ops.reshape(centres, (batch, k, size, size, channels))[:, 0]
        features = pretext.encode_at_any_size(
            self.encoder, ops.concatenate([first_centres, neighbours], axis=0), training=training)
        centre_features = ops.repeat(features[:batch], k, axis=0)
        pairs = ops.concatenate([centre_features, features[batch:]], axis=-1)
        return {"logits": self.head(pairs, training=training), "labels": labels}

    def ssl_loss(self, outputs, y=None):
        return pretext.cross_entropy(outputs["labels"], outputs["logits"])

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "gap": self.gap,
            "jitter": self.jitter,
            "pairs_per_image": self.pairs_per_image,
            "chromatic_guard": self.chromatic_guard,
            "hidden_dim": self.hidden_dim,
            "head_layers": self.head_layers,
            "seed": self.seed,
        }
