import json

import numpy as np
import pytest

import kssl


@pytest.fixture
def model():
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    return kssl.methods.SimCLR(
        encoder, projection_dim=8,
        augment=kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast", seed=0),
    )


def test_preset_round_trip_gives_identical_features(tmp_path, model):
    info = kssl.zoo.save(model, tmp_path, metadata={"data": "fashion_mnist"}, card="# tiny\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    assert info["method"] == "SimCLR" and info["encoder_parameters"] == model.encoder.count_params()
    x = np.random.default_rng(0).random((4, 12, 12, 1)).astype("float32")
    encoder = kssl.zoo.load(tmp_path, trainable=False)
    np.testing.assert_array_equal(encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))
    assert not encoder.trainable
    full = kssl.zoo.load(tmp_path, include_head=True)
    assert isinstance(full, kssl.methods.SimCLR) and json.dumps(full.get_config()) == json.dumps(model.get_config())


def test_incomplete_preset_is_refused(tmp_path, model):
    kssl.zoo.save(model, tmp_path)
    (tmp_path / "model.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        kssl.zoo.load(tmp_path)


def test_newer_kssl_or_other_keras_major_is_refused(tmp_path, model):
    kssl.zoo.save(model, tmp_path)
    meta_path = tmp_path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {"kssl_version": "99.0.0"}))
    with pytest.raises(RuntimeError, match="Upgrade: pip install 'kssl>=99.0.0'"):
        kssl.zoo.load(tmp_path)
    meta_path.write_text(json.dumps(meta | {"keras_version": "2.15.0"}))
    with pytest.raises(RuntimeError, match="Keras 2.15.0"):
        kssl.zoo.load(tmp_path)


def test_no_temporary_files_are_left(tmp_path, model):
    kssl.zoo.save(model, tmp_path)
    kssl.zoo.save(model, tmp_path)  # overwrite in place
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_directory_is_named_as_a_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="looks like a path"):
        kssl.zoo.load(str(tmp_path / "nothing_here"))


def test_assets_travel_with_the_preset(tmp_path, model):
    info = kssl.zoo.save(model, tmp_path, assets={"vocabulary.txt": "[PAD]\ncat\n"})
    assert info["assets"] == ["vocabulary.txt"]
    assert kssl.zoo.read_asset(tmp_path, "vocabulary.txt") == "[PAD]\ncat\n"
    with pytest.raises(FileNotFoundError, match=r"has no asset 'words.txt'; it has \['vocabulary.txt'\]"):
        kssl.zoo.read_asset(tmp_path, "words.txt")
    with pytest.raises(ValueError, match="plain file names"):
        kssl.zoo.save(model, tmp_path, assets={"../escape.txt": "x"})


def test_train_zoo_entries_come_from_the_registry():
    """tools/train_zoo.py: one entry per image method of the registry, trained by its example."""
    import importlib.util
    import os

    from absl import flags

    from kssl.methods import registry

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("train_zoo", os.path.join(root, "tools", "train_zoo.py"))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        image_methods = [s.name for s in registry.REGISTRY.values() if s.data == "images"]
        assert [e["method"] for e in module.ENTRIES.values()] == image_methods
        simclr = module.ENTRIES["simclr_convnet_fmnist"]  # the bundled entry: its card's command, unchanged
        assert module.train_command(registry.get("simclr"), simclr, "OUT") == [
            "examples/simclr_fashion_mnist.py", "--epochs", "12", "--batch_size", "128", "--widths", "32,64,512",
            "--raw_pixels", "--out", "OUT"]
        assert module.ENTRIES["jigsaw_convnet_fmnist"]["epochs"] == registry.get("jigsaw").recipe.epochs
    finally:
        for name in ("entry", "out", "skip_train", "bundle", "fraction"):
            if name in flags.FLAGS:
                delattr(flags.FLAGS, name)


def test_a_damaged_preset_is_named_by_its_path(tmp_path, model):
    kssl.zoo.save(model, tmp_path)
    assert kssl.zoo.load(tmp_path).count_params() == model.encoder.count_params()  # control: intact, it loads
    weights = tmp_path / "model.weights.h5"
    intact = weights.read_bytes()
    weights.write_bytes(intact[: len(intact) // 2])
    with pytest.raises(ValueError, match=r"model.weights.h5 cannot be read .* the preset is damaged"):
        kssl.zoo.load(tmp_path)
    weights.write_bytes(intact)
    (tmp_path / "metadata.json").write_text('{"kssl_version": "0.1')
    with pytest.raises(ValueError, match=rf"{tmp_path}/metadata.json is not valid JSON"):
        kssl.zoo.load(tmp_path)
    with pytest.raises(ValueError, match=r"metadata.json is not valid JSON"):
        kssl.zoo.read_metadata(tmp_path)


def test_saving_over_a_preset_replaces_its_card_assets_and_report(tmp_path, model):
    kssl.zoo.save(model, tmp_path, card="# old\n", assets={"vocabulary.txt": "a\nb\n"})
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.md").write_text("old numbers")
    (tmp_path / "notes.txt").write_text("mine")
    kssl.zoo.save(model, tmp_path, metadata={"data": "other"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "metadata.json", "model.weights.h5",
                                                          "notes.txt"]  # the user's own file stays
    kssl.zoo.save(model, tmp_path, card="# new\n", assets={"words.txt": "c\n"})
    assert (tmp_path / "README.md").read_text() == "# new\n"
    assert sorted(p.name for p in (tmp_path / "assets").iterdir()) == ["words.txt"]


def test_a_preset_with_feature_statistics_loads_an_encoder_with_standardised_features(tmp_path, model):
    images = np.random.default_rng(0).random((64, 12, 12, 1)).astype("float32")
    raw = model.encoder.predict(images, verbose=0)
    stats = kssl.eval.feature_statistics(model.encoder, images)
    assert stats["examples"] == len(images)
    kssl.zoo.save(model, tmp_path / "plain")
    kssl.zoo.save(model, tmp_path / "stats", metadata={kssl.zoo.FEATURE_STATISTICS: stats})
    np.testing.assert_array_equal(kssl.zoo.load(tmp_path / "plain").predict(images, verbose=0), raw)  # no stats
    with pytest.raises(ValueError, match=r"carries no feature statistics to standardize with"):
        kssl.zoo.load(tmp_path / "plain", standardize=True)
    encoder = kssl.zoo.load(tmp_path / "stats", trainable=False)
    features = encoder.predict(images, verbose=0)
    varying = np.asarray(stats["std"]) > 1e-3
    assert varying.sum() >= 2  # the check below has features to look at
    np.testing.assert_allclose(features.mean(axis=0)[varying], 0.0, atol=1e-3)
    np.testing.assert_allclose(features.std(axis=0)[varying], 1.0, rtol=1e-2)
    assert not encoder.trainable and encoder.output_shape == model.encoder.output_shape
    np.testing.assert_array_equal(kssl.zoo.load(tmp_path / "stats", standardize=False).predict(images, verbose=0), raw)
