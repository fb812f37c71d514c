"""Tensor helpers of the classification pretext tasks: rotations, jigsaw tiles, patch pairs, colour guards.

Pure functions of tensors (keras.ops; random numbers from `keras.random` with the caller's seed or
`SeedGenerator`), with static shapes, so they run inside a compiled, XLA-friendly train step. The
one exception is `maximal_hamming_permutations`, plain numpy run once when a model is built.

Grid layout shared by jigsaw tiles and relative-position patches (Noroozi & Favaro, 2016; Doersch
et al., 2015): a `grid` x `grid` block of square cells of side `tile_size + gap + jitter`, cell k in
row-major order (k = row * grid + col; for a 3x3 grid 0 is top-left, 4 the centre, 8 bottom-right).
The block's top-left corner is drawn uniformly from the image's leftover margin, and each tile from
`gap // 2 + [0, jitter]` inside its cell, so two neighbouring tiles are a random `gap` to
`gap + 2 * jitter` pixels apart (the gap and the jitter are the seeds' guards against matching edges
and lines across tiles).

Why hand-written: Keras has no tile/patch sampler with per-tile jitter; `tf.image.extract_patches`
uses one fixed stride and `tf.image.crop_and_resize` does not compile with XLA. Tiles are cut with
two one-hot selection matrices per tile (two batched matmuls), the trick `kssl.augment` uses for
crops, so the copy is exact and the shapes are static.
"""

import functools
import itertools
import math

import keras
import numpy as np
from keras import ops

from kssl.checks import check_choice, check_positive_int

# Relative-patch labels: label k <-> neighbour cell NEIGHBOURS[k] of the 3x3 grid around the centre cell 4.
NEIGHBOURS = (0, 1, 2, 3, 5, 6, 7, 8)
CENTRE = 4
CHROMATIC_GUARDS = ("none", "drop", "project")


# ---- rotation ---------------------------------------------------------------------------------------
def rotate_all_four(images):
    """All four rotations of every image, with their labels (Gidaris et al., 2018).

    Returns `(rotated, labels)`: `rotated` is `(4 * batch, height, width, channels)`, the whole batch
    rotated by 0, 90, 180 and 270 degrees counter-clockwise (`np.rot90` on the image axes), in that
    order; `labels` is `(4 * batch,)` int32, k for a rotation by k * 90 degrees. Images must be square.

    Example:
    >>> import numpy as np, kssl
    >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
    >>> rotated, labels = kssl.pretext.rotate_all_four(x)
    >>> np.asarray(rotated)[1, ..., 0].tolist(), np.asarray(labels).tolist()
    ([[1.0, 3.0], [0.0, 2.0]], [0, 1, 2, 3])
    """
    images = ops.convert_to_tensor(images)
    if len(images.shape) != 4 or images.shape[1] != images.shape[2] or images.shape[1] is None:
        raise ValueError(
            "`images` must be a batch of square images (batch, size, size, channels) so that every "
            f"rotation has the same shape; got shape {tuple(images.shape)}."
        )
    rotated = [images] + [ops.rot90(images, k=k, axes=(1, 2)) for k in (1, 2, 3)]
    labels = ops.repeat(ops.arange(4, dtype="int32"), ops.shape(images)[0])
    return ops.concatenate(rotated, axis=0), labels


# ---- jigsaw permutations ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _all_permutations(tiles):
    return np.array(list(itertools.permutations(range(tiles))), dtype=np.int8)


@functools.lru_cache(maxsize=16)
def _maximal_hamming_permutations(count, tiles, seed):
    rng = np.random.default_rng(seed)
    candidates = _all_permutations(tiles)[rng.permutation(math.factorial(tiles))]  # random tie-breaking
    columns = np.ascontiguousarray(candidates.T)

    def distances(perm):  # Hamming distance of every candidate to `perm`, one column at a time (fast)
        total = np.zeros(len(candidates), np.int8)
        for position, value in enumerate(perm):
            total += columns[position] != value
        return total

    chosen = [0]
    min_distance = distances(candidates[0])  # to the closest chosen permutation
    for _ in range(count - 1):
        best = int(np.argmax(min_distance))
        chosen.append(best)
        min_distance = np.minimum(min_distance, distances(candidates[best]))
    return candidates[chosen].astype(np.int32)


def maximal_hamming_permutations(count, tiles=9, seed=0):
    """`count` permutations of `tiles` tiles, chosen greedily for maximal Hamming distance.

    The jigsaw permutation set of Noroozi & Favaro (2016, algorithm 1), with the max-min criterion:
    start from one random permutation, then repeatedly add the permutation whose Hamming distance
    (number of positions that differ) to its closest already-chosen permutation is largest. Ties are
    broken by a random order drawn from `seed`, so the set is a deterministic function of
    `(count, tiles, seed)`. Every permutation of `tiles` is a candidate (9! = 362880 for 3x3 tiles);
    1000 permutations of 9 tiles take about 2 s, and the result is cached.

    Minimum pairwise distance reached for 9 tiles (seed 0, checked by the tests): 6 for 100
    permutations, 5 for 1000 (the paper's set sizes). Greedy is not optimal: sets of 72 permutations
    at distance 8 and 504 at distance 7 exist (sharply 2- and 3-transitive groups).

    Args:
        count: number of permutations, 1 <= count <= tiles!.
        tiles: tiles per image, 2 to 9 (a 3x3 grid is 9, 2x2 is 4).
        seed: integer seed of the first permutation and of the tie-breaking.

    Returns:
        int32 numpy array `(count, tiles)`; row p maps shuffled position j to original tile
        `row[j]`.

    Example:
    >>> import kssl
    >>> perms = kssl.pretext.maximal_hamming_permutations(24, tiles=4)
    >>> perms.shape, kssl.pretext.min_hamming_distance(perms)
    ((24, 4), 2)
    """
    tiles = check_positive_int("tiles", tiles, 2)
    if tiles > 9:
        raise ValueError(f"`tiles` must be at most 9 (every permutation is a candidate); got {tiles!r}.")
    count = check_positive_int("count", count)
    if count > math.factorial(tiles):
        raise ValueError(
            f"`count` must be at most {tiles}! = {math.factorial(tiles)}, the number of permutations of "
            f"{tiles} tiles; got {count!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"`seed` must be an integer; got {seed!r}.")
    return _maximal_hamming_permutations(count, tiles, int(seed)).copy()


def min_hamming_distance(permutations):
    """Smallest Hamming distance between two distinct rows of `permutations` (numpy, for checking a set)."""
    perms = np.asarray(permutations)
    if len(perms) < 2:
        raise ValueError(f"`permutations` must hold at least 2 rows; got {len(perms)}.")
    distances = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    return int(distances[~np.eye(len(perms), dtype=bool)].min())


# ---- tiles on a grid ------------------------------------------------------------------------------------
def check_grid(image_size, grid, tile_size, gap, jitter, tile_name="tile_size"):
    """Validates a tile grid against the image size (height, width); returns the cell side.
    `tile_name` is the tile size's argument name in error messages."""
    grid = check_positive_int("grid", grid)
    tile_size = check_positive_int(tile_name, tile_size)
    gap = check_positive_int("gap", gap, 0)
    jitter = check_positive_int("jitter", jitter, 0)
    cell = tile_size + gap + jitter
    height, width = image_size
    if height is None or width is None:
        raise ValueError(f"images must have a known height and width to cut tiles; got {image_size}.")
    if grid * cell > min(height, width):
        raise ValueError(
            f"a {grid}x{grid} grid of tiles with `{tile_name}` {tile_size}, `gap` {gap} and `jitter` {jitter} "
            f"needs images of at least {grid * cell}x{grid * cell} pixels (grid x ({tile_name} + gap + "
            f"jitter)); got {height}x{width}. Use smaller tiles, gap or jitter, or resize the images."
        )
    return cell


def tile_coordinates(batch, image_size, grid=3, tile_size=9, gap=0, jitter=0, seed=None, training=True,
                     tile_name="tile_size"):
    """Top-left corners `(ys, xs)`, each `(batch, grid * grid)` int32, of the tiles of every image.

    In training, the grid's position in the image's margin and each tile's offset in its cell
    (0 to `jitter`) are random; otherwise the grid is centred and every tile sits at offset
    `jitter // 2`. See the module docstring for the layout.
    """
    cell = check_grid(image_size, grid, tile_size, gap, jitter, tile_name)
    count = grid * grid
    cell_row = np.repeat(np.arange(grid), grid) * cell + gap // 2
    cell_col = np.tile(np.arange(grid), grid) * cell + gap // 2
    margin_y, margin_x = image_size[0] - grid * cell, image_size[1] - grid * cell
    if training:
        origin_y = keras.random.randint((batch, 1), 0, margin_y + 1, seed=seed)
        origin_x = keras.random.randint((batch, 1), 0, margin_x + 1, seed=seed)
        offset_y = keras.random.randint((batch, count), 0, jitter + 1, seed=seed)
        offset_x = keras.random.randint((batch, count), 0, jitter + 1, seed=seed)
    else:
        origin_y = ops.full((batch, 1), margin_y // 2, "int32")
        origin_x = ops.full((batch, 1), margin_x // 2, "int32")
        offset_y = offset_x = ops.full((batch, count), jitter // 2, "int32")
    ys = ops.cast(origin_y, "int32") + ops.cast(offset_y, "int32") + ops.convert_to_tensor(cell_row, "int32")
    xs = ops.cast(origin_x, "int32") + ops.cast(offset_x, "int32") + ops.convert_to_tensor(cell_col, "int32")
    return ys, xs


def crop_tiles(images, ys, xs, tile_size):
    """Exact `tile_size` squares of each image at corners `(ys, xs)` (each `(batch, k)`).

    Returns `(batch, k, tile_size, tile_size, channels)`. Pixels are copied with one-hot matmuls (see
    the module docstring), so the shapes are static and the values exact.
    """
    images = ops.convert_to_tensor(images)
    height, width = images.shape[1], images.shape[2]
    steps = ops.arange(tile_size, dtype="int32")
    rows = ops.one_hot(ops.cast(ys, "int32")[:, :, None] + steps, height, dtype=images.dtype)  # (b, k, t, h)
    cols = ops.one_hot(ops.cast(xs, "int32")[:, :, None] + steps, width, dtype=images.dtype)  # (b, k, t, w)
    strips = ops.einsum("bkih,bhwc->bkiwc", rows, images)
    return ops.einsum("bkiwc,bkjw->bkijc", strips, cols)


def extract_tiles(images, grid=3, tile_size=9, gap=0, jitter=0, seed=None, training=True):
    """The `grid * grid` tiles of every image, in row-major cell order, and their corners.

    Returns `(tiles, (ys, xs))`: tiles `(batch, grid * grid, tile_size, tile_size, channels)`.

    Example (a 3x3 grid of 4-pixel tiles, 1-pixel gaps, no jitter, on a 15x15 image):
    >>> import numpy as np, kssl
    >>> image = np.repeat(np.repeat(np.arange(9, dtype="float32").reshape(3, 3), 5, 0), 5, 1)
    >>> tiles, _ = kssl.pretext.extract_tiles(image[None, :, :, None], 3, tile_size=4, gap=1)
    >>> tuple(tiles.shape), np.asarray(tiles)[0, :, 0, 0, 0].tolist()
    ((1, 9, 4, 4, 1), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    """
    images = ops.convert_to_tensor(images)
    ys, xs = tile_coordinates(
        ops.shape(images)[0], tuple(images.shape[1:3]), grid, tile_size, gap, jitter, seed, training
    )
    return crop_tiles(images, ys, xs, tile_size), (ys, xs)


def shuffle_tiles(tiles, permutations, index):
    """Reorders each image's tiles: position j of image b gets tile `permutations[index[b], j]`.

    Args:
        tiles: `(batch, k, ...)`.
        permutations: `(num_permutations, k)` integer table.
        index: `(batch,)` integer, the permutation of each image (the jigsaw label).
    """
    order = ops.take(ops.convert_to_tensor(permutations, "int32"), ops.cast(index, "int32"), axis=0)
    order = ops.reshape(order, tuple(ops.shape(order)) + (1,) * (len(tiles.shape) - 2))
    return ops.take_along_axis(tiles, order, axis=1)


# ---- chromatic-aberration guards (colour images) ---------------------------------------------------------
def chromatic_guard(patches, mode="none", seed=None):
    """Removes the colour cue that leaks a patch's position through lens chromatic aberration
    (Doersch et al., 2015, section 3.1). `patches` are `(n, height, width, 3)` in [0, 1].

    - "none": patches unchanged.
    - "drop": keep one random colour channel per patch and replace the other two with Gaussian
      noise of 1/100 the kept channel's standard deviation ("colour dropping").
    - "project": project every pixel's colour off the green-magenta axis (-1, 2, -1) / sqrt(6), the
      direction along which aberration shifts colour.

    Example:
    >>> import numpy as np, kssl
    >>> out = kssl.pretext.chromatic_guard(np.full((1, 2, 2, 3), [0.2, 0.8, 0.2], "float32"), "project")
    >>> [round(float(v), 4) for v in np.asarray(out)[0, 0, 0]]
    [0.4, 0.4, 0.4]
    """
    check_choice("chromatic_guard", mode, CHROMATIC_GUARDS)
    patches = ops.convert_to_tensor(patches)
    if mode == "none":
        return patches
    if patches.shape[-1] != 3:
        raise ValueError(
            f"`chromatic_guard` {mode!r} needs RGB patches (3 channels); got {patches.shape[-1]} channel(s). "
            "Use 'none' for grey images."
        )
    if mode == "project":
        axis = ops.convert_to_tensor(np.array([-1.0, 2.0, -1.0]) / np.sqrt(6.0), patches.dtype)
        return patches - ops.sum(patches * axis, axis=-1, keepdims=True) * axis
    n = ops.shape(patches)[0]
    keep = ops.one_hot(keras.random.randint((n,), 0, 3, seed=seed), 3, dtype=patches.dtype)[:, None, None, :]
    kept = ops.sum(patches * keep, axis=-1, keepdims=True)
    scale = ops.std(kept, axis=(1, 2, 3), keepdims=True) / 100.0
    noise = keras.random.normal(ops.shape(patches), seed=seed, dtype=patches.dtype) * scale
    return patches * keep + noise * (1.0 - keep)


# ---- tile, patch and crop encoders -----------------------------------------------------------------------
# One convention for encoders that see tiles, patches or crops as well as whole images: the encoder is
# fully convolutional with global pooling (every kssl.backbones encoder is) and is applied at any size
# with `encode_at_any_size`, sharing its layers and weights; an encoder built with `(None, None, C)`
# inputs, as keras-hub's backbones are, is called as it is. Copies at another size (`with_input_shape`,
# `whole_image_encoder`) are only for transfer, where a fixed input shape is wanted.
def encode_at_any_size(encoder, images, training=False):
    """`encoder(images)` for images of any spatial size, through the encoder's own layers and weights.

    A Keras functional model's input spec admits only the size it was built for; a convolutional
    encoder with global pooling applies to any size, so tiles and small crops of another size run
    through the model's graph (`Model.call`, which skips that check) instead.

    Example:
    >>> import numpy as np, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> tuple(kssl.pretext.encode_at_any_size(encoder, np.zeros((2, 6, 6, 1), "float32")).shape)
    (2, 8)
    """
    built_for = tuple(encoder.input_shape[1:3]) if getattr(encoder, "inputs", None) else None
    sizes = tuple(images.shape[1:3])
    if built_for is None or all(b is None or b == s for b, s in zip(built_for, sizes)):
        return encoder(images, training=training)
    return encoder.call(images, training=training)


def group_by_size(views):
    """Consecutive views of the same size, grouped, so that a multi-crop method (SwAV, DINO) runs one
    encoder pass per resolution over the concatenated group.

    Example:
    >>> import numpy as np
    >>> views = [np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)), np.zeros((2, 4, 4, 1))]
    >>> [len(group) for group in group_by_size(views)]
    [2, 1]
    """
    groups = []
    for view in views:
        if groups and tuple(groups[-1][0].shape[1:]) == tuple(view.shape[1:]):
            groups[-1].append(view)
        else:
            groups.append([view])
    return groups


def check_tile_encoder(encoder, tile_size, name, tile_name="tile_size"):
    """Refuses an `encoder` that cannot encode `tile_size` x `tile_size` tiles into `(batch, features)`:
    it must be built for that size, for `(None, None, channels)`, or be fully convolutional with global
    pooling (then `encode_at_any_size` applies it to tiles, and it takes whole images as it is)."""
    channels = encoder.input_shape[-1]
    try:  # one all-zero tile, eagerly: a symbolic run would check the functional model's input size
        shape = tuple(encode_at_any_size(encoder, ops.zeros((1, tile_size, tile_size, channels))).shape)
        error = None if len(shape) == 2 else f"it outputs shape {shape}"
    except Exception as failure:  # noqa: BLE001  (any layer's own failure, re-raised with context)
        error = f"it fails with: {failure}"
    if error is not None:
        raise ValueError(
            f"{name}: `encoder` must encode `{tile_name}` x `{tile_name}` = {tile_size} x {tile_size} tiles into "
            f"(batch, features): build it for that size or for (None, None, channels), or make it fully "
            f"convolutional with global pooling (as kssl.backbones encoders are); its input shape is "
            f"{encoder.input_shape} and {error}"
        )


# ---- transfer --------------------------------------------------------------------------------------------
def with_input_shape(encoder, input_shape):
    """A copy of a functional `encoder` that takes images of `input_shape`, with the same weights.

    Jigsaw and relative-position encoders are trained on tiles; a convolutional encoder with global
    pooling (e.g. `kssl.backbones.convnet`) applies unchanged to whole images, which is how the
    seeds transfer them. Example:
    >>> import kssl
    >>> tile_encoder = kssl.backbones.convnet((9, 9, 1), widths=(4, 8))
    >>> kssl.pretext.with_input_shape(tile_encoder, (28, 28, 1)).input_shape
    (None, 28, 28, 1)
    """
    clone = keras.models.clone_model(encoder, input_tensors=keras.Input(tuple(input_shape)))
    clone.set_weights(encoder.get_weights())
    return clone


# ---- loss ------------------------------------------------------------------------------------------------
def cross_entropy(labels, logits):
    """Mean softmax cross-entropy of integer pretext `labels` `(n,)` under `logits` `(n, classes)`,
    computed in float32 (mixed-precision safe). Keras' own loss; here so every pretext task reads the same.
    """
    logits = ops.cast(logits, "float32")
    return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def whole_image_encoder(encoder, image_shape, scale=1):
    """A tile/patch `encoder` applied to whole images of `image_shape`, upsampled `scale` times first
    (the scale the tiles were cut at): what a linear probe or transfer of a Jigsaw or
    RelativePatchPosition encoder evaluates. Shares no variables with `encoder` (weights are copied).

    Example:
    >>> import kssl
    >>> tiles = kssl.backbones.convnet((14, 14, 1), widths=(8, 16))
    >>> kssl.pretext.whole_image_encoder(tiles, (28, 28, 1), scale=2).output_shape
    (None, 16)
    """
    size = (image_shape[0] * scale, image_shape[1] * scale)
    inner = with_input_shape(encoder, (*size, image_shape[-1]))
    inputs = keras.Input(image_shape)
    x = keras.layers.Resizing(*size)(inputs) if scale != 1 else inputs
    return keras.Model(inputs, inner(x))


# ---- patches (MAE) ------------------------------------------------------------------------------------
def patchify(images, patch_size):
    """`(batch, H, W, C)` images -> `(batch, (H/p) (W/p), p * p * C)` non-overlapping p x p patches, patches
    in row-major order (a ViT's token order) and each patch's pixels as (row, column, channel), as MAE's
    `patchify`.

    Example:
    >>> import numpy as np, kssl
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> kssl.pretext.patchify(x, 2)[0, 1].numpy().tolist()   # the top-right patch
    [2.0, 3.0, 6.0, 7.0]
    """
    p = check_positive_int("patch_size", patch_size)
    _, height, width, channels = images.shape
    if height % p or width % p:
        raise ValueError(f"`patch_size` {p} must divide the images' height and width ({height}, {width}).")
    x = ops.reshape(images, (-1, height // p, p, width // p, p, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, (height // p) * (width // p), p * p * channels))


def unpatchify(patches, image_shape):
    """The inverse of `patchify`: `(batch, N, p * p * C)` -> `(batch, H, W, C)` for `image_shape` (H, W, C).

    Example:
    >>> import numpy as np, kssl
    >>> x = np.random.rand(2, 8, 12, 3).astype("float32")
    >>> bool(np.array_equal(kssl.pretext.unpatchify(kssl.pretext.patchify(x, 4), (8, 12, 3)), x))
    True
    """
    height, width, channels = image_shape
    p = int(round(math.sqrt(patches.shape[-1] // channels)))
    x = ops.reshape(patches, (-1, height // p, width // p, p, p, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height, width, channels))
