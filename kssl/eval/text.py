"""Text protocols for language encoders: sentence classification from a frozen encoder (linear probe on
mean-pooled token vectors) or after fine-tuning the whole encoder, and word-vector benchmarks.

    from kssl.eval import text
    pre = text.preprocessor_from_preset("out/mlm")               # the preset's own vocabulary
    text.sentence_probe(encoder, pre, train, test)               # {"accuracy": ...}

Labelled sentences: Rotten Tomatoes (`kssl.datasets.rotten_tomatoes`, `make data-text`) for the
offline English corpus, or the topic of each sentence of the registry's toy corpus ("synthetic_text").
"""

import json

import numpy as np

from kssl.backbones.text import mean_pooled


def sentence_features(encoder, pre, texts, batch_size=256):
    """`(len(texts), d)` mean-pooled features of a BERT-style `encoder` for `texts` through `pre`
    (a `kssl.language.MLMPreprocessor`)."""
    import tensorflow as tf

    pooled = mean_pooled(encoder)
    return np.concatenate([pooled.predict(pre.features(tf.constant(texts[i: i + batch_size])), verbose=0)
                           for i in range(0, len(texts), batch_size)])


def sentence_probe(encoder, pre, train, test):
    """A logistic-regression probe of the frozen encoder's mean-pooled features; `train` / `test` have
    `texts` and `labels` (e.g. `kssl.datasets.rotten_tomatoes()`). Returns {"accuracy", ...}."""
    from kssl.eval.linear import linear_probe_features

    return linear_probe_features(sentence_features(encoder, pre, train.texts), train.labels,
                                 sentence_features(encoder, pre, test.texts), test.labels)


def finetune(encoder, pre, train, test, epochs, learning_rate=3e-4, warmup=0.1, batch_size=32, weight_decay=0.01,
             dropout=0.1, seed=0, verbose=2):
    """The whole encoder + a logistic output on the mean-pooled tokens, trained on `train`'s labels (0/1):
    AdamW, `warmup` fraction of linear warmup to `learning_rate` then cosine to 0, dropout, seeded (the
    same recipe and data order for every encoder compared). Returns (test accuracy, last-epoch train
    accuracy)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    classifier = keras.Sequential([mean_pooled(encoder), keras.layers.Dropout(dropout), keras.layers.Dense(1)])
    steps = epochs * (len(train.texts) // batch_size + (len(train.texts) % batch_size > 0))
    warmup_steps = int(warmup * steps)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=steps - warmup_steps, warmup_steps=warmup_steps,
                                                      warmup_target=learning_rate)
    classifier.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
                       metrics=[keras.metrics.BinaryAccuracy(threshold=0)],
                       loss=keras.losses.BinaryCrossentropy(from_logits=True))

    def data(split, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((split.texts, split.labels))
        if shuffle:
            ds = ds.shuffle(len(split.texts), seed=seed)
        return ds.batch(batch_size).map(lambda t, y: (pre.features(t), y))

    history = classifier.fit(data(train, True), epochs=epochs, verbose=verbose)
    test_accuracy = float(classifier.evaluate(data(test, False), verbose=0, return_dict=True)["binary_accuracy"])
    return test_accuracy, float(history.history["binary_accuracy"][-1])


def word_embeddings(pre, vectors, words, copy=True, seed=0):
    """A `(pre.vocabulary_size, d)` embedding for the ids of `pre` (a `kssl.data.language.WordIds`), Kim's
    (2014) way: each word of `pre` found in `words` (the row order of `vectors`, e.g. a word2vec preset's
    `words_from_preset` and `word_vectors`) gets its vector; every other row (the unknown word, words
    without a vector) is drawn from U[-a, a], a chosen so that the draws have the vectors' variance; the
    padding row is 0. With `copy=False` no vector is copied: the same draws for every row (the random-init
    control, at the pretrained vectors' scale).

    Example:
    >>> from kssl.data.language import WordIds
    >>> pre = WordIds(["<pad>", "good", "bad"])
    >>> table = word_embeddings(pre, np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]), ["<pad>", "good", "bad"])
    >>> table[0].tolist(), table[2].tolist(), table[3].tolist()
    ([0.0, 0.0], [1.0, 2.0], [3.0, 4.0])
    """
    vectors = np.asarray(vectors, "float32")
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(f"`vectors` must be a 2-D array with one row per word of `words` ({len(words)}); "
                         f"got shape {vectors.shape}.")
    scale = np.sqrt(3.0) * float(vectors[1:].std() if len(vectors) > 1 else vectors.std())
    shape = (pre.vocabulary_size, vectors.shape[1])
    table = np.random.default_rng(seed).uniform(-scale, scale, shape).astype("float32")
    if copy:
        index = {w: i for i, w in enumerate(words)}
        for row, word in enumerate(pre.vocabulary, start=2):
            if word in index:
                table[row] = vectors[index[word]]
    table[pre.PAD] = 0.0
    return table


def word_cnn_encoder(pre, vectors, words, copy=True, seed=0):
    """Kim's CNN (`kssl.backbones.word_cnn`, the paper's widths and filters) on the ids of `pre` (a
    `kssl.data.language.WordIds`), its embedding `word_embeddings(pre, vectors, words, copy, seed)`: the
    word2vec vectors copied in, or (`copy=False`) the same random draws at their scale.

    Example:
    >>> from kssl.data.language import WordIds
    >>> pre = WordIds(["good", "bad"], sequence_length=6)
    >>> word_cnn_encoder(pre, np.ones((2, 4)), ["good", "bad"])(pre(["a good film"])).shape
    TensorShape([1, 300])
    """
    from kssl.backbones.text import word_cnn

    vectors = np.asarray(vectors, "float32")
    return word_cnn(pre.vocabulary_size, vectors.shape[1], sequence_length=pre.sequence_length,
                    embeddings=word_embeddings(pre, vectors, words, copy=copy, seed=seed))


def finetune_pooled(encoder, pre, train, test, epochs, learning_rate=1e-3, batch_size=50, dropout=0.5, max_norm=3.0,
                    seed=0, validation=None, verbose=2):
    """Kim's (2014) classifier on a pooled-feature `encoder` (e.g. `kssl.backbones.word_cnn`), all of it
    trained on `train`'s labels (0/1): dropout, then one logit whose weight vector is kept within L2 norm
    `max_norm` (`keras.constraints.MaxNorm`; None: no constraint); Adam at a constant `learning_rate`
    (Kim: Adadelta), `batch_size` (Kim: 50), `epochs`, seeded data order and initialisation. `pre` maps a
    list of texts to the encoder's input array (e.g. `kssl.data.language.WordIds`). With `validation` (a
    `LabelledText`) its accuracy is measured after every epoch, for choosing `epochs` without the test set.
    Returns {"accuracy" (on `test`), "train_accuracy" (last epoch), "validation_accuracy" (per epoch, with
    `validation`)}."""
    import keras
    import tensorflow as tf

    from kssl.checks import check_positive, check_positive_int, check_probability

    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive("learning_rate", learning_rate)
    check_probability("dropout", dropout, high_open=True)
    if max_norm is not None:
        check_positive("max_norm", max_norm)
    keras.utils.set_random_seed(seed)
    constraint = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm is not None else None
    head = keras.layers.Dense(1, kernel_constraint=constraint)
    classifier = keras.Sequential([encoder, keras.layers.Dropout(dropout), head])
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=[keras.metrics.BinaryAccuracy(threshold=0)],
                       loss=keras.losses.BinaryCrossentropy(from_logits=True))

    def data(split, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((pre(split.texts), np.asarray(split.labels, "float32")))
        if shuffle:
            ds = ds.shuffle(len(split.texts), seed=seed)
        return ds.batch(batch_size)

    history = classifier.fit(data(train, True), epochs=epochs, verbose=verbose,
                             validation_data=data(validation, False) if validation is not None else None)
    result = {"accuracy": float(classifier.evaluate(data(test, False), verbose=0, return_dict=True)["binary_accuracy"]),
              "train_accuracy": float(history.history["binary_accuracy"][-1])}
    if validation is not None:
        result["validation_accuracy"] = [float(a) for a in history.history["val_binary_accuracy"]]
    return result


def label_fraction_indices(labels, fraction, seed=0):
    """Sorted indices of the labelled subset a label-fraction curve trains on: per class, round(`fraction`
    x its count) of the examples (at least one), drawn with `seed` by `kssl.data.splits.stratified_split`;
    all of them when `fraction` is 1. With one seed the subsets are nested (the 1 % subset lies inside the
    10 % one), so the points of a curve differ by the labels added, not by a new draw.

    Example:
    >>> labels = np.array([0] * 80 + [1] * 20)
    >>> index = label_fraction_indices(labels, 0.1, seed=0)
    >>> len(index), int(labels[index].sum())
    (10, 2)
    """
    from kssl.checks import check_probability
    from kssl.data.splits import stratified_split

    check_probability("fraction", fraction, low_open=True)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not len(labels):
        raise ValueError(f"`labels` must be a non-empty 1-D array of class labels; got shape {labels.shape}.")
    if fraction == 1:
        return np.arange(len(labels))
    return stratified_split(labels, test_fraction=fraction, seed=seed)[1]


def label_fraction_subset(train, fraction, seed=0):
    """`train` (a `LabelledText`) cut to the sentences of `label_fraction_indices(train.labels, fraction,
    seed)`, in `train`'s order: the same subset for every model compared.

    Example:
    >>> from kssl.data.text import LabelledText
    >>> train = LabelledText([f"s{i}" for i in range(100)], np.array([0] * 80 + [1] * 20))
    >>> small = label_fraction_subset(train, 0.1, seed=0)
    >>> len(small.texts), int(small.labels.sum())
    (10, 2)
    """
    if len(train.texts) != len(train.labels):
        raise ValueError(f"`train` has {len(train.texts)} texts but {len(train.labels)} labels.")
    return train.subset(label_fraction_indices(train.labels, fraction, seed))


def finetune_epochs(examples, epochs, min_steps=0, batch_size=32):
    """Fine-tune epochs for `examples` labelled sentences: `epochs`, or more when those would give fewer
    than `min_steps` optimizer steps of `batch_size` (so a 1 % subset is not fitted in a handful of steps).

    Example:
    >>> finetune_epochs(10246, 2, min_steps=300), finetune_epochs(102, 2, min_steps=300)
    (2, 75)
    """
    from kssl.checks import check_positive_int

    for arg, value, low in (("examples", examples, 1), ("epochs", epochs, 1), ("min_steps", min_steps, 0),
                            ("batch_size", batch_size, 1)):
        check_positive_int(arg, value, minimum=low)
    steps_per_epoch = -(-examples // batch_size)
    return max(epochs, -(-min_steps // steps_per_epoch))


def tfidf_baseline(train, test, train_features=None, test_features=None):
    """TF-IDF (1-2 grams) + logistic regression accuracy on the same split. With `train_features` /
    `test_features` (`(n, d)` arrays, e.g. pretrained sentence vectors) those are standardised, scaled by
    1/sqrt(d) so that their rows have about unit norm like the TF-IDF rows, and appended to them.

    Example:
    >>> from kssl.data.text import LabelledText
    >>> train = LabelledText(["a good film", "a bad film", "good fun", "bad acting"] * 5, np.array([1, 0, 1, 0] * 5))
    >>> tfidf_baseline(train, LabelledText(["good acting", "bad fun"], np.array([1, 0])))
    1.0
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if (train_features is None) != (test_features is None):
        raise ValueError("`train_features` and `test_features` must be given together.")
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(train.texts)
    train_x, test_x = tfidf.transform(train.texts), tfidf.transform(test.texts)
    if train_features is not None:
        for arg, features, split in (("train_features", train_features, train), ("test_features", test_features, test)):
            if np.ndim(features) != 2 or len(features) != len(split.texts):
                raise ValueError(f"`{arg}` must be a 2-D array with one row per text ({len(split.texts)}); "
                                 f"got shape {np.shape(features)}.")
        scaler = StandardScaler().fit(train_features)
        scale = 1 / np.sqrt(np.shape(train_features)[1])
        train_x = sparse.hstack([train_x, scaler.transform(train_features) * scale]).tocsr()
        test_x = sparse.hstack([test_x, scaler.transform(test_features) * scale]).tocsr()
    classifier = LogisticRegression(max_iter=2000).fit(train_x, train.labels)
    return float(classifier.score(test_x, test.labels))


def labelled_sentences(dataset, seed=0):
    """(train, test) labelled sentences for a text dataset of the registry: Rotten Tomatoes for "corpus";
    each sentence's topic for the toy "synthetic_text" corpus (documents drawn with another seed)."""
    if dataset == "synthetic_text":
        from kssl.data.text import LabelledText
        from kssl.data.synthetic import synthetic_text

        def split(documents, seed):
            docs, topics = synthetic_text(documents=documents, seed=seed)
            texts = [s for d in docs for s in d]
            return LabelledText(texts, np.repeat(topics, [len(d) for d in docs]))

        return split(40, seed + 100), split(40, seed + 200)
    import kssl

    return kssl.datasets.rotten_tomatoes()


def preprocessor_from_preset(directory):
    """The `MLMPreprocessor` a masked-LM preset was trained with (its vocabulary and sequence length)."""
    from kssl.data.language import MLMPreprocessor
    from kssl.zoo.preset import read_asset

    settings = json.loads(read_asset(directory, "preprocessor.json"))
    vocabulary = read_asset(directory, settings["vocabulary"]).split("\n")[:-1]
    return MLMPreprocessor(vocabulary, sequence_length=settings["sequence_length"])


def keras_hub_masked_lm(directory):
    """A masked-LM preset (`kssl pretrain mlm`) as keras-hub's own task: a `keras_hub.models.BertMaskedLM`
    with the preset's backbone and head weights and its `BertMaskedLMPreprocessor` (the preset's vocabulary
    and sequence length). `task.save_to_preset(path)` writes a keras-hub preset, vocabulary included, that
    `keras_hub.models.BertMaskedLM.from_preset(path)` loads without kssl (`kssl export keras-hub`)."""
    import kssl

    model = kssl.zoo.preset.load(directory, include_head=True)
    if not isinstance(model, kssl.methods.MaskedLM):
        raise ValueError(f"`directory` {directory!r} holds a {type(model).__name__} preset; only a MaskedLM "
                         "(kssl pretrain mlm) becomes a keras-hub BertMaskedLM.")
    return model.to_keras_hub(preprocessor_from_preset(directory))


def words_from_preset(directory):
    """The vocabulary (row order of the word vectors) of a word2vec preset."""
    from kssl.zoo.preset import read_asset

    return read_asset(directory, "words.txt").split("\n")[:-1]


def word_vectors(encoder):
    """The input vectors of a word2vec encoder (`(vocabulary, d)`, row i is word i)."""
    import keras

    return keras.ops.convert_to_numpy(encoder.layers[-1].embeddings)


def word_benchmarks(vectors, words):
    """Analogy accuracy (3CosAdd) and WordSim353 / SimLex-999 Spearman rho, gensim's protocol."""
    from kssl.eval.words import analogy, word_similarity

    result = analogy(vectors, words)
    ws353, simlex = word_similarity(vectors, words, "wordsim353"), word_similarity(vectors, words, "simlex999")
    return {"analogy": result["accuracy"], "analogy_questions": result["questions"],
            "ws353": ws353["spearman"], "ws353_pairs": ws353["pairs"],
            "simlex": simlex["spearman"], "simlex_pairs": simlex["pairs"]}


def word_topic_probe(vectors, words, topics, seed=0):
    """For a toy corpus whose content words belong to topics (`topics`: tuple of word lists): a logistic-
    regression probe of each in-vocabulary content word's topic from its vector, half the words of each
    topic to train, half to test. Returns {"accuracy", "topic_words"}."""
    from kssl.eval.linear import linear_probe_features

    index = {w: i for i, w in enumerate(words)}
    rng = np.random.default_rng(seed)
    train_x, train_y, test_x, test_y = [], [], [], []
    for topic, members in enumerate(topics):
        present = [index[w] for w in members if w in index]
        rng.shuffle(present)
        half = len(present) // 2
        train_x += present[:half]
        train_y += [topic] * half
        test_x += present[half:]
        test_y += [topic] * (len(present) - half)
    result = linear_probe_features(vectors[train_x], np.array(train_y), vectors[test_x], np.array(test_y))
    return {"accuracy": result["accuracy"], "topic_words": len(train_x) + len(test_x)}


__all__ = ["finetune", "finetune_epochs", "finetune_pooled", "label_fraction_indices", "label_fraction_subset",
           "labelled_sentences", "preprocessor_from_preset", "sentence_features", "sentence_probe", "tfidf_baseline",
           "word_benchmarks", "word_cnn_encoder", "word_embeddings", "word_topic_probe", "word_vectors", "words_from_preset"]
