"""Bad data and bad arguments are refused with a message that names them (issue 20): float images in
[0, 255], NaN images and features, sentences given as strings, a misspelled KSSL_DATA_DIR, an array whose
last batch is too small for the method, a batch larger than a named split, and `--projection_dim 0`."""

import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl import cli
from kssl.data.images import Dataset, Split
from kssl.data.language import Word2VecData, WordVocabulary
from helpers import smooth_images


def tiny_simclr():
    return kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4, 8)), projection_dim=8)


def test_float_images_in_0_255_and_nan_images_are_refused_by_fit_and_call():
    images = smooth_images(32)
    model = tiny_simclr()
    model.compile(optimizer="adam")
    assert np.isfinite(model.fit(images, batch_size=16, epochs=1, verbose=0).history["loss"]).all()  # control
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"SimCLR: `x` must be finite images in \[0, 1\]"):
        model.fit(images * 255, batch_size=16, epochs=1, verbose=0)
    broken = images.copy()
    broken[5] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be finite images in \[0, 1\]"):
        model.fit(broken, batch_size=16, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"SimCLR: `x` must be images in \[0, 1\]; got float values up to 2"):
        model(images * 255)
    with pytest.raises(ValueError, match=r"SimCLR: `x` must be finite images in \[0, 1\]; 1 of 32 hold NaN .* index 5"):
        model(broken)


def test_the_protocols_refuse_0_255_float_images_and_nan_features():
    rng = np.random.default_rng(0)
    images = (rng.random((40, 12, 12, 1)) * 255).astype("uint8")
    labels = np.arange(40) % 2
    train, test = Split(images[:30], labels[:30]), Split(images[30:], labels[30:])
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4,))
    assert kssl.eval.linear_probe(encoder, train, test)["feature_dim"] == 4  # control: uint8 images are scaled
    as_float = Split(images[:30].astype("float32"), labels[:30])
    with pytest.raises(ValueError, match=r"`split.images` must be images in \[0, 1\]; got float values up to 2"):
        kssl.eval.linear_probe(encoder, as_float, test)
    weights = encoder.get_weights()
    encoder.set_weights([np.full_like(w, np.nan) for w in weights])
    with pytest.raises(ValueError, match=r"`encoder` gives NaN or Inf features for 30 of 30 images"):
        kssl.eval.knn(encoder, train, test)


def test_sentences_given_as_strings_are_refused():
    words = [["the", "cat", "sat"], ["the", "dog", "ran"]]
    vocabulary = WordVocabulary(words, min_count=1)
    assert "cat" in vocabulary.words  # control: lists of words
    with pytest.raises(ValueError, match=r"`sentences` must be sentences given as lists of words; sentence 0 is a "
                                         r"string \('the cat sat'\): split them first"):
        WordVocabulary(["the cat sat", "the dog ran"], min_count=1)
    with pytest.raises(ValueError, match=r"got one string"):
        WordVocabulary("the cat sat", min_count=1)
    with pytest.raises(ValueError, match=r"sentence 1 is a string"):
        Word2VecData([["the", "cat"], "the dog"], vocabulary, window=1, batch_size=2)


def test_a_misspelled_data_directory_is_refused_or_named(tmp_path, monkeypatch):
    from helpers import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=16, test=8)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    assert kssl.datasets.load("fashion_mnist").source == str(tmp_path / "data" / "fashion_mnist")  # control
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "dta"))
    with pytest.raises(FileNotFoundError, match=r"KSSL_DATA_DIR is set to .*dta', which is not a directory"):
        kssl.datasets.load("fashion_mnist")
    monkeypatch.delenv("KSSL_DATA_DIR")
    monkeypatch.setenv("KSSL_DATADIR", str(tmp_path / "data"))
    monkeypatch.setenv("KSSL_OFFLINE", "1")
    with pytest.warns(UserWarning, match=r"KSSL_DATADIR is set, but kssl reads KSSL_DATA_DIR"):
        try:
            kssl.datasets.load("fashion_mnist")
        except FileNotFoundError:
            pass  # no system copy here: the warning is what matters


def test_an_array_whose_last_batch_is_too_small_is_refused_before_training():
    model = tiny_simclr()
    model.compile(optimizer="adam")
    model.fit(smooth_images(34), batch_size=16, epochs=1, verbose=0)  # control: a last batch of 2 trains
    with pytest.raises(ValueError, match=r"SimCLR.fit: `x` has 33 training examples, so with batch_size 16 the last "
                                         r"batch would hold 1, fewer than the 2 SimCLR needs; drop 1 examples"):
        model.fit(smooth_images(33), batch_size=16, epochs=1, verbose=0)


def test_a_batch_larger_than_a_split_names_the_split():
    images = np.zeros((8, 4, 4, 1), "uint8")
    data = Dataset("toy", Split(images, np.zeros(8, "int64")), Split(images[:3], np.zeros(3, "int64")), ("a",), "here")
    data.test.unlabelled(3)  # control
    with pytest.raises(ValueError, match=r"`batch_size` \(4\) is larger than the toy test split \(3 examples\)"):
        data.test.unlabelled(4)
    assert data.train.take(4, seed=0).name == "toy train"


def test_projection_dim_0_is_named_by_its_flag(tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        cli.main(["pretrain", "simclr", "--dataset", "synthetic", "--projection_dim", "0", "--out", str(tmp_path / "r")])
    assert error.value.code == 2
    assert capsys.readouterr().err.strip() == "kssl pretrain: `--projection_dim` must be an integer >= 1; got 0."
    assert not (tmp_path / "r").exists()  # refused before the run directory was made
