"""kssl's input pipelines run with tf.data's autotuner off (kssl.training.tuning: it slowed training here)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl.data import language
from kssl.data.images import Split
from kssl.training.tuning import without_autotune
from kssl.methods.pirl import indexed_batches


def autotuned(ds):
    return ds.options().autotune.enabled is not False  # None: the default, on


def test_kssl_pipelines_turn_the_autotuner_off_and_keep_their_batches():
    split = Split(np.arange(10 * 4 * 4, dtype="uint8").reshape(10, 4, 4, 1), np.arange(10))
    assert not autotuned(split.unlabelled(4, seed=0)) and not autotuned(split.labelled(4))
    assert not autotuned(indexed_batches(split, batch_size=4))
    vocabulary = list(language.SPECIAL_TOKENS) + ["the", "cat", "sat", "."]
    documents = [["the cat sat.", "the cat."], ["cat sat.", "the sat."]] * 4
    assert not autotuned(language.MLMPreprocessor(vocabulary, sequence_length=8).dataset(documents, batch_size=2))
    # the option changes speed only: the same batches in the same order
    def pipeline():
        return tf.data.Dataset.from_tensor_slices(split.images).shuffle(10, seed=3).batch(4).map(
            lambda x: x + 1, num_parallel_calls=tf.data.AUTOTUNE)

    plain, tuned = pipeline(), without_autotune(pipeline())
    assert autotuned(plain) and not autotuned(tuned)
    for a, b in zip(plain, tuned):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="`dataset` must be a tf.data.Dataset; got ndarray"):
        without_autotune(split.images)


def test_pretrain_fits_on_a_stream_with_the_autotuner_off(monkeypatch):
    seen = {}

    def fit(self, x=None, *args, **kwargs):
        seen["autotune"] = autotuned(x)
        return keras.callbacks.History()

    monkeypatch.setattr(keras.Model, "fit", fit)
    model = kssl.methods.SimCLR(kssl.backbones.convnet((8, 8, 1), widths=(4,)))
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 8, 8, 1), "float32")).batch(4)
    kssl.training.pretrain(model, data, epochs=1, verbose=0)
    assert seen == {"autotune": False}


def test_the_benchmark_times_both_pipelines_and_writes_its_json(tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "autotune.json"
    subprocess.run([sys.executable, os.path.join(root, "tools", "bench", "autotune.py"), "--dataset=synthetic",
                    "--batch_size=16", "--steps=2", "--rounds=2", f"--out={out}"], check=True, cwd=tmp_path,
                   capture_output=True)
    result = json.loads(out.read_text())
    assert set(result["fits"]) == {"autotuner on", "autotuner off"}
    assert all(len(fits) == 2 and all(f["ms_per_step"] > 0 for f in fits) for fits in result["fits"].values())
    assert result["run"]["steps"] == 2 and "load_1min" in result["run"]
