"""word2vec's per-example Hogwild SGD kernel (kssl/ops/word2vec_sgd.cc) against a NumPy transcription of
word2vec.c's update, and `Word2Vec(update="hogwild")` under model.fit."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl.ops import kernels


def reference(w_in, w_out, inputs, targets, negatives, lr):
    """word2vec.c's CBOW step with negative sampling and cbow_mean (skip-gram when C = 1), example by example."""
    w_in, w_out, losses = w_in.copy(), w_out.copy(), []
    for context, target, negative in zip(inputs, targets, negatives):
        context = context[context > 0]
        if len(context) == 0:
            continue
        h, e, loss = w_in[context].mean(0), np.zeros(w_in.shape[1], w_in.dtype), 0.0
        for j, word in enumerate([target, *negative]):
            if j > 0 and word == target:
                continue  # word2vec.c skips a negative that is the target
            score = h @ w_out[word]
            sigmoid = 1 / (1 + np.exp(-score))
            loss -= np.log(sigmoid) if j == 0 else np.log(1 - sigmoid)
            g = lr * ((j == 0) - sigmoid)
            e += g * w_out[word]
            w_out[word] += g * h
        for word in context:  # a word twice in the window gets e twice, as in word2vec.c
            w_in[word] += e
        losses.append(loss)
    return w_in, w_out, float(np.mean(losses))


def random_batch(vocabulary=40, dim=8, batch=64, width=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    w_in = (rng.normal(size=(vocabulary, dim)) * 0.3).astype("float32")
    w_out = (rng.normal(size=(vocabulary, dim)) * 0.3).astype("float32")
    inputs = rng.integers(0, vocabulary, size=(batch, width)).astype("int32")
    inputs[:, 0] = np.maximum(inputs[:, 0], 1)
    inputs[3] = 0  # an empty window: skipped
    inputs[4] = [5, 5, 0, 7][:width]  # a word twice
    targets = rng.integers(1, vocabulary, size=batch).astype("int32")
    negatives = rng.integers(1, vocabulary, size=(batch, k)).astype("int32")
    negatives[6, 1] = targets[6]  # a negative that is the target
    return w_in, w_out, inputs, targets, negatives


@pytest.mark.parametrize("width", [4, 1])  # CBOW, skip-gram
def test_one_thread_is_word2vec_update_example_by_example(width):
    w_in, w_out, inputs, targets, negatives = random_batch(width=width)
    inputs[4] = 5
    a, b = tf.Variable(w_in), tf.Variable(w_out)
    loss = kernels.word2vec_sgd(a, b, inputs, targets, negatives, 0.1, num_threads=1)
    expected_in, expected_out, expected_loss = reference(w_in, w_out, inputs, targets, negatives, 0.1)
    np.testing.assert_allclose(a.numpy(), expected_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), expected_out, rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-5)
    assert np.abs(a.numpy() - w_in).max() > 1e-3  # it did move the vectors


def test_threads_split_the_batch_and_process_every_example_once():
    """Examples on disjoint rows do not race: any thread count gives the sequential result."""
    vocabulary, batch = 4001, 1000
    rng = np.random.default_rng(1)
    ids = rng.permutation(np.arange(1, vocabulary))[: batch * 4].reshape(batch, 4).astype("int32")
    inputs, targets, negatives = ids[:, :2], ids[:, 2], ids[:, 3:]
    w_in = (rng.normal(size=(vocabulary, 16)) * 0.3).astype("float32")
    w_out = (rng.normal(size=(vocabulary, 16)) * 0.3).astype("float32")
    expected_in, expected_out, expected_loss = reference(w_in, w_out, inputs, targets, negatives, 0.05)
    for threads in (2, 3, 7):
        a, b = tf.Variable(w_in), tf.Variable(w_out)
        loss = kernels.word2vec_sgd(a, b, inputs, targets, negatives, 0.05, num_threads=threads)
        np.testing.assert_allclose(a.numpy(), expected_in, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.numpy(), expected_out, rtol=1e-5, atol=1e-6)
        assert float(loss) == pytest.approx(expected_loss, rel=1e-5)


def test_a_value_read_before_the_step_keeps_its_contents():
    w_in, w_out, inputs, targets, negatives = random_batch()
    a, b = tf.Variable(w_in), tf.Variable(w_out)
    before = a.read_value()  # shares the buffer until the kernel's copy-on-read switch
    kernels.word2vec_sgd(a, b, inputs, targets, negatives, 0.1)
    np.testing.assert_array_equal(before.numpy(), w_in)
    assert not np.array_equal(a.numpy(), w_in)


@pytest.mark.parametrize("change, message", [
    (lambda args: {**args, "inputs": np.full((64, 4), 40, "int32")}, "word id 40 is outside the vocabulary"),
    (lambda args: {**args, "targets": np.full((64,), -1, "int32")}, "word id -1 is outside the vocabulary"),
    (lambda args: {**args, "targets": args["targets"][:10]}, "targets must be"),
    (lambda args: {**args, "negatives": args["negatives"][:, 0]}, "negatives must be"),
    (lambda args: {**args, "learning_rate": [0.1, 0.2]}, "learning_rate must be a scalar"),
    (lambda args: {**args, "output_vectors": tf.Variable(np.zeros((40, 3), "float32"))}, "of one shape"),
    (lambda args: {**args, "input_vectors": np.zeros((40, 8), "float32")}, "`input_vectors` must be a float32 matrix"),
    (lambda args: {**args, "num_threads": -1}, "`num_threads` must be an integer >= 0"),
])
def test_bad_input_is_refused_with_the_argument_named(change, message):
    w_in, w_out, inputs, targets, negatives = random_batch()
    args = {"input_vectors": tf.Variable(w_in), "output_vectors": tf.Variable(w_out), "inputs": inputs,
            "targets": targets, "negatives": negatives, "learning_rate": 0.1}
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=message):
        kernels.word2vec_sgd(**change(args))


def test_build_without_a_compiler_says_how_to_get_one(monkeypatch):
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr(kernels.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install g.."):
        kernels.compiler()


def hogwild_model(vocabulary, negatives):
    counts = np.r_[0, np.arange(vocabulary - 1, 0, -1)]
    model = kssl.methods.Word2Vec(counts, embedding_dim=8, mode="cbow", negatives=negatives.shape[1], seed=0,
                                  update="hogwild", threads=1)
    model.sample_negatives = lambda shape: tf.constant(negatives)  # fixed draws, to compare with the reference
    return model


def test_fit_applies_the_kernel_at_the_schedules_rate_and_counts_iterations(tmp_path):
    w_in, w_out, inputs, targets, negatives = random_batch(batch=32)
    model = hogwild_model(40, negatives)
    model.encoder.layers[-1].embeddings.assign(w_in)
    model.output_vectors.embeddings.assign(w_out)
    schedule = keras.optimizers.schedules.PolynomialDecay(0.1, 2, 0.02)  # 0.1 at step 0, 0.06 at step 1
    model.compile(optimizer=keras.optimizers.SGD(schedule))
    history = model.fit({"inputs": np.concatenate([inputs, inputs])}, np.concatenate([targets, targets]),
                        batch_size=32, epochs=1, shuffle=False, verbose=0)
    expected_in, expected_out, loss_0 = reference(w_in, w_out, inputs, targets, negatives, 0.1)
    expected_in, expected_out, loss_1 = reference(expected_in, expected_out, inputs, targets, negatives, 0.06)
    np.testing.assert_allclose(model.vectors(), expected_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.output_vectors.get_weights()[0], expected_out, rtol=1e-4, atol=1e-6)
    assert int(model.optimizer.iterations) == 2 and model.jit_compile is False
    assert history.history["loss"][0] == pytest.approx((loss_0 + loss_1) / 2, rel=1e-4)
    model.save(str(tmp_path / "w2v.keras"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when it cannot compile a loaded model
        loaded = keras.saving.load_model(str(tmp_path / "w2v.keras"))
    assert (loaded.update, loaded.threads) == ("hogwild", 1) and type(loaded.optimizer) is keras.optimizers.SGD
    np.testing.assert_array_equal(loaded.vectors(), model.vectors())


@pytest.mark.parametrize("optimizer, jit_compile, message", [
    (keras.optimizers.Adam(0.01), "auto", "compile with keras.optimizers.SGD"),
    (keras.optimizers.SGD(0.01, momentum=0.9), "auto", "no momentum"),
    (keras.optimizers.SGD(0.01), True, "`jit_compile` must be False or 'auto'"),
])
def test_hogwild_refuses_an_optimizer_it_would_not_apply(optimizer, jit_compile, message):
    model = kssl.methods.Word2Vec([0, 3, 2, 1], embedding_dim=4, update="hogwild")
    with pytest.raises(ValueError, match=message):
        model.compile(optimizer=optimizer, jit_compile=jit_compile)


def test_hogwild_refuses_several_replicas(mirrored):
    with mirrored.scope():
        model = kssl.methods.Word2Vec([0, 3, 2, 1], embedding_dim=4, update="hogwild")
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    with pytest.raises(ValueError, match="train on one replica"):
        model.fit({"inputs": np.ones((4, 2), "int32")}, np.ones(4, "int32"), batch_size=4, verbose=0)


@pytest.mark.parametrize("change, message", [({"update": "sgd"}, "`update` must be one of"),
                                             ({"threads": -2}, "`threads` must be an integer >= 0")])
def test_bad_update_arguments(change, message):
    with pytest.raises(ValueError, match=message):
        kssl.methods.Word2Vec([0, 3, 2, 1], **change)
