"""Pretext tasks (issue 7): rotation, jigsaw, relative patch position, exemplar, and kssl.pretext."""

import json
import math

import keras
import numpy as np
import pytest

import kssl
from kssl.ops import pretext
from helpers import FlipLeftRight, Identity, smooth_images


def cell_image(grid=3, cell=5, margin=0):
    """A hand-made (1, size, size, 1) image whose every pixel holds the index of its grid cell
    (row-major), with `margin` pixels of -1 on the bottom and right."""
    cells = np.arange(grid * grid, dtype="float32").reshape(grid, grid)
    image = np.kron(cells, np.ones((cell, cell), "float32"))
    image = np.pad(image, ((0, margin), (0, margin)), constant_values=-1.0)
    return image[None, :, :, None]


def tile_encoder(size, channels=1):
    return kssl.backbones.convnet((size, size, channels), widths=(4, 8), name="tiles")


def as_json(config):
    return json.loads(json.dumps(config))


# ---- rotations ------------------------------------------------------------------------------------------
def test_rotations_are_exact_and_labelled():
    x = np.random.default_rng(0).random((3, 5, 5, 2)).astype("float32")
    rotated, labels = pretext.rotate_all_four(x)
    rotated, labels = np.asarray(rotated), np.asarray(labels)
    assert rotated.shape == (12, 5, 5, 2) and labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for k in range(4):
        np.testing.assert_array_equal(rotated[3 * k : 3 * k + 3], np.rot90(x, k, axes=(1, 2)))
    with pytest.raises(ValueError, match="square images"):
        pretext.rotate_all_four(np.zeros((1, 4, 5, 1), "float32"))


def test_rotation_model_labels_match_its_rotations():
    model = kssl.methods.RotationPrediction(tile_encoder(12), hidden_dim=8)
    out = model(smooth_images(4, 12))
    assert tuple(out["logits"].shape) == (16, 4)
    assert np.asarray(out["labels"]).tolist() == np.repeat(np.arange(4), 4).tolist()


def test_rotation_learns_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = kssl.methods.RotationPrediction(tile_encoder(12), hidden_dim=8,
                                            augment=keras.layers.RandomFlip("horizontal", seed=0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = smooth_images(32, 12)
    losses = model.fit(x, batch_size=16, epochs=4, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    clone = kssl.methods.RotationPrediction.from_config(model.get_config())
    assert as_json(clone.get_config()) == as_json(model.get_config())
    path = str(tmp_path / "rotation.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))


def test_rotation_refuses_a_non_square_encoder():
    encoder = kssl.backbones.convnet((12, 10, 1), widths=(4,))
    with pytest.raises(ValueError, match="`encoder` must take square images"):
        kssl.methods.RotationPrediction(encoder)


# ---- permutation set ----------------------------------------------------------------------------------
def test_permutation_set_has_the_stated_minimum_distance_and_is_reproducible():
    perms = pretext.maximal_hamming_permutations(100, seed=0)
    assert perms.shape == (100, 9) and perms.dtype == np.int32
    assert all(sorted(row) == list(range(9)) for row in perms.tolist())
    assert len({tuple(row) for row in perms.tolist()}) == 100
    assert pretext.min_hamming_distance(perms) == 6  # as the docstring states
    np.testing.assert_array_equal(perms, pretext.maximal_hamming_permutations(100, seed=0))
    assert not np.array_equal(perms, pretext.maximal_hamming_permutations(100, seed=1))
    # Greedy: a smaller set is a prefix of the larger one with the same seed.
    np.testing.assert_array_equal(pretext.maximal_hamming_permutations(10, seed=0), perms[:10])


def test_permutation_set_of_1000():
    perms = pretext.maximal_hamming_permutations(1000, seed=0)
    assert len({tuple(row) for row in perms.tolist()}) == 1000
    assert pretext.min_hamming_distance(perms) == 5  # as the docstring states


@pytest.mark.parametrize(
    "kwargs, match",
    [({"count": 25, "tiles": 4}, "`count` must be at most 4! = 24"),
     ({"count": 0}, "`count` must be an integer >= 1"),
     ({"count": 5, "tiles": 10}, "`tiles` must be at most 9"),
     ({"count": 5, "seed": 0.5}, "`seed` must be an integer")],
)
def test_permutation_set_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pretext.maximal_hamming_permutations(**kwargs)


# ---- tiles land where the labels say --------------------------------------------------------------------
def test_tiles_of_a_hand_made_image_come_from_their_cells():
    # Cells of 5 = tile 3 + gap 1 + jitter 1: every tile, wherever it is jittered, lies in its cell.
    image = np.repeat(cell_image(cell=5), 6, axis=0)
    tiles, (ys, xs) = pretext.extract_tiles(image, 3, tile_size=3, gap=1, jitter=1, seed=0)
    tiles = np.asarray(tiles)
    assert tiles.shape == (6, 9, 3, 3, 1)
    for k in range(9):
        assert (tiles[:, k] == k).all()
    offsets = np.asarray(ys) - np.repeat(np.arange(3), 3) * 5
    assert set(np.unique(offsets)) <= {0, 1}  # gap // 2 + jitter in {0, 1}


def test_tiles_are_exact_crops_with_gaps_and_jitter():
    rng = np.random.default_rng(0)
    images = rng.random((8, 23, 21, 2)).astype("float32")
    tile, gap, jitter = 4, 2, 2  # cells of 8: a 24 grid does not fit 21 ...
    with pytest.raises(ValueError, match="needs images of at least 24x24 pixels"):
        pretext.extract_tiles(images, 3, tile, gap, jitter, seed=0)
    tile = 3  # ... cells of 7 fit, with a margin of 2 and 0 pixels for the grid's random origin
    tiles, (ys, xs) = pretext.extract_tiles(images, 3, tile, gap, jitter, seed=0)
    tiles, ys, xs = np.asarray(tiles), np.asarray(ys), np.asarray(xs)
    for b in range(8):
        for k in range(9):
            y, x = ys[b, k], xs[b, k]
            np.testing.assert_array_equal(tiles[b, k], images[b, y : y + tile, x : x + tile])
    grid_y, grid_x = ys.reshape(8, 3, 3), xs.reshape(8, 3, 3)
    assert (np.diff(grid_y, axis=1) >= tile + gap).all() and (np.diff(grid_x, axis=2) >= tile + gap).all()
    assert ys.min() >= 0 and ys.max() + tile <= 23 and xs.max() + tile <= 21
    assert len(np.unique(ys - ys[:, :1])) > 1  # jittered
    centred, (cy, _) = pretext.extract_tiles(images, 3, tile, gap, jitter, training=False)
    assert (np.asarray(cy) == np.asarray(cy)[:1]).all()  # deterministic in inference mode


def test_jigsaw_puzzle_tiles_are_where_the_label_says():
    model = kssl.methods.Jigsaw(tile_encoder(3), tile_size=3, gap=1, jitter=1, num_permutations=20,
                                hidden_dim=8, seed=0)
    tiles, labels, (ys, _) = model.puzzles(np.repeat(cell_image(cell=5), 16, axis=0))
    tiles, labels = np.asarray(tiles), np.asarray(labels)
    assert tiles.shape == (16, 9, 3, 3, 1) and labels.min() >= 0 and labels.max() < 20
    assert len(set(labels.tolist())) > 1
    for b in range(16):
        order = model.permutations[labels[b]]
        for j in range(9):
            assert (tiles[b, j] == order[j]).all()  # position j shows original cell order[j]
        np.testing.assert_array_equal(np.asarray(ys)[b] // 5, order // 3)


def test_jigsaw_learns_compiles_with_xla_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = kssl.methods.Jigsaw(tile_encoder(4), tile_size=4, gap=1, jitter=1, num_permutations=10,
                                hidden_dim=16, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    x = smooth_images(16, 18)
    out = model(x[:4])
    assert tuple(out["logits"].shape) == (4, 10)
    losses = model.fit(x, batch_size=8, epochs=1, verbose=0).history["loss"]
    assert model.jit_compile and np.isfinite(losses).all()
    config = model.get_config()
    assert config["num_permutations"] == 10 and config["tile_size"] == 4
    clone = kssl.methods.Jigsaw.from_config(config)
    np.testing.assert_array_equal(clone.permutations, model.permutations)
    path = str(tmp_path / "jigsaw.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    tiles = x[:4, :4, :4]
    np.testing.assert_array_equal(loaded.encoder.predict(tiles, verbose=0), model.encoder.predict(tiles, verbose=0))
    whole = pretext.with_input_shape(model.encoder, (18, 18, 1))
    assert whole.predict(x[:2], verbose=0).shape == (2, 8)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_permutations": math.factorial(9) + 1}, "`num_permutations` must be an integer in \\[2, 362880\\]"),
     ({"num_permutations": 1}, "`num_permutations`"),
     ({"gap": -1}, "`gap` must be an integer >= 0"),
     ({"jitter": -2}, "`jitter` must be an integer >= 0"),
     ({"tile_size": 5}, "`encoder` must encode `tile_size` x `tile_size` = 5 x 5 tiles")],
)
def test_jigsaw_bad_arguments(kwargs, match):
    # A flatten-and-dense encoder takes only the tile size it was built for (a convnet with global
    # pooling takes tiles of any size).
    inputs = keras.Input((4, 4, 1))
    dense = keras.Model(inputs, keras.layers.Dense(8)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=match):
        kssl.methods.Jigsaw(dense, **{"tile_size": 4, **kwargs})


def test_jigsaw_refuses_images_too_small_for_the_grid():
    model = kssl.methods.Jigsaw(tile_encoder(4), tile_size=4, gap=1, jitter=1, num_permutations=4, hidden_dim=8)
    with pytest.raises(ValueError, match="needs images of at least 18x18 pixels"):
        model(smooth_images(2, 12))


# ---- relative patch position --------------------------------------------------------------------------
@pytest.mark.parametrize("pairs_per_image", [8, 1])
def test_patch_pairs_are_where_the_labels_say(pairs_per_image):
    model = kssl.methods.RelativePatchPosition(tile_encoder(3), patch_size=3, gap=1, jitter=1,
                                               pairs_per_image=pairs_per_image, hidden_dim=8, seed=0)
    centres, neighbours, labels, corners = model.patch_pairs(np.repeat(cell_image(cell=5), 16, axis=0))
    centres, neighbours, labels = np.asarray(centres), np.asarray(neighbours), np.asarray(labels)
    assert centres.shape == neighbours.shape == (16 * pairs_per_image, 3, 3, 1)
    assert (centres == pretext.CENTRE).all()
    cells = np.array(pretext.NEIGHBOURS)[labels]
    assert (neighbours == cells[:, None, None, None]).all()
    ys, xs = (np.asarray(c) for c in corners["neighbour"])
    np.testing.assert_array_equal(ys // 5, cells // 3)
    np.testing.assert_array_equal(xs // 5, cells % 3)
    if pairs_per_image == 8:
        assert labels.tolist() == list(range(8)) * 16
    else:
        assert len(set(labels.tolist())) > 1


def test_relative_patch_learns_and_round_trips():
    keras.utils.set_random_seed(0)
    model = kssl.methods.RelativePatchPosition(tile_encoder(4), patch_size=4, gap=1, jitter=1, hidden_dim=16, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = smooth_images(16, 18)
    assert tuple(model(x[:2])["logits"].shape) == (16, 8)
    losses = model.fit(x, batch_size=8, epochs=1, verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    clone = kssl.methods.RelativePatchPosition.from_config(model.get_config())
    assert as_json(clone.get_config()) == as_json(model.get_config())


def test_chromatic_guards():
    rng = np.random.default_rng(0)
    patches = rng.random((6, 4, 4, 3)).astype("float32")
    axis = np.array([-1.0, 2.0, -1.0]) / np.sqrt(6.0)
    projected = np.asarray(pretext.chromatic_guard(patches, "project"))
    np.testing.assert_allclose(projected @ axis, 0.0, atol=1e-6)
    np.testing.assert_allclose(projected - patches, -(patches @ axis)[..., None] * axis, atol=1e-6)
    dropped = np.asarray(pretext.chromatic_guard(patches, "drop", seed=0))
    for p in range(6):
        kept = [c for c in range(3) if np.array_equal(dropped[p, ..., c], patches[p, ..., c])]
        assert len(kept) == 1
        noise = np.delete(dropped[p], kept, axis=-1)
        assert np.abs(noise).max() < 0.1 * patches[p, ..., kept[0]].std()
    np.testing.assert_array_equal(np.asarray(pretext.chromatic_guard(patches, "none")), patches)
    with pytest.raises(ValueError, match="needs RGB patches"):
        pretext.chromatic_guard(patches[..., :1], "drop")
    colour = kssl.methods.RelativePatchPosition(tile_encoder(3, channels=3), patch_size=3, chromatic_guard="drop",
                                                hidden_dim=8, seed=0)
    assert tuple(colour(rng.random((2, 16, 16, 3)).astype("float32"))["logits"].shape) == (16, 8)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"chromatic_guard": "project"}, "is for colour \\(3-channel\\) images"),
     ({"chromatic_guard": "grey"}, "`chromatic_guard` must be one of"),
     ({"pairs_per_image": 3}, "`pairs_per_image` must be 1 or 8"),
     ({"patch_size": 0}, "`patch_size` must be an integer >= 1"),
     ({"gap": -1}, "`gap` must be an integer >= 0")],
)
def test_relative_patch_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kssl.methods.RelativePatchPosition(tile_encoder(3), **{"patch_size": 3, **kwargs})


# ---- exemplar -----------------------------------------------------------------------------------------------
def test_exemplar_labels_are_consistent_across_augmentations():
    # Each image is identified by its sorted pixel values, which a flip keeps.
    x = smooth_images(6, 12, seed=3)
    ids = np.array([5, 0, 3, 1, 4, 2])
    model = kssl.methods.Exemplar(tile_encoder(12), num_exemplars=6, views=3,
                                  augment=[Identity(), FlipLeftRight(), keras.layers.RandomFlip("vertical", seed=0)])
    views, labels = np.asarray(model.make_views(x)), np.asarray(model.exemplar_labels(ids))
    assert views.shape == (18, 12, 12, 1) and labels.shape == (18,)
    signatures = [np.sort(image.ravel()).tobytes() for image in x]
    for view, label in zip(views, labels):
        source = signatures.index(np.sort(view.ravel()).tobytes())
        assert ids[source] == label
    assert not np.array_equal(views[6:12], views[:6])  # the views differ


def test_exemplar_learns_and_needs_ids():
    keras.utils.set_random_seed(0)
    x = smooth_images(16, 12)
    model = kssl.methods.Exemplar(tile_encoder(12), num_exemplars=16, views=2,
                                  augment=keras.layers.RandomFlip("horizontal", seed=0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    assert tuple(model(x[:4])["logits"].shape) == (8, 16)
    losses = model.fit(x, np.arange(16), batch_size=8, epochs=8, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    with pytest.raises(ValueError, match="batches must be \\(images, exemplar_ids\\)"):
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    clone = kssl.methods.Exemplar.from_config(model.get_config())
    assert as_json(clone.get_config()) == as_json(model.get_config())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_exemplars": 1}, "`num_exemplars` must be an integer >= 2"),
     ({"num_exemplars": 4, "views": 0}, "`views` must be an integer >= 1")],
)
def test_exemplar_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kssl.methods.Exemplar(tile_encoder(12), **kwargs)


def test_methods_are_registered():
    for name, cls in [("rotation", kssl.methods.RotationPrediction), ("jigsaw", kssl.methods.Jigsaw),
                      ("relative_patch", kssl.methods.RelativePatchPosition), ("exemplar", kssl.methods.Exemplar)]:
        assert kssl.methods.get(name) is cls and issubclass(cls, kssl.SelfSupervisedModel)
