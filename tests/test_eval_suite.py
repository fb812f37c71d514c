"""The evaluation suite beyond linear/kNN: geometry, label fractions, layer probes, transfer, plots, report."""

import json
import math

import keras
import numpy as np
import pytest

import kssl
from kssl.data.images import Split
from helpers import write_fake_fashion_mnist


def test_alignment_of_identical_pairs_is_zero_and_grows_with_distance():
    z = np.random.default_rng(0).normal(size=(16, 8))
    assert kssl.eval.alignment(z, z) == 0.0
    assert kssl.eval.alignment(z, -z) == pytest.approx(4.0)  # antipodal: ||u - (-u)||^2 = 4


def test_uniformity_matches_its_closed_form_on_a_square():
    # 4 points at 90 degrees on the unit circle: 4 neighbour pairs at squared distance 2, 2 opposite at 4.
    square = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], "float64") * 3.0  # scale is normalised away
    for t in (1, 2):
        expected = math.log((4 * math.exp(-2 * t) + 2 * math.exp(-4 * t)) / 6)
        assert kssl.eval.uniformity(square, t=t) == pytest.approx(expected, rel=1e-9)
    collapsed = np.ones((5, 3))
    assert kssl.eval.uniformity(collapsed) == pytest.approx(0.0)  # all at one point: the worst value
    with pytest.raises(ValueError, match="`t` must be > 0"):
        kssl.eval.uniformity(square, t=0)


def test_alignment_uniformity_uses_the_augmentation():
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    images = np.random.default_rng(0).random((64, 12, 12, 1)).astype("float32")
    same = kssl.eval.alignment_uniformity(encoder, images, keras.layers.Identity(), count=32)
    assert same["alignment"] == pytest.approx(0.0, abs=1e-10) and same["count"] == 32
    noisy = kssl.eval.alignment_uniformity(encoder, images, keras.layers.GaussianNoise(0.5), count=32)
    assert noisy["alignment"] > 1e-4


def toy_split(per_class=100, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    images = (rng.random((len(labels), 4, 4, 1)) * 40).astype("uint8")
    images[np.arange(len(labels)), labels, 0, 0] = 255  # one bright pixel says the class
    return Split(images, labels)


def test_label_fractions_are_balanced_reproducible_and_separable():
    train, test = toy_split(), toy_split(seed=1)
    index = kssl.eval.label_subset_index(train.labels, 0.1, seed=3)
    assert np.array_equal(index, kssl.eval.label_subset_index(train.labels, 0.1, seed=3))
    assert not np.array_equal(index, kssl.eval.label_subset_index(train.labels, 0.1, seed=4))
    assert np.bincount(train.labels[index]).tolist() == [10, 10, 10, 10]
    result = kssl.eval.label_fractions(None, train, test, fractions=(0.01, 0.1, 1.0))
    assert [result[f]["examples"] for f in (0.01, 0.1, 1.0)] == [4, 40, 400]
    assert result[1.0]["linear"] == 1.0  # linearly separable: the probe is perfect


def test_layer_encoder_probes_inner_layers():
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    conv_layers = [layer.name for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    first = kssl.eval.layer_encoder(encoder, conv_layers[0])
    assert first.output_shape == (None, 4)
    features = kssl.eval.extract(first, np.zeros((3, 12, 12, 1), "float32"))
    assert features.shape == (3, 4)
    with pytest.raises(ValueError, match="`layer` must be one of the encoder's layers"):
        kssl.eval.layer_encoder(encoder, "no_such_layer")


def test_adapt_images_resizes_and_converts_channels():
    rgb = np.zeros((2, 8, 8, 3), "uint8")
    rgb[..., 1] = 255
    grey = kssl.eval.adapt_images(rgb, (4, 4, 1))
    assert grey.shape == (2, 4, 4, 1) and np.allclose(grey, 0.587)
    back = kssl.eval.adapt_images(grey, (4, 4, 3))
    assert back.shape == (2, 4, 4, 3)


def test_transfer_probes_another_dataset():
    encoder = kssl.backbones.convnet((8, 8, 1), widths=(4,))
    target = kssl.datasets.Dataset("toy", toy_split(), toy_split(seed=1), ("a", "b", "c", "d"), "test")
    result = kssl.eval.transfer(encoder, target, k=5)
    assert result["dataset"] == "toy" and 0.25 <= result["linear"] <= 1.0


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 5)), np.repeat(np.arange(3), 20)
    assert is_png(kssl.eval.tsne_plot(features, labels, str(tmp_path / "t.png"), class_names=["a", "b", "c"]))
    assert is_png(kssl.eval.history_plot({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]}, str(tmp_path / "h.png")))
    assert is_png(kssl.eval.fraction_plot({"x": {0.01: 0.5, 1.0: 0.9}}, str(tmp_path / "f.png")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "h.png", "t.png"]  # no temp files left
    with pytest.raises(ValueError, match="`history` holds no metric"):
        kssl.eval.history_plot({}, str(tmp_path / "x.png"))


def test_report_end_to_end(tmp_path, monkeypatch):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=200, test=60)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    encoder = kssl.backbones.convnet((28, 28, 1), widths=(4, 8))
    model = kssl.methods.SimCLR(encoder, projection_dim=8, augment=kssl.augment.simclr_views(
        28, channels=1, grayscale_policy="brightness_contrast", blur_prob=0.0))
    kssl.zoo.save(model, str(tmp_path / "preset"), metadata={"data": "fashion_mnist", "history": {"loss": [5.0, 4.0]}})
    results = kssl.eval.write_report(str(tmp_path / "preset"), fractions=(0.1, 1.0), tsne_count=50)
    out = tmp_path / "preset" / "report"
    report = (out / "report.md").read_text()
    assert "| simclr |" in report and "| random_init |" in report and "alignment" in report
    for png in ("tsne.png", "label_fractions.png", "history.png"):
        assert is_png(out / png) and f"({png})" in report
    saved = json.loads((out / "report.json").read_text())
    assert saved["fractions"]["simclr"]["0.1"]["examples"] == results["fractions"]["simclr"][0.1]["examples"]


class _FakeUMAP:
    """Stands in for umap.UMAP (an optional dependency): records its arguments, projects with PCA."""

    calls = []

    def __init__(self, **kwargs):
        _FakeUMAP.calls.append(kwargs)

    def fit_transform(self, x):
        centred = x - x.mean(axis=0)
        return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def test_umap_plot_uses_umap_learn_and_says_how_to_install_it(tmp_path, monkeypatch):
    import sys
    import types

    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(40, 5)), np.repeat(np.arange(2), 20)
    monkeypatch.setitem(sys.modules, "umap", None)  # not installed: import fails
    with pytest.raises(ImportError, match=r'pip install "kssl\[umap\]"'):
        kssl.eval.umap_plot(features, labels, str(tmp_path / "u.png"))
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=_FakeUMAP))
    assert is_png(kssl.eval.umap_plot(features, labels, str(tmp_path / "u.png"), count=30, seed=3))
    assert _FakeUMAP.calls[-1] == {"n_components": 2, "n_neighbors": 15, "random_state": 3}
