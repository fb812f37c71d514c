"""word2vec (CBOW or skip-gram, negative sampling) on the offline English corpus, with model.fit;
evaluated on the Google analogies (3CosAdd) and WordSim353 / SimLex-999 (Spearman rho).

    make data-text
    python examples/word2vec_corpus.py --mode cbow --epochs 5 --out out/word2vec

tools/bench/word2vec_vs_gensim.py trains gensim's Word2Vec with the same settings on the same
sentences, in the same run, for the README comparison.
"""

import json
import os
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    """word2vec's (and gensim's) defaults, except the optimiser: Adam on mini-batches."""
    flags.DEFINE_enum("mode", "cbow", ["cbow", "skipgram"], "CBOW (gensim's default) or skip-gram.")
    flags.DEFINE_integer("embedding_dim", 100, "Vector size.")
    flags.DEFINE_integer("window", 5, "Largest window (each centre draws 1..window).")
    flags.DEFINE_integer("min_count", 5, "Words seen fewer times are dropped.")
    flags.DEFINE_float("sample", 1e-3, "Subsampling threshold t.")
    flags.DEFINE_integer("negatives", 5, "Negative samples per example.")
    flags.DEFINE_integer("epochs", 5, "Passes over the corpus.")
    flags.DEFINE_integer("batch_size", 4096, "Examples per step.")
    flags.DEFINE_float("learning_rate", 1e-2, "Peak Adam learning rate (cosine decay to 0).")
    flags.DEFINE_float("fraction", 1.0, "Use this fraction of the training sentences, drawn with --seed.")
    flags.DEFINE_integer("seed", 0, "Random seed.")


def corpus_sentences():
    """Training sentences as word lists (the same for kssl and gensim): all, or a seeded random
    --fraction of them (kept in corpus order)."""
    import numpy as np

    import kssl

    sentences = kssl.datasets.text_corpus().tokens("train")
    if FLAGS.fraction < 1.0:
        keep = np.random.default_rng(FLAGS.seed).random(len(sentences)) < FLAGS.fraction
        sentences = [s for s, k in zip(sentences, keep) if k]
    return sentences


def train(sentences, verbose="auto"):
    """(model, vocabulary, seconds): kssl.methods.Word2Vec fitted on `sentences`."""
    import keras

    import kssl
    from kssl.language import Word2VecData, WordVocabulary

    keras.utils.set_random_seed(FLAGS.seed)
    start = time.time()
    vocabulary = WordVocabulary(sentences, min_count=FLAGS.min_count)
    data = Word2VecData(sentences, vocabulary, mode=FLAGS.mode, window=FLAGS.window, sample=FLAGS.sample,
                        batch_size=FLAGS.batch_size, seed=FLAGS.seed)
    model = kssl.methods.Word2Vec(vocabulary.counts, embedding_dim=FLAGS.embedding_dim, mode=FLAGS.mode,
                                  negatives=FLAGS.negatives, seed=FLAGS.seed)
    schedule = keras.optimizers.schedules.CosineDecay(FLAGS.learning_rate, decay_steps=FLAGS.epochs * len(data))
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    model.fit(data, epochs=FLAGS.epochs, verbose=verbose)
    return model, vocabulary, time.time() - start


def evaluate(vectors, words):
    """Analogy accuracy and similarity rho, gensim's protocol (kssl.eval.words)."""
    import kssl

    analogy = kssl.eval.analogy(vectors, words)
    ws353 = kssl.eval.word_similarity(vectors, words, "wordsim353")
    simlex = kssl.eval.word_similarity(vectors, words, "simlex999")
    return {"analogy": analogy["accuracy"], "analogy_questions": analogy["questions"],
            "ws353": ws353["spearman"], "ws353_pairs": ws353["pairs"],
            "simlex": simlex["spearman"], "simlex_pairs": simlex["pairs"]}


def settings():
    return {name: getattr(FLAGS, name) for name in ("mode", "embedding_dim", "window", "min_count", "sample",
                                                    "negatives", "epochs", "batch_size", "learning_rate",
                                                    "fraction", "seed")}


def main(_):
    import kssl

    sentences = corpus_sentences()
    model, vocabulary, seconds = train(sentences)
    results = evaluate(model.vectors(), vocabulary.words)
    for word in ("king", "love", "water", "god"):
        if word in vocabulary.index:
            print(word, "->", ", ".join(w for w, _ in model.nearest(word, vocabulary.words, k=6)))
    results.update(train_seconds=round(seconds, 1), vocabulary=len(vocabulary),
                   words=int(sum(len(s) for s in sentences)))
    print(json.dumps(results, indent=2))
    os.makedirs(FLAGS.out, exist_ok=True)
    kssl.zoo.preset.write_text_atomic(os.path.join(FLAGS.out, "results.json"), json.dumps(
        {"kssl": results, "run": {**settings(), "command": "python " + " ".join(sys.argv)}}, indent=2))


if __name__ == "__main__":
    define_flags()
    flags.DEFINE_string("out", "out/word2vec", "Output directory (results.json).")
    app.run(main)
