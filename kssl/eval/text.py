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


def tfidf_baseline(train, test):
    """TF-IDF (1-2 grams) + logistic regression accuracy on the same split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(train.texts)
    classifier = LogisticRegression(max_iter=2000).fit(tfidf.transform(train.texts), train.labels)
    return float(classifier.score(tfidf.transform(test.texts), test.labels))


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


__all__ = ["finetune", "labelled_sentences", "preprocessor_from_preset", "sentence_features",
           "sentence_probe", "tfidf_baseline", "word_benchmarks", "word_topic_probe", "word_vectors", "words_from_preset"]
