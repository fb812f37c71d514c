"""State that outlives a batch: one FIFO queue (MoCo's keys, SwAV's past embeddings, NNCLR's support set)
and one memory bank (PIRL's, Wu et al.'s instance discrimination), each a Keras layer.

Both hold non-trainable `keras.Variable`s, so `.keras` files, `model.weights.h5` presets and
`BackupAndRestore` checkpoints carry them with the model. Under a distribution strategy every replica
writes the same global batch (the caller gathers it, `kssl.training.distribute.all_gather`), so every
replica holds the same state and the variables keep the first replica's copy
(`aggregation="only_first_replica"`). Write to them from a method's `after_step`, never from loss code.
"""

import keras
from keras import ops

from kssl.checks import check_positive_int, check_probability
from kssl.training import distribute


def _item_shape(item_shape):
    shape = (item_shape,) if isinstance(item_shape, int) else tuple(item_shape)
    return tuple(check_positive_int("item_shape", d) for d in shape)


class _State(keras.layers.Layer):
    """Loads checkpoints written before this module existed, when a method held these variables as its
    own (MoCo's queue and pointer, SwAV's queue, PIRL's memory bank): the method's `load_own_variables`
    (Keras loads a parent's own variables before its layers') hands them over with `load_legacy_state`,
    and this layer then accepts the checkpoint's lack of an entry of its own."""

    def load_legacy_state(self, *values):
        """Assigns `values` to this layer's variables, in order; the variables left over keep theirs."""
        for variable, value in zip(self.variables, values):
            variable.assign(value)
        self._legacy_state_loaded = True

    def load_own_variables(self, store):
        if getattr(self, "_legacy_state_loaded", False) and not len(store.keys()):
            self._legacy_state_loaded = False
            return
        super().load_own_variables(store)


@keras.saving.register_keras_serializable(package="kssl")
class Queue(_State):
    """A FIFO queue of the last `size` items: each `enqueue` overwrites the oldest rows.

    Variables: `values` `(size, *item_shape)`, `pointer` (the next row to write) and `filled` (how many
    rows were ever written, at most `size`: a queue that started empty is `full` once it equals `size`).

    Args:
        size: number of items held (`queue_size` in the methods); a multiple of the global batch, so
            that whole batches are dequeued.
        item_shape: shape of one item, e.g. `projection_dim` or `(2, projection_dim)`.
        initializer: initial values (MoCo: random unit vectors; SwAV: zeros, unused until full).
        normalize: L2-normalise the initial rows along the last axis.

    Example:
    >>> import numpy as np, kssl
    >>> queue = kssl.layers.memory.Queue(size=4, item_shape=2)
    >>> queue.enqueue(np.ones((2, 2), "float32"))
    >>> queue.enqueue(np.full((2, 2), 2.0, "float32"))
    >>> queue.enqueue(np.full((2, 2), 3.0, "float32"))   # overwrites the oldest two rows
    >>> queue.values.numpy()[:, 0].tolist(), int(queue.pointer.numpy()), bool(queue.full)
    ([3.0, 3.0, 2.0, 2.0], 2, True)
    """

    def __init__(self, size, item_shape, initializer="zeros", normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.size = check_positive_int("queue_size", size)
        self.item_shape = _item_shape(item_shape)
        self.initializer, self.normalize = initializer, bool(normalize)
        self.values = self.add_weight(shape=(self.size, *self.item_shape), name="values", trainable=False,
                                      initializer=initializer, aggregation="only_first_replica")
        if self.normalize:
            self.values.assign(ops.normalize(self.values, axis=-1))
        self.pointer = self.add_weight(shape=(), dtype="int32", name="pointer", trainable=False,
                                       initializer="zeros", aggregation="only_first_replica")
        self.filled = self.add_weight(shape=(), dtype="int32", name="filled", trainable=False,
                                      initializer="zeros", aggregation="only_first_replica")
        self.built = True

    @property
    def full(self):
        """True (a boolean tensor) once `size` items have been enqueued."""
        return self.filled >= self.size

    def enqueue(self, items):
        """Writes `items` `(G, *item_shape)`, the GLOBAL batch's (gathered across replicas), over the
        oldest rows."""
        items = ops.convert_to_tensor(items)
        global_batch = items.shape[0]
        if global_batch is not None and self.size % global_batch:
            raise ValueError(
                f"`queue_size` ({self.size}) must be a multiple of the global batch size ({global_batch} = batch "
                f"per replica x {distribute.num_replicas()} replicas), so the queue dequeues whole batches."
            )
        count = ops.shape(items)[0]
        slots = ops.mod(self.pointer + ops.arange(count, dtype="int32"), self.size)
        self.values.assign(ops.scatter_update(self.values, slots[:, None], ops.cast(items, self.values.dtype)))
        self.pointer.assign(ops.mod(self.pointer + count, self.size))
        self.filled.assign(ops.minimum(self.filled + count, self.size))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "item_shape": self.item_shape,
                "initializer": keras.initializers.serialize(keras.initializers.get(self.initializer)),
                "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="kssl")
class MemoryBank(_State):
    """One unit vector per training example, a moving average of its features (Wu et al., 2018; PIRL):

        m_i <- normalize(mu m_i + (1 - mu) f_i)      for each example i of the (global) batch

    Variable: `bank` `(size, dim)`, initialised with random unit vectors (`seed`).

    Args:
        size: number of examples; every dataset index must lie in [0, size).
        dim: size of each entry.
        momentum: mu in [0, 1) (PIRL: 0.5).
        seed: seed of the initial entries.

    Example:
    >>> import numpy as np, kssl
    >>> bank = kssl.layers.memory.MemoryBank(size=3, dim=2, momentum=0.5)
    >>> _ = bank.bank.assign(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], "float32"))
    >>> bank.update(np.array([2]), np.array([[0.0, 1.0]], "float32"))
    >>> [[round(float(v), 4) for v in row] for row in bank.bank.numpy()]
    [[1.0, 0.0], [1.0, 0.0], [0.7071, 0.7071]]
    """

    def __init__(self, size, dim, momentum=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_positive_int("memory_bank_size", size, 2)
        self.dim = check_positive_int("projection_dim", dim)
        self.momentum = check_probability("memory_momentum", momentum)
        if self.momentum == 1.0:
            raise ValueError("`memory_momentum` must be in [0, 1): with 1 the memory bank never learns; got 1.0.")
        self.seed = seed
        self.bank = self.add_weight(shape=(self.size, self.dim), name="bank", trainable=False,
                                    initializer=keras.initializers.RandomNormal(seed=seed),
                                    aggregation="only_first_replica")
        self.bank.assign(ops.normalize(self.bank, axis=-1))
        self.built = True

    def lookup(self, index):
        """The entries of the examples `index` `(n,)`, without gradient."""
        return ops.stop_gradient(ops.take(self.bank, ops.cast(index, "int32"), axis=0))

    def sample(self, count, seed):
        """`count` entries drawn uniformly at random (with replacement), without gradient."""
        index = keras.random.randint((count,), 0, self.size, seed=seed)
        return self.lookup(index)

    def fill(self, features):
        """Sets every entry to `features` `(size, dim)`, L2-normalised: a bank that starts from real
        features (e.g. PIRL's `initialize_memory_bank`) instead of random vectors.

        Example:
        >>> import numpy as np, kssl
        >>> bank = kssl.layers.memory.MemoryBank(size=2, dim=2)
        >>> bank.fill(np.array([[3.0, 4.0], [0.0, 2.0]], "float32"))
        >>> [[round(float(v), 4) for v in row] for row in bank.bank.numpy()]
        [[0.6, 0.8], [0.0, 1.0]]
        """
        features = ops.convert_to_tensor(features)
        if tuple(features.shape) != (self.size, self.dim):
            raise ValueError(f"`features` must have shape (memory_bank_size, projection_dim) = ({self.size}, {self.dim}); "
                             f"got {tuple(features.shape)}.")
        self.bank.assign(ops.normalize(ops.cast(features, self.bank.dtype), axis=-1))

    def update(self, index, features):
        """The momentum update above for each (index, features) pair, `(G,)` and `(G, dim)`: the GLOBAL
        batch's (gathered across replicas)."""
        index = ops.cast(ops.reshape(ops.convert_to_tensor(index), (-1,)), "int32")
        old = ops.take(self.bank, index, axis=0)
        mixed = self.momentum * old + (1.0 - self.momentum) * ops.cast(features, old.dtype)
        self.bank.assign(ops.scatter_update(self.bank, index[:, None], ops.normalize(mixed, axis=-1)))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "dim": self.dim, "momentum": self.momentum,
                "seed": self.seed}
