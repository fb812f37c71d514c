"""PIRL: pretext-invariant representation learning (Misra & van der Maaten, 2020).

    memory bank  m_1..m_N, one per training image, moving averages of f(v_I)   (no gradient);
                 start: random unit vectors, or f(I) of the initial network (`initialize_memory_bank`)
    for a minibatch of images I with dataset indices i:
        image       f(v_I)  = normalize(W_f enc(I))                      (enc: the encoder; transfers)
        jigsaw      I^t     = 3x3 tiles of I in a random order (kssl.pretext, as in kssl.methods.Jigsaw)
                    g(v_It) = normalize(W_g [W_t enc(tile_1), ..., W_t enc(tile_9)])
        loss        lambda NCE(m_i, g(v_It)) + (1 - lambda) NCE(m_i, f(v_I)),
                    negatives: `num_negatives` memory-bank entries drawn at random
        update      m_i <- normalize(mu m_i + (1 - mu) f(v_I))
"""

import numpy as np
import keras
from keras import ops

from kssl import losses
from kssl.checks import check_positive, check_positive_int, check_probability
from kssl.core import ImageModel
from kssl.layers.memory import MemoryBank
from kssl.ops import pretext
from kssl.training import distribute
from kssl.training.tuning import without_autotune


def indexed_batches(images, batch_size=256, shuffle=True, seed=None, memory_bank_size=None, drop_remainder=True):
    """A `tf.data.Dataset` of `(float images in [0, 1], int32 dataset index)` batches: how PIRL's
    train step learns which memory-bank entry each image owns (Keras passes the second element as
    `y`, which PIRL's `ssl_loss` and `after_step` read as the index).

    Args:
        images: a `kssl.datasets.Split`, or an array `(N, height, width, channels)` (uint8 is divided
            by 255).
        memory_bank_size: if given, refuse a dataset with more images than the memory bank.

    Example:
    >>> import numpy as np
    >>> from kssl.methods.pirl import indexed_batches
    >>> x, i = next(iter(indexed_batches(np.zeros((10, 4, 4, 1), "uint8"), batch_size=4, shuffle=False)))
    >>> tuple(x.shape), i.numpy().tolist()
    ((4, 4, 4, 1), [0, 1, 2, 3])
    """
    import tensorflow as tf

    images = getattr(images, "images", images)
    count = len(images)
    if memory_bank_size is not None and count > memory_bank_size:
        raise ValueError(f"`memory_bank_size` ({memory_bank_size}) must be at least the number of training images "
                         f"({count}): every image owns one entry.")
    scale = 1 / 255.0 if np.asarray(images[:1]).dtype == np.uint8 else 1.0
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(count, dtype="int32")))
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return without_autotune(ds.map(lambda x, i: (tf.cast(x, tf.float32) * scale, i),
                                   num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


@keras.saving.register_keras_serializable(package="kssl")
class PIRL(ImageModel):
    """PIRL: the representation of an image should not change when its jigsaw tiles are shuffled.

    Data: batches of `(images, indices)`, index = the image's row in the training set, in
    `[0, memory_bank_size)` (`kssl.methods.pirl.indexed_batches`, or `model.fit(x, np.arange(len(x)))`):
    the index arrives as Keras' `y`. The memory bank (`model.memory_bank`, a
    `kssl.layers.memory.MemoryBank` of `memory_bank_size` x `projection_dim` non-trainable weights, so
    checkpoints carry it) holds one moving average of f(v_I) per image; after each optimizer step
    (`after_step`) the step's entries are updated with the formula above. Under a distribution
    strategy the whole global batch is written on every replica.

    The jigsaw branch cuts a 3x3 grid of `tile_size` tiles (`kssl.pretext.extract_tiles`, with `gap`
    and `jitter`), shuffles them with a random permutation of a maximal-Hamming set
    (`kssl.pretext.maximal_hamming_permutations`, like `kssl.methods.Jigsaw`), encodes each tile with
    the same encoder at the tile size (`kssl.pretext.encode_at_any_size`: the encoder must be fully
    convolutional with global pooling, or built with `(None, None, channels)` inputs), projects each tile's features and then their concatenation.

    NCE: kssl uses the softmax form (`kssl.losses.info_nce`: one positive, the image's memory entry,
    against `num_negatives` random memory entries), not the paper's binary NCE with noise
    probability N / |D|; both estimate the same ranking. A random negative can be the image's own
    entry (probability `num_negatives / memory_bank_size`).

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        memory_bank_size: N >= 2, the number of training images (every index must be below it).
        projection_dim: size of f, g and the memory entries (128).
        num_negatives: memory entries drawn per step as negatives (the paper: 32000), <= N.
        temperature: t > 0 of the NCE (0.07).
        jigsaw_weight: lambda in [0, 1], weight of the jigsaw term (0.5).
        memory_momentum: mu in [0, 1) of the memory-bank update (0.5).
        tile_size, gap, jitter: the 3x3 tile grid (`kssl.pretext.check_grid`); the images must hold it.
        num_permutations: size of the tile-order set.
        augment: one Keras layer applied separately to the image and (before tiling) to its jigsaw
            copy, or a list of two layers; None: no augmentation.
        seed: seed of the memory bank's initial values, the tiles and the negatives.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.PIRL(encoder, memory_bank_size=32, projection_dim=8, num_negatives=16,
    ...                           tile_size=8, gap=1, jitter=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.random.rand(32, 28, 28, 1).astype("float32")
    >>> history = model.fit(x, np.arange(32), batch_size=16, epochs=1, verbose=0)
    >>> tuple(model.memory_bank.bank.shape)
    (32, 8)
    """

    grid = 3

    def __init__(self, encoder, memory_bank_size, projection_dim=128, num_negatives=4096, temperature=0.07,
                 jigsaw_weight=0.5, memory_momentum=0.5, tile_size=9, gap=0, jitter=0, num_permutations=100,
                 augment=None, seed=0, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.memory_bank_size = check_positive_int("memory_bank_size", memory_bank_size, 2)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.num_negatives = check_positive_int("num_negatives", num_negatives)
        if self.num_negatives > self.memory_bank_size:
            raise ValueError(f"`num_negatives` must be at most `memory_bank_size` ({memory_bank_size}); got "
                             f"{num_negatives!r}.")
        self.temperature = check_positive("temperature", temperature)
        self.jigsaw_weight = check_probability("jigsaw_weight", jigsaw_weight)
        self.memory_momentum = check_probability("memory_momentum", memory_momentum)
        if self.memory_momentum == 1.0:
            raise ValueError("`memory_momentum` must be in [0, 1): with 1 the memory bank never learns; got 1.0.")
        pretext.check_grid((10**9, 10**9), self.grid, tile_size, gap, jitter)
        pretext.check_tile_encoder(encoder, tile_size, type(self).__name__)
        self.tile_size, self.gap, self.jitter = int(tile_size), int(gap), int(jitter)
        self.num_permutations = check_positive_int("num_permutations", num_permutations)
        self.permutations = pretext.maximal_hamming_permutations(num_permutations, self.grid**2)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

        self.image_head = keras.layers.Dense(projection_dim, name="image_head")  # f: linear, as in the paper
        self.tile_head = keras.layers.Dense(projection_dim, name="tile_head")  # per tile, shared
        self.jigsaw_head = keras.layers.Dense(projection_dim, name="jigsaw_head")  # on the 9 concatenated
        self.image_head.build((None, self.feature_dim))
        self.tile_head.build((None, self.feature_dim))
        self.jigsaw_head.build((None, self.grid**2 * projection_dim))
        self.memory_bank = MemoryBank(memory_bank_size, projection_dim, momentum=memory_momentum, seed=seed,
                                      name="memory_bank")
        self.built = True

    def jigsaw(self, view):
        """The 9 tiles of each image of `view`, in a random order: `(batch, 9, tile, tile, channels)`."""
        tiles, _ = pretext.extract_tiles(view, self.grid, self.tile_size, self.gap, self.jitter,
                                         self.seed_generator, training=True)
        order = keras.random.randint((ops.shape(view)[0],), 0, self.num_permutations, seed=self.seed_generator)
        return pretext.shuffle_tiles(tiles, self.permutations, order)

    def forward(self, x, training=False):
        image, transformed = self.views(x, 2)
        f = self.image_head(self.encoder(image, training=training))
        tiles = self.jigsaw(transformed)
        t, channels = self.tile_size, tiles.shape[-1]
        tile_features = pretext.encode_at_any_size(self.encoder, ops.reshape(tiles, (-1, t, t, channels)), training=training)
        projected = ops.reshape(self.tile_head(tile_features), (-1, self.grid**2 * self.projection_dim))
        g = self.jigsaw_head(projected)
        return {"f": ops.normalize(f, axis=-1), "g": ops.normalize(g, axis=-1)}

    def initialize_memory_bank(self, images, batch_size=1024):
        """Sets memory entry i to f(image i) of the current (initial) network, unaugmented.

        With random entries, the first epoch learns against random targets: each image's entry is
        written only when the image comes round, once per epoch, so at a budget of a few epochs much of
        the training pulls features towards noise (README measured PIRL below its random init that way).
        Started from the initial network's features, the entries already tell images apart from the
        first step. Call it before `fit` (a resumed run then restores its saved bank over it).

        Args:
            images: every training image, in dataset-index order: a `kssl.datasets.Split` or an array
                `(memory_bank_size, height, width, channels)` (uint8 is divided by 255).
            batch_size: images encoded at a time.
        """
        from kssl.data.images import to_unit_float

        images = getattr(images, "images", images)
        if len(images) != self.memory_bank_size:  # before encoding them all
            raise ValueError(f"`images` must hold one image per memory entry ({self.memory_bank_size}); got "
                             f"{len(images)}.")
        features = self.encoder.predict(to_unit_float(np.asarray(images)), batch_size=batch_size, verbose=0)
        self.memory_bank.fill(self.image_head(features))

    def negatives(self):
        """`num_negatives` memory-bank entries drawn uniformly at random."""
        return self.memory_bank.sample(self.num_negatives, self.seed_generator)

    def dataset_index(self, y):
        """`y`, the batch's dataset indices, as `(batch,)` int32; refuses a batch without them."""
        if y is None or "int" not in keras.backend.standardize_dtype(ops.convert_to_tensor(y).dtype):
            raise ValueError(
                "PIRL needs each image's dataset index: the data must yield (images, indices) batches with "
                "integer indices in [0, memory_bank_size), e.g. kssl.methods.pirl.indexed_batches(split, "
                "batch_size) or model.fit(x, np.arange(len(x)))."
            )
        return ops.reshape(ops.cast(y, "int32"), (-1,))

    def ssl_loss(self, outputs, y=None):
        """lambda NCE(m_i, g(v_It)) + (1 - lambda) NCE(m_i, f(v_I)) for images with dataset indices `y`."""
        positives = self.memory_bank.lookup(self.dataset_index(y))
        negatives = self.negatives()
        jigsaw = losses.info_nce(outputs["g"], positives, negatives, self.temperature)
        image = losses.info_nce(outputs["f"], positives, negatives, self.temperature)
        return self.jigsaw_weight * jigsaw + (1.0 - self.jigsaw_weight) * image

    def after_step(self, x, y, outputs):
        # m_i <- normalize(mu m_i + (1 - mu) f_i) for every image of the global batch.
        self.memory_bank.update(distribute.all_gather(self.dataset_index(y)),
                                distribute.all_gather(ops.stop_gradient(outputs["f"])))

    def load_own_variables(self, store):
        if len(store.keys()) == 1:  # written before kssl.layers.memory: PIRL's own memory_bank
            self.memory_bank.load_legacy_state(store["0"])
            return
        super().load_own_variables(store)

    def get_config(self):
        return {
            **super().get_config(),
            "memory_bank_size": self.memory_bank_size,
            "projection_dim": self.projection_dim,
            "num_negatives": self.num_negatives,
            "temperature": self.temperature,
            "jigsaw_weight": self.jigsaw_weight,
            "memory_momentum": self.memory_momentum,
            "tile_size": self.tile_size,
            "gap": self.gap,
            "jitter": self.jitter,
            "num_permutations": self.num_permutations,
            "seed": self.seed,
        }
