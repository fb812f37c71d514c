"""Optimisers Keras does not have.

`LazyAdam`: Adam that updates only the rows a sparse gradient touches. Written here because Keras 3's Adam
densifies an `IndexedSlices` gradient (`gradient - m` over the whole table), so every step of word2vec
rewrote both full embedding tables and their two moment tables; Keras' SGD and Adagrad update sparsely, but
plain SGD on mini-batches is not the optimiser README's word2vec vectors were measured with. The algorithm is
TensorFlow Addons' LazyAdam (the addon is not maintained for Keras 3).
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
