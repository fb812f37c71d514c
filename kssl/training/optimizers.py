"""Optimisers Keras does not have.

`LazyAdam`: Adam that updates only the rows a sparse gradient touches. Written here because Keras 3's Adam
densifies an `IndexedSlices` gradient (`gradient - m` over the whole table), so every step of word2vec
rewrote both full embedding tables and their two moment tables; Keras' SGD and Adagrad update sparsely, but
plain SGD on mini-batches is not the optimiser README's word2vec vectors were measured with. The algorithm is
TensorFlow Addons' LazyAdam (the addon is not maintained for Keras 3).

`RowwiseAdagrad`: Adagrad with one accumulator per row of a table (FBGEMM's and TorchRec's "rowwise Adagrad"
for embedding tables), updated only on the rows a sparse gradient touches, with scatter-adds alone so that
XLA compiles it (LazyAdam's `tf.unique` has no XLA kernel of static shape). Keras' Adagrad keeps a full-size
accumulator and has no row-wise form. word2vec's recipe: on 10 % of the corpus it beat LazyAdam on WS353 and
SimLex, and its XLA step is ~3x cheaper than LazyAdam's (docs/results/language.md).
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kssl")
class LazyAdam(keras.optimizers.Adam):
    """Adam whose sparse (`tf.IndexedSlices`) gradients update only the rows they touch.

    For an embedding table, a step moves the first and second moments and the weights of the rows in the
    batch (duplicate rows summed first, as the dense gradient would), with the same bias-corrected step size
    as Adam; rows the batch does not touch keep their moments instead of decaying them. Dense gradients get
    Keras' Adam unchanged. With every row in every batch it is Adam (to float rounding: tested).

    Args:
        **kwargs: `keras.optimizers.Adam`'s (`learning_rate`, `beta_1`, `beta_2`, `epsilon`, ...);
            `amsgrad` is not supported.

    Example:
    >>> import numpy as np, keras
    >>> from kssl.training.optimizers import LazyAdam
    >>> model = keras.Sequential([keras.Input((1,), dtype="int32"), keras.layers.Embedding(1000, 8),
    ...                           keras.layers.Flatten(), keras.layers.Dense(1)])
    >>> model.compile(optimizer=LazyAdam(1e-2), loss="mse")
    >>> before = model.layers[0].get_weights()[0]
    >>> _ = model.fit(np.array([[3], [5]]), np.ones((2, 1)), epochs=1, verbose=0)
    >>> changed = (model.layers[0].get_weights()[0] != before).any(axis=1)
    >>> np.flatnonzero(changed).tolist()   # only the two rows in the batch moved
    [3, 5]
    """

    def __init__(self, learning_rate=0.001, **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError("LazyAdam: `amsgrad` must be False (the lazy update keeps no v_hat); got True.")
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        # one row per index: the dense gradient's row is the sum of the slices that share it
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position, tf.shape(rows)[0])
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        # Keras' Adam arithmetic, in its order, on the gathered rows
        m_rows = tf.gather(m.value, rows)
        m_rows = m_rows + (values - m_rows) * (1 - beta_1)
        v_rows = tf.gather(v.value, rows)
        v_rows = v_rows + (tf.square(values) - v_rows) * (1 - beta_2)
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        self.assign_sub(variable, tf.IndexedSlices(m_rows * alpha / (tf.sqrt(v_rows) + self.epsilon), rows,
                                                   gradient.dense_shape))


@keras.saving.register_keras_serializable(package="kssl")
class RowwiseAdagrad(keras.optimizers.Optimizer):
    """Adagrad with one accumulator per row: `a_i += mean_j g_ij^2`, `w_i -= lr * g_i / (sqrt(a_i) + epsilon)`.

    For a variable of rank >= 2 the accumulator holds one number per row (first axis); for a vector, one per
    entry (plain Adagrad). A sparse (`tf.IndexedSlices`) gradient updates only the rows it names, with
    scatter-adds: a row named twice in one batch adds both slices' squares to its accumulator, then both
    slices, each divided by the accumulated root (the per-slice order of TensorFlow's sparse Adagrad kernel,
    done as one scatter), so the update has static shapes and compiles with XLA (`jit_compile=True`).

    Args:
        learning_rate: float or a `keras.optimizers.schedules.LearningRateSchedule`.
        initial_accumulator_value: starting value of every accumulator (>= 0).
        epsilon: added to the root of the accumulator.
        **kwargs: `keras.optimizers.Optimizer`'s (`clipnorm`, `weight_decay`, ...).

    Example:
    >>> import numpy as np, keras
    >>> from kssl.training.optimizers import RowwiseAdagrad
    >>> model = keras.Sequential([keras.Input((1,), dtype="int32"), keras.layers.Embedding(1000, 8),
    ...                           keras.layers.Flatten(), keras.layers.Dense(1)])
    >>> model.compile(optimizer=RowwiseAdagrad(0.1), loss="mse")
    >>> before = model.layers[0].get_weights()[0]
    >>> _ = model.fit(np.array([[3], [5]]), np.ones((2, 1)), epochs=1, verbose=0)
    >>> np.flatnonzero((model.layers[0].get_weights()[0] != before).any(axis=1)).tolist()
    [3, 5]
    >>> [tuple(v.shape) for v in model.optimizer.variables[-3:]]   # one number per row of each weight
    [(1000,), (8,), (1,)]
    """

    def __init__(self, learning_rate=0.1, initial_accumulator_value=0.0, epsilon=1e-10, name="rowwise_adagrad",
                 **kwargs):
        if not isinstance(initial_accumulator_value, (int, float)) or initial_accumulator_value < 0:
            raise ValueError("`initial_accumulator_value` must be a number >= 0; "
                             f"got {initial_accumulator_value!r}.")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"`epsilon` must be a number > 0; got {epsilon!r}.")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = [
            self.add_variable(shape=tuple(v.shape[:1]) if len(v.shape) >= 2 else tuple(v.shape),
                              initializer=keras.initializers.Constant(self.initial_accumulator_value),
                              dtype=v.dtype, name=f"{v.name}_accumulator")
            for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        learning_rate = tf.cast(learning_rate, dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        rank = len(variable.shape)
        sparse = isinstance(gradient, tf.IndexedSlices)
        values = tf.cast(gradient.values if sparse else gradient, dtype)
        trailing = list(range(1, rank))
        squares = tf.reduce_mean(tf.square(values), axis=trailing) if rank >= 2 else tf.square(values)
        if sparse:
            self.assign_add(accumulator, tf.IndexedSlices(squares, gradient.indices))
            root = tf.gather(accumulator.value, gradient.indices)
        else:
            self.assign_add(accumulator, squares)
            root = accumulator.value
        root = tf.reshape(tf.sqrt(root), tf.concat([tf.shape(root), tf.ones([max(rank - 1, 0)], tf.int32)], 0))
        step = values * learning_rate / (root + self.epsilon)
        if sparse:
            self.assign_sub(variable, tf.IndexedSlices(step, gradient.indices, gradient.dense_shape))
        else:
            self.assign_sub(variable, step)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
