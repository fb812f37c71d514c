"""LazyAdam: Adam on dense gradients and on sparse ones that touch every row; only the touched rows (and
their moments) move otherwise; duplicate rows are summed as the dense gradient sums them.
RowwiseAdagrad: its formula on dense and sparse gradients (numpy reference), only touched rows move, and the
XLA-compiled step agrees with the plain one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kssl.training.optimizers import LazyAdam, RowwiseAdagrad


def embedding_step(optimizer, table, steps, dense=False):
    """Applies `optimizer` to a (rows, 3) table for each list of row ids in `steps` (loss: sum of the looked-up
    rows times fixed weights) and returns the table after each step; `dense`: give it the gradient as the
    dense tensor (Keras' Adam squares the slices of a sparse gradient before summing duplicate rows, so
    the reference is Adam on the dense gradient)."""
    variable = keras.Variable(table)
    weights = tf.constant([[1.0, -2.0, 0.5]])
    optimizer.build([variable])
    after = []
    for ids in steps:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(variable.value, ids) * weights * tf.cast(tf.range(len(ids))[:, None] + 1,
                                                                                   "float32"))
        gradient = tape.gradient(loss, variable.value)
        assert isinstance(gradient, tf.IndexedSlices)
        optimizer.apply([tf.convert_to_tensor(gradient) if dense else gradient], [variable])
        after.append(variable.numpy().copy())
    return after


def test_lazy_adam_is_adam_on_dense_gradients():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    weights = []
    for optimizer in (keras.optimizers.Adam(1e-2), LazyAdam(1e-2)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for adam, lazy in zip(*weights):
        np.testing.assert_array_equal(adam, lazy)


def test_lazy_adam_is_adam_when_every_row_is_touched_and_sums_duplicate_rows():
    table = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    steps = [[0, 1, 2, 3, 2], [3, 2, 1, 0, 0], [1, 0, 3, 2]]  # every row each step, some twice
    adam = embedding_step(keras.optimizers.Adam(0.1), table, steps, dense=True)
    lazy = embedding_step(LazyAdam(0.1), table, steps)
    for a, b in zip(adam, lazy):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_lazy_adam_moves_only_the_rows_of_the_batch():
    table = np.random.default_rng(2).normal(size=(6, 3)).astype("float32")
    steps = [[1, 1, 4], [2]]
    adam = embedding_step(keras.optimizers.Adam(0.1), table, steps, dense=True)
    lazy = embedding_step(LazyAdam(0.1), table, steps)
    np.testing.assert_allclose(lazy[0], adam[0], rtol=1e-5, atol=1e-5)  # step 1: Adam moves only rows with a gradient too
    moved = lambda before, after: np.flatnonzero((before != after).any(axis=1)).tolist()  # noqa: E731
    assert moved(table, lazy[0]) == [1, 4]
    assert moved(lazy[0], lazy[1]) == [2]  # lazy: rows 1 and 4 keep their place and their moments
    assert moved(adam[0], adam[1]) == [1, 2, 4]  # Adam: their momentum still moves them


def test_lazy_adam_config_round_trip_and_bad_input():
    optimizer = LazyAdam(3e-3, beta_2=0.99)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is LazyAdam and clone.get_config() == optimizer.get_config()
    with pytest.raises(ValueError, match="`amsgrad` must be False"):
        LazyAdam(amsgrad=True)


def rowwise_adagrad_reference(table, steps, learning_rate, initial=0.0, epsilon=1e-10):
    """numpy RowwiseAdagrad on embedding_step's loss: the slice of entry k of a step is (k + 1) * weights."""
    table, accumulator, weights, after = table.astype("float64"), np.full(len(table), initial), np.array([1.0, -2.0, 0.5]), []
    for ids in steps:
        slices = [(k + 1) * weights for k in range(len(ids))]
        for row, g in zip(ids, slices):
            accumulator[row] += np.mean(g ** 2)  # every slice's square first (one scatter-add) ...
        for row, g in zip(ids, slices):
            table[row] -= learning_rate * g / (np.sqrt(accumulator[row]) + epsilon)  # ... then every slice
        after.append(table.copy())
    return after


def test_rowwise_adagrad_formula_on_sparse_gradients_with_duplicate_rows():
    table = np.random.default_rng(3).normal(size=(6, 3)).astype("float32")
    steps = [[1, 1, 4], [2], [4, 1, 4, 4]]
    got = embedding_step(RowwiseAdagrad(0.1, initial_accumulator_value=0.5), table, steps)
    want = rowwise_adagrad_reference(table, steps, 0.1, initial=0.5)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    moved = lambda before, after: np.flatnonzero((before != after).any(axis=1)).tolist()  # noqa: E731
    assert moved(table, got[0]) == [1, 4] and moved(got[0], got[1]) == [2]


def test_rowwise_adagrad_on_dense_gradients_is_per_row_adagrad_and_compiles_with_xla():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 5)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    runs = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=RowwiseAdagrad(0.05), loss="mse", jit_compile=jit)
        before = model.get_weights()
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)  # one step
        runs.append((before, model.get_weights(), model.optimizer))
    (before, plain, optimizer), (_, compiled, _) = runs
    for a, b in zip(plain, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # One step from a zero accumulator: each row moves by lr * g / |g|_rms, so its RMS step is exactly lr.
    kernel_step = (before[0] - plain[0]).astype("float64")
    np.testing.assert_allclose(np.sqrt(np.mean(kernel_step ** 2, axis=1)), 0.05, rtol=1e-4)
    bias_step = np.abs(before[1] - plain[1])  # a vector: one accumulator per entry (Adagrad's sign step)
    np.testing.assert_allclose(bias_step, 0.05, rtol=1e-4)
    assert [tuple(v.shape) for v in optimizer.variables[-4:]] == [(5,), (4,), (4,), (1,)]


def test_rowwise_adagrad_config_round_trip_and_bad_input():
    optimizer = RowwiseAdagrad(0.2, initial_accumulator_value=0.1, epsilon=1e-8)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is RowwiseAdagrad and clone.get_config() == optimizer.get_config()
    with pytest.raises(ValueError, match="`initial_accumulator_value` must be a number >= 0"):
        RowwiseAdagrad(initial_accumulator_value=-1)
    with pytest.raises(ValueError, match="`epsilon` must be a number > 0"):
        RowwiseAdagrad(epsilon=0)
