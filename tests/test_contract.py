"""The contract every method keeps (ARCHITECTURE.md): a mismatched augmentation is refused at construction,
the dtype policy survives get_config, state changes only in a train step (never in evaluate), and it
changes after the optimizer step."""

import json

import keras
import numpy as np
import pytest

import kssl
from helpers import FlipLeftRight, Identity, smooth_images


def tiny(size=12, channels=1, name="tiny"):
    return kssl.backbones.convnet((size, size, channels), widths=(4, 8), name=name)


def as_json(config):
    return json.loads(json.dumps(config))


# ---- (a) the augmentation is checked against the encoder at construction --------------------------------
def test_an_augmentation_with_other_channels_is_refused_at_construction():
    augment = kssl.augment.simclr_views(28, channels=3)
    with pytest.raises(ValueError, match=r"`augment` .*built for 3-channel images.*channels=1"):
        kssl.methods.SimCLR(tiny(28), projection_dim=8, augment=augment)
    # Methods whose encoder sees tiles check the images' channels too (their size is free).
    with pytest.raises(ValueError, match=r"`augment` .*built for 3-channel images.*channels=1"):
        kssl.methods.Jigsaw(tiny(8), tile_size=8, num_permutations=4, hidden_dim=8, augment=augment)


def test_an_augmentation_of_another_size_is_refused_at_construction():
    augment = kssl.augment.simclr_views(32, channels=1, grayscale_policy="brightness_contrast")
    with pytest.raises(ValueError, match=r"`augment` .*views of size \(32, 32\) but the encoder takes \(28, 28\)"):
        kssl.methods.SimCLR(tiny(28), projection_dim=8, augment=augment)
    with pytest.raises(ValueError, match="`augment`"):
        kssl.methods.MoCo(tiny(28), projection_dim=8, queue_size=16, augment=augment)
    # Tile methods and multi-crop take views of any size: the same augmentation is accepted.
    kssl.methods.Jigsaw(tiny(8), tile_size=8, gap=1, jitter=1, num_permutations=4, hidden_dim=8, augment=augment)
    small = kssl.augment.simclr_views(14, channels=1, grayscale_policy="brightness_contrast")
    kssl.methods.SwAV(tiny(28), num_prototypes=4, projection_dim=8, augment=[augment, augment, small])


# ---- (b) get_config keeps the dtype policy ------------------------------------------------------------
BUILDERS = {
    "simclr": lambda **kw: kssl.methods.SimCLR(tiny(), projection_dim=8, **kw),
    "moco": lambda **kw: kssl.methods.MoCo(tiny(), projection_dim=8, queue_size=16, **kw),
    "swav": lambda **kw: kssl.methods.SwAV(tiny(), num_prototypes=4, projection_dim=8, queue_size=16, **kw),
    "pirl": lambda **kw: kssl.methods.PIRL(tiny(), memory_bank_size=16, projection_dim=8, num_negatives=8,
                                           tile_size=4, num_permutations=4, **kw),
    "jigsaw": lambda **kw: kssl.methods.Jigsaw(tiny(4), tile_size=4, num_permutations=4, hidden_dim=8, **kw),
    "inpainting": lambda **kw: kssl.methods.ContextEncoder(tiny(), adversarial=True, **kw),
    "split_brain": lambda **kw: kssl.methods.SplitBrain(tiny(), split="top_bottom", **kw),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_get_config_keeps_the_dtype_policy_and_trainable(name):
    model = BUILDERS[name](dtype="mixed_bfloat16", trainable=False)
    assert model.dtype_policy.name == "mixed_bfloat16"
    config = as_json(model.get_config())
    clone = type(model).from_config(config)
    assert clone.dtype_policy.name == "mixed_bfloat16" and clone.compute_dtype == "bfloat16"
    assert clone.trainable is False
    assert as_json(clone.get_config()) == as_json(model.get_config())


# ---- (c) state changes in fit, never in evaluate ------------------------------------------------------
def moco_state(model):
    return model.queue.values.numpy().copy(), int(model.queue.pointer.numpy())


def test_moco_queue_changes_in_fit_not_in_evaluate():
    keras.utils.set_random_seed(0)
    model = kssl.methods.MoCo(tiny(), projection_dim=8, queue_size=16, augment=[Identity(), FlipLeftRight()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(8)
    queue, pointer = moco_state(model)
    key_weights = [w.numpy().copy() for w in model.key_encoder.weights]
    model.evaluate(x, batch_size=8, verbose=0)
    after_queue, after_pointer = moco_state(model)
    np.testing.assert_array_equal(after_queue, queue)
    assert after_pointer == pointer
    for before, w in zip(key_weights, model.key_encoder.weights):
        np.testing.assert_array_equal(w.numpy(), before)  # no momentum update either
    model.fit(x, batch_size=8, epochs=1, verbose=0)  # the control: a train step does write
    fitted_queue, fitted_pointer = moco_state(model)
    assert fitted_pointer == 8 and np.abs(fitted_queue[:8] - queue[:8]).max() > 1e-3


def test_pirl_memory_bank_changes_in_fit_not_in_evaluate():
    keras.utils.set_random_seed(0)
    model = BUILDERS["pirl"]()
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x, index = smooth_images(8), np.arange(8)
    bank = model.memory_bank.bank.numpy().copy()
    model.evaluate(x, index, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.memory_bank.bank.numpy(), bank)
    model.fit(x, index, batch_size=8, epochs=1, verbose=0)
    changed = np.abs(model.memory_bank.bank.numpy() - bank).max(axis=1)
    assert (changed[:8] > 1e-4).all() and (changed[8:] == 0).all()  # exactly the batch's rows


def test_swav_queue_changes_in_fit_not_in_evaluate():
    model = BUILDERS["swav"](augment=[Identity(), FlipLeftRight()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(8)
    model.evaluate(x, batch_size=8, verbose=0)
    assert int(model.queue.filled.numpy()) == 0
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert int(model.queue.filled.numpy()) == 8


# ---- (d) state changes after the optimizer step -------------------------------------------------------
def test_moco_momentum_update_uses_the_updated_query_weights():
    keras.utils.set_random_seed(0)
    m = 0.9
    model = kssl.methods.MoCo(tiny(), projection_dim=8, queue_size=16, momentum=m, augment=[Identity(), FlipLeftRight()])
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    pairs = model._momentum_pairs()
    for _, key in pairs:  # key != query, so that the formula is not met trivially
        key.assign(key + 0.1)
    old_query = [q.numpy().copy() for q, _ in pairs]
    old_key = [k.numpy().copy() for _, k in pairs]
    model.fit(smooth_images(8), batch_size=8, epochs=1, verbose=0)
    new_query = [q.numpy() for q, _ in pairs]
    assert max(np.abs(a - b).max() for a, b in zip(new_query, old_query)) > 1e-3  # the step moved the query
    for key, before, query in zip((k for _, k in pairs), old_key, new_query):
        np.testing.assert_allclose(key.numpy(), m * before + (1 - m) * query, rtol=1e-5, atol=1e-6)
    # The control: the old (pre-step) query weights do not give the key weights.
    assert max(np.abs(k.numpy() - (m * b + (1 - m) * q)).max()
               for (_, k), b, q in zip(pairs, old_key, old_query)) > 1e-4


def test_swav_prototypes_are_normalised_after_the_optimizer_step():
    model = BUILDERS["swav"](augment=[Identity(), FlipLeftRight()])
    model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False)
    before = model.prototypes.numpy().copy()
    model.fit(smooth_images(8), batch_size=8, epochs=1, verbose=0)
    after = model.prototypes.numpy()
    assert np.abs(after - before).max() > 1e-4  # the step moved them ...
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, rtol=1e-5)  # ... and they are unit after it


# ---- one way for labels, no loss-code state ------------------------------------------------------------
@pytest.mark.parametrize("cls", [kssl.methods.SimCLR, kssl.methods.MoCo, kssl.methods.SwAV, kssl.methods.PIRL,
                                 kssl.methods.Exemplar, kssl.methods.ContextEncoder, kssl.methods.Jigsaw,
                                 kssl.methods.RelativePatchPosition, kssl.methods.RotationPrediction,
                                 kssl.methods.DenoisingAutoencoder, kssl.methods.Colorization,
                                 kssl.methods.SplitBrain])
def test_methods_route_labels_through_y_and_keep_keras_steps(cls):
    assert "compute_loss" not in vars(cls) and not hasattr(cls, "uses_labels")
    if cls is not kssl.methods.ContextEncoder:  # two optimizers: its adversarial step is its own
        assert "train_step" not in vars(cls)


def test_exemplar_reads_its_ids_from_y():
    model = kssl.methods.Exemplar(tiny(), num_exemplars=4, views=2, augment=[Identity(), FlipLeftRight()])
    outputs = model(smooth_images(4))
    assert sorted(outputs) == ["logits"]  # no labels smuggled into the outputs
    ids = np.array([3, 2, 1, 0])
    expected = kssl.pretext.cross_entropy(np.tile(ids, 2), outputs["logits"])
    np.testing.assert_allclose(float(model.ssl_loss(outputs, ids)), float(expected), rtol=1e-6)


# ---- checkpoints from before kssl.layers.memory --------------------------------------------------------
def legacy_layout(path, layer, count):
    """Rewrites a weights file into the layout used before kssl.layers.memory: the first `count`
    variables of `layer` (the queue or memory bank) become the method's own, after its own ones."""
    import h5py

    with h5py.File(path, "r+") as f:
        own = f["vars"]
        moved = f[f"layers/{layer}/vars"]
        for i in range(count):
            own.create_dataset(str(len(own)), data=moved[str(i)][()])
        del f[f"layers/{layer}"]


@pytest.mark.parametrize("name, layer, count", [("moco", "queue", 2), ("swav", "queue", 3), ("pirl", "memory_bank", 1)])
def test_checkpoints_from_before_the_memory_layers_still_load(name, layer, count, tmp_path):
    keras.utils.set_random_seed(0)
    model = BUILDERS[name]()
    state = getattr(model, layer)
    for variable in state.variables:  # recognisable values
        variable.assign(keras.ops.ones_like(variable) * (3 if "int" in variable.dtype else 0.5))
    path = str(tmp_path / "legacy.weights.h5")
    model.save_weights(path)
    legacy_layout(path, layer, count)
    fresh = BUILDERS[name]()
    fresh.load_weights(path)
    for i, (saved, loaded) in enumerate(zip(state.variables, getattr(fresh, layer).variables)):
        if i < count:
            np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
    for a, b in zip(fresh.encoder.get_weights(), model.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- one encoder for tiles, crops and whole images ----------------------------------------------------
def any_size_encoder(channels=1):
    """A fully convolutional encoder built with (None, None, channels) inputs, as keras-hub's backbones are."""
    inputs = keras.Input((None, None, channels), name="images")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="any_size")


@pytest.mark.parametrize("name", ["jigsaw", "relative_patch", "pirl", "swav"])
def test_an_encoder_of_any_input_size_serves_tiles_crops_and_whole_images(name):
    keras.utils.set_random_seed(0)
    encoder = any_size_encoder()
    small = kssl.augment.simclr_views(6, channels=1, grayscale_policy="none", seed=0)
    model = {
        "jigsaw": lambda: kssl.methods.Jigsaw(encoder, tile_size=4, gap=1, jitter=1, num_permutations=4, hidden_dim=8),
        "relative_patch": lambda: kssl.methods.RelativePatchPosition(encoder, patch_size=4, hidden_dim=8),
        "pirl": lambda: kssl.methods.PIRL(encoder, memory_bank_size=16, projection_dim=8, num_negatives=8,
                                          tile_size=4, num_permutations=4),
        "swav": lambda: kssl.methods.SwAV(encoder, num_prototypes=4, projection_dim=8,
                                          augment=[Identity(), FlipLeftRight(), small]),
    }[name]()
    assert model.image_shape == (None, None, 1)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(16, 18)
    history = model.fit(x, np.arange(16), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # What transfers takes whole images as it is: no copy at another size.
    assert tuple(model.encoder.predict(x[:2], verbose=0).shape) == (2, 8)


def test_a_convnet_built_for_whole_images_encodes_jigsaw_tiles():
    encoder = tiny(18)  # built for the images; fully convolutional with global pooling
    model = kssl.methods.Jigsaw(encoder, tile_size=4, gap=1, jitter=1, num_permutations=4, hidden_dim=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    x = smooth_images(8, 18)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert tuple(model.encoder.predict(x[:2], verbose=0).shape) == (2, 8)


# ---- the memory layers themselves ---------------------------------------------------------------------
def test_memory_layers_round_trip_their_config_and_refuse_bad_sizes():
    from kssl.layers.memory import MemoryBank, Queue

    queue = Queue(8, (2, 4), initializer=keras.initializers.RandomNormal(seed=1), normalize=True)
    np.testing.assert_allclose(np.linalg.norm(queue.values.numpy(), axis=-1), 1.0, rtol=1e-5)
    assert Queue.from_config(as_json(queue.get_config())).get_config() == queue.get_config()
    bank = MemoryBank(5, 3, momentum=0.2, seed=0)
    assert MemoryBank.from_config(as_json(bank.get_config())).get_config() == bank.get_config()
    with pytest.raises(ValueError, match="`queue_size` must be an integer >= 1"):
        Queue(0, 4)
    with pytest.raises(ValueError, match=r"`queue_size` \(8\) must be a multiple of the global batch size \(3"):
        queue.enqueue(np.zeros((3, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"`memory_momentum` must be in \[0, 1\)"):
        MemoryBank(5, 3, momentum=1.0)
