import numpy as np
import pytest

import kssl
from helpers import write_fake_fashion_mnist, write_idx


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(kssl.datasets.read_idx(tmp_path / "a.gz"), array)


def test_truncated_idx_is_refused(tmp_path):
    import gzip

    write_idx(tmp_path / "a.gz", np.zeros((4, 4), np.uint8))
    with gzip.open(tmp_path / "a.gz") as f:
        data = f.read()
    with gzip.open(tmp_path / "b.gz", "wb") as f:
        f.write(data[:-3])
    with pytest.raises(ValueError, match="truncated"):
        kssl.datasets.read_idx(tmp_path / "b.gz")


def test_explicit_path_and_data_dir(tmp_path, monkeypatch):
    (train, _), (test, test_labels) = write_fake_fashion_mnist(tmp_path / "fashion_mnist", train=40, test=20)
    data = kssl.datasets.load("fashion_mnist", path=tmp_path / "fashion_mnist")
    assert data.train.images.shape == (40, 28, 28, 1) and data.image_shape == (28, 28, 1)
    np.testing.assert_array_equal(data.test.labels, test_labels)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path))
    assert kssl.datasets.load("fashion_mnist").source == str(tmp_path / "fashion_mnist")


def test_pipelines_are_float_batches(tmp_path):
    write_fake_fashion_mnist(tmp_path, train=40, test=20)
    data = kssl.datasets.load("fashion_mnist", path=tmp_path)
    batches = list(data.train.unlabelled(16, seed=0))
    assert len(batches) == 2 and batches[0].shape == (16, 28, 28, 1)  # remainder dropped
    assert batches[0].dtype.name == "float32" and float(np.max(batches[0])) <= 1.0
    images, labels = next(iter(data.test.labelled(32)))
    assert images.shape[0] == 20 and labels.shape == (20,)
    with pytest.raises(ValueError, match="batch_size"):
        data.train.unlabelled(0)


def test_unknown_dataset_name_suggests(monkeypatch):
    with pytest.raises(ValueError, match="`name` must be one of.*Did you mean 'fashion_mnist'"):
        kssl.datasets.load("fashion-mnist")


def test_offline_error_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("KSSL_OFFLINE", "1")
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setitem(kssl.datasets.SOURCES["fashion_mnist"], "debian_dir", str(tmp_path / "none"))

    def no_tfds(name, download):
        raise OSError("no TFDS data and no network")

    monkeypatch.setattr(kssl.datasets, "_read_tfds", no_tfds)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        kssl.datasets.load("fashion_mnist")
    with pytest.raises(FileNotFoundError, match="`path`"):
        kssl.datasets.load("fashion_mnist", path=tmp_path / "empty")


# ---- splits: one home (kssl.data.splits), the same examples on each side as the README's runs -----------
def old_grouped(groups, test_fraction, seed):  # kssl/audio.py Clips.split before the move, verbatim
    distinct = np.unique(groups)
    held = np.random.default_rng(seed).permutation(distinct)[: max(1, int(round(len(distinct) * test_fraction)))]
    test = np.isin(groups, held)
    return np.flatnonzero(~test), np.flatnonzero(test)


def old_per_class(labels, test_fraction, seed):  # kssl/datasets.py split_per_class before the move, verbatim
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        count = min(len(index) - 1, max(1, round(test_fraction * len(index)))) if len(index) >= 2 else 0
        test.extend(index[:count])
        train.extend(index[count:])
    return np.sort(np.array(train, np.int64)), np.sort(np.array(test, np.int64))


def old_shuffled(count, test_fraction, seed):  # kssl/text.py rotten_tomatoes before the move, verbatim
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * (1 - test_fraction)))
    return order[:cut], order[cut:]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_splits_keep_the_examples_where_they_were(seed):
    from kssl.data import splits

    rng = np.random.default_rng(100 + seed)
    groups = rng.integers(0, 48, 384)  # espeak: 8 voices x 48 sentences
    labels = rng.choice(22, 800, p=np.r_[[0.3], np.full(21, 0.7 / 21)])  # uneven, like Open Clip Art
    pairs = [(splits.grouped_split(groups, 0.25, seed), old_grouped(groups, 0.25, seed)),
             (splits.stratified_split(labels, 0.2, seed), old_per_class(labels, 0.2, seed)),
             (splits.shuffled_split(12808, 0.2, seed), old_shuffled(12808, 0.2, seed))]
    for new, old in pairs:
        for a, b in zip(new, old):
            np.testing.assert_array_equal(a, b)


def test_split_properties():
    from kssl.data import splits

    groups = np.repeat(np.arange(10), 3)
    train, test = splits.grouped_split(groups, 0.3, seed=0)
    assert len(test) == 9 and not set(groups[train]) & set(groups[test])
    assert sorted([*train, *test]) == list(range(30))
    labels = np.array([0] * 20 + [1] * 2 + [2])  # a rare class is in both parts, a singleton stays in train
    train, test = splits.stratified_split(labels, 0.25, seed=0)
    assert (labels[test] == 0).sum() == 5 and (labels[test] == 1).sum() == 1 and 2 not in labels[test]
    with pytest.raises(ValueError, match="`test_fraction` must be a number in \\(0, 1\\)"):
        splits.grouped_split(groups, 1.0)


# ---- the cache folder and atomic writes: kssl.files -----------------------------------------------------
def test_one_cache_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("KSSL_CACHE", raising=False)
    monkeypatch.delenv("KSSL_CACHE_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert kssl.files.cache_dir("wheels") == str(tmp_path / "keras" / "datasets" / "kssl_cache" / "wheels")
    monkeypatch.setenv("KSSL_CACHE_DIR", str(tmp_path / "old"))  # the retired name is not read, and says so
    with pytest.warns(UserWarning, match="set KSSL_CACHE"):
        assert kssl.files.cache_dir() == str(tmp_path / "keras" / "datasets" / "kssl_cache")
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    assert kssl.files.cache_dir() == str(tmp_path / "cache")
    # Every data cache lands there: image folders, the text corpus and the speech clips use it.
    from kssl.data import audio, images, text

    assert images._cache_path("x", str(tmp_path), {"a": []}, 8).startswith(str(tmp_path / "cache"))
    assert audio._cache_file("espeak", {"k": 1}).startswith(str(tmp_path / "cache"))
    assert text.cache_dir is kssl.files.cache_dir


def test_npz_cache_is_written_atomically(tmp_path, monkeypatch):
    path = str(tmp_path / "new" / "folder" / "c.npz")
    kssl.files.save_npz_atomic(path, a=np.arange(4))
    assert np.load(path)["a"].tolist() == [0, 1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "new" / "folder").iterdir()) == ["c.npz"]  # no temp file left

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        kssl.files.save_npz_atomic(path, a=np.zeros(2))
    assert np.load(path)["a"].tolist() == [0, 1, 2, 3]  # the old file, whole
    assert sorted(p.name for p in (tmp_path / "new" / "folder").iterdir()) == ["c.npz"]


def test_unit_float_is_the_one_scaling():
    import tensorflow as tf

    images = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_allclose(kssl.datasets.to_unit_float(images), [[0, 128 / 255, 1]])
    np.testing.assert_allclose(kssl.datasets.to_unit_float(tf.constant(images)).numpy(), [[0, 128 / 255, 1]])
    floats = np.array([0.5], np.float32)
    assert kssl.datasets.to_unit_float(floats) is floats
