"""word2vec with negative sampling (Mikolov, Sutskever, Chen, Corrado & Dean, 2013).

    input pipeline (kssl.data.language.Word2VecData): subsample frequent words, dynamic window b <= window
        skip-gram:  (centre c, context o) pairs        CBOW: (context words C, centre o)
    encode      v = W_in[c]  (skip-gram)  or  mean_{w in C} W_in[w]  (CBOW)   (W_in: what transfers)
    negatives   k words n_1..n_k ~ unigram^0.75, drawn in the step from a table (as the C tool does)
    loss        -log s(W_out[o] . v) - sum_j log s(-W_out[n_j] . v)
    update      update="minibatch": the loss's gradient through the compiled optimiser (any strategy, XLA)
                update="hogwild": word2vec's own SGD, one example after another, Hogwild over the CPU's threads
                (kssl.ops.kernels.word2vec_sgd), at the compiled keras.optimizers.SGD's learning rate
"""

import keras
import numpy as np
from keras import ops

from kssl.checks import check_choice, check_positive_int
from kssl.core import TextModel
from kssl.data.language import negative_distribution
from kssl.ops import kernels
from kssl.training import distribute


def _table(counts, exponent, table_size):
    """word2vec's unigram table: word i fills round(table_size * P(i)) slots, P = unigram^exponent.
    A uniform index into it is a draw from P (to 1/table_size), with no per-step categorical."""
    probabilities = negative_distribution(counts, exponent)
    cumulative = np.cumsum(probabilities)
    slots = (np.arange(table_size) + 0.5) / table_size
    return np.searchsorted(cumulative, slots).clip(0, len(counts) - 1).astype("int32")


@keras.saving.register_keras_serializable(package="kssl")
class Word2Vec(TextModel):
    """Skip-gram or CBOW with negative sampling; `model.encoder` is the input embedding.

    Batches are `(x, y)` from `kssl.data.language.Word2VecData`: `x = {"inputs": (batch, C)}` (the centre
    word, or the CBOW context padded with id 0), `y` the word ids to predict `(batch,)`.

    Args:
        counts: corpus count of each vocabulary word (`kssl.data.language.WordVocabulary(...).counts`; id 0
            is padding with count 0).
        embedding_dim: vector size.
        mode: "skipgram" or "cbow" (must match the data's).
        negatives: negative samples per example.
        ns_exponent: the unigram exponent of the negative distribution (0.75).
        table_size: size of the negative-sampling table.
        seed: seed of the negative draws and of the input vectors' initialisation.
        encoder: the input embedding, a `keras.Model` from word ids `(batch, C)` to `(batch, C,
            embedding_dim)` whose last layer is an `Embedding` of the vocabulary; default: built here with
            word2vec's initialisation (what `get_config` saves and `from_config` reloads).
        update: how a train step changes the vectors.
            "minibatch": the mean loss's gradient, applied by the compiled optimiser (RowwiseAdagrad, LazyAdam,
            ...): every distribution strategy, XLA.
            "hogwild": word2vec's own update (word2vec.c, gensim): plain SGD one example after another, the
            batch split over the CPU's threads sharing the tables without locks, in kssl's C++ kernel
            (`kssl.ops.kernels.word2vec_sgd`, built on first use; needs `g++`). Compile with
            `keras.optimizers.SGD` (no momentum, no weight decay): its learning rate (a schedule: word2vec decays
            it linearly to ~0) and its `iterations` are used. CPU, one replica, not XLA. Runs vary in the last bits
            unless `threads=1`.
        threads: "hogwild" only: threads per batch (0: TensorFlow's intra-op threads).

    Example:
    >>> import keras, kssl
    >>> from kssl.data.language import WordVocabulary, Word2VecData
    >>> sentences = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "sat", "on", "a", "log"]] * 20
    >>> vocab = WordVocabulary(sentences, min_count=1)
    >>> model = kssl.methods.Word2Vec(vocab.counts, embedding_dim=8, mode="skipgram")
    >>> model.compile(optimizer=keras.optimizers.Adam(0.01))
    >>> history = model.fit(Word2VecData(sentences, vocab, window=2, batch_size=32, sample=0), epochs=1, verbose=0)
    >>> model.vectors().shape
    (9, 8)
    >>> [word for word, _ in model.nearest("cat", vocab.words, k=2)][0] in vocab.words
    True

    word2vec's own update (per-example SGD, linear decay; 2.7x faster than RowwiseAdagrad's on 2 cores, README):
    >>> model = kssl.methods.Word2Vec(vocab.counts, embedding_dim=8, mode="cbow", update="hogwild")
    >>> data = Word2VecData(sentences, vocab, mode="cbow", window=2, batch_size=32, sample=0)
    >>> model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.PolynomialDecay(0.05, len(data), 1e-4)))
    >>> history = model.fit(data, epochs=1, verbose=0)
    >>> int(model.optimizer.iterations), history.history["loss"][0] < 4.16  # 6 log 2: the loss at the start
    (7, True)
    """

    input_keys = ("inputs",)

    def __init__(self, counts, embedding_dim=100, mode="skipgram", negatives=5, ns_exponent=0.75,
                 table_size=1_000_000, seed=None, encoder=None, update="minibatch", threads=0, **kwargs):
        counts = np.asarray(counts, "int64")
        if counts.ndim != 1 or len(counts) < 2 or (counts < 0).any() or counts.sum() == 0:
            raise ValueError("`counts` must be a 1-D array of >= 2 non-negative word counts with a positive sum; "
                             f"got shape {counts.shape}.")
        embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        negatives = check_positive_int("negatives", negatives)
        if isinstance(table_size, bool) or not isinstance(table_size, int) or table_size < len(counts):
            raise ValueError(f"`table_size` must be an integer >= the vocabulary size ({len(counts)}); got {table_size!r}.")
        if encoder is None:
            encoder = input_vectors(len(counts), embedding_dim, seed)
        super().__init__(encoder, **kwargs)
        embedding = encoder.layers[-1] if encoder.layers else None
        if not isinstance(embedding, keras.layers.Embedding) or (embedding.input_dim, embedding.output_dim) != (
                len(counts), embedding_dim):
            raise ValueError(f"`encoder` must end in an Embedding of {len(counts)} words (the length of `counts`) and "
                             f"`embedding_dim` {embedding_dim}; got {type(encoder).__name__} ending in {embedding!r}.")
        self.counts, self.embedding_dim = counts, embedding_dim
        self.mode = check_choice("mode", mode, ("skipgram", "cbow"))
        self.negatives, self.ns_exponent, self.table_size, self.seed = negatives, float(ns_exponent), table_size, seed
        self.update = check_choice("update", update, ("minibatch", "hogwild"))
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"`threads` must be an integer >= 0 (0: TensorFlow's intra-op threads); got {threads!r}.")
        self.threads = threads
        self.feature_dim = embedding_dim
        self.output_vectors = keras.layers.Embedding(len(counts), embedding_dim, embeddings_initializer="zeros",
                                                     name="output_vectors")
        self.output_vectors.build((None,))
        self.table = ops.convert_to_tensor(_table(counts, self.ns_exponent, table_size))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def sample_negatives(self, shape):
        """Word ids drawn from unigram^ns_exponent (through the table)."""
        slots = keras.random.randint(shape, 0, self.table_size, dtype="int32", seed=self.seed_generator)
        return ops.take(self.table, slots)

    def forward(self, x, training=False):
        inputs = ops.cast(x["inputs"], "int32")
        vectors = self.encoder(inputs)  # (batch, C, d)
        present = ops.cast(inputs > 0, vectors.dtype)[..., None]  # CBOW context padding (id 0)
        hidden = ops.sum(vectors * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
        return {"hidden": hidden, "negatives": self.sample_negatives((ops.shape(inputs)[0], self.negatives))}

    def ssl_loss(self, outputs, y=None):
        if y is None:
            raise ValueError("Word2Vec: the target word ids must come as `y` (batches of "
                             "kssl.data.language.Word2VecData are (x, y)); got none.")
        target = ops.reshape(ops.cast(y, "int32"), (-1, 1))
        candidates = ops.concatenate([target, outputs["negatives"]], axis=1)  # (batch, 1 + k)
        scores = ops.cast(ops.einsum("bd,bkd->bk", outputs["hidden"], self.output_vectors(candidates)), "float32")
        positive = ops.log_sigmoid(scores[:, 0])
        negative = ops.sum(ops.log_sigmoid(-scores[:, 1:]), axis=1)
        return -ops.mean(positive + negative)

    def compile(self, optimizer="rmsprop", *args, jit_compile="auto", **kwargs):
        if self.update == "hogwild":
            optimizer = keras.optimizers.get(optimizer)
            if type(optimizer) is not keras.optimizers.SGD or optimizer.momentum or optimizer.nesterov or (
                    optimizer.weight_decay):
                raise ValueError("Word2Vec(update='hogwild') applies word2vec's plain SGD itself: compile with "
                                 "keras.optimizers.SGD(learning_rate) (a float or schedule; no momentum, nesterov or "
                                 f"weight_decay); got {optimizer!r}.")
            if jit_compile is True:
                raise ValueError("Word2Vec(update='hogwild') runs a C++ kernel XLA cannot compile: `jit_compile` must "
                                 "be False or 'auto'; got True.")
            jit_compile = False
        super().compile(optimizer, *args, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        # Keras' own skips a subclass's `compile` on load (with a warning); this one only checks arguments
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        if self.update == "minibatch":
            return super().train_step(data)
        if distribute.num_replicas() > 1:
            raise ValueError("Word2Vec(update='hogwild') updates one copy of the tables in place: train on one "
                             "replica (no distribution strategy), or use update='minibatch'.")
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            self.ssl_loss({}, None)  # the error that says the targets are missing
        inputs = ops.cast(self.check_inputs(x)["inputs"], "int32")
        loss = kernels.word2vec_sgd(self.encoder.layers[-1].embeddings, self.output_vectors.embeddings, inputs,
                                    ops.reshape(ops.cast(y, "int32"), (-1,)),
                                    self.sample_negatives((ops.shape(inputs)[0], self.negatives)),
                                    self.optimizer.learning_rate, num_threads=self.threads)
        self.optimizer.iterations.assign_add(1)
        self._loss_tracker.update_state(loss, sample_weight=ops.shape(inputs)[0])  # Keras' own "loss" metric
        return self.get_metrics_result()

    def vectors(self, normalize=False):
        """The input vectors as a numpy array (vocabulary, embedding_dim); row i is word id i."""
        vectors = keras.ops.convert_to_numpy(self.encoder.layers[-1].embeddings)
        return keras.utils.normalize(np.asarray(vectors, "float32")) if normalize else vectors

    def nearest(self, word, words, k=10):
        """The `k` words of `words` (the vocabulary list, id order) most cosine-similar to `word`."""
        return nearest_neighbours(self.vectors(), words, word, k)

    def get_config(self):
        return {**super().get_config(), "counts": self.counts.tolist(), "embedding_dim": self.embedding_dim,
                "mode": self.mode, "negatives": self.negatives, "ns_exponent": self.ns_exponent,
                "table_size": self.table_size, "seed": self.seed, "update": self.update, "threads": self.threads}


def input_vectors(vocabulary_size, embedding_dim, seed=None):
    """word2vec's input embedding, with its initialisation: U(-0.5/d, 0.5/d) (the output vectors start at 0)."""
    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vocabulary_size, embedding_dim, name="input_vectors",
                               embeddings_initializer=keras.initializers.RandomUniform(
                                   -0.5 / embedding_dim, 0.5 / embedding_dim, seed=seed)),
    ], name="word_vectors")


def nearest_neighbours(vectors, words, word, k=10):
    """`[(neighbour, cosine)]`: the `k` nearest words to `word` by cosine similarity, `word` excluded."""
    index = {w: i for i, w in enumerate(words)}
    if word not in index:
        raise KeyError(f"`word` {word!r} is not in the vocabulary.")
    check_positive_int("k", k)
    unit = keras.utils.normalize(np.asarray(vectors, "float32"))
    similarity = unit @ unit[index[word]]
    similarity[index[word]] = -np.inf
    order = np.argsort(-similarity)[:k]
    return [(words[i], float(similarity[i])) for i in order]
