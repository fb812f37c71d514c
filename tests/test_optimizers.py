"""LazyAdam: Adam on dense gradients and on sparse ones that touch every row; only the touched rows (and
their moments) move otherwise; duplicate rows are summed as the dense gradient sums them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kssl.training.optimizers import LazyAdam


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
