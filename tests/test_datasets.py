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
