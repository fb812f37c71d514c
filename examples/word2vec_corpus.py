"""word2vec (CBOW or skip-gram, negative sampling) on the offline English corpus, with model.fit;
evaluated on the Google analogies (3CosAdd) and WordSim353 / SimLex-999 (Spearman rho).

    make data-text
    python examples/word2vec_corpus.py --mode cbow --epochs 5 --out out/word2vec

tools/bench/word2vec_vs_gensim.py trains gensim's Word2Vec with the same settings on the same
sentences, in the same run, for the README comparison.

The model, its input pipeline and recipe (word2vec's own per-example Hogwild SGD in kssl's C++ kernel, lr 0.05
decayed linearly, batches of 65 536 windows; `--optimizer rowwise_adagrad --learning_rate 0.2 --batch_size 4096`
is the mini-batch recipe: RowwiseAdagrad, XLA-compiled; `--optimizer lazy_adam --learning_rate 0.01
--batch_size 4096` the earlier LazyAdam one) are the registry's
(`kssl.methods.registry.get("word2vec")`); OUT/ is a preset whose assets/words.txt is the vocabulary in
row order. `--corpus synthetic_text` runs on a toy two-topic corpus and reports a word-topic probe
instead of the word benchmarks (a smoke test with no `make data-text`).
"""

import json
import os
import time

from absl import app, flags

import common

FLAGS = flags.FLAGS


def define_flags():
    """word2vec's (and gensim's) defaults and the registry's recipe (Hogwild SGD at word2vec.c's CBOW lr 0.05)."""
    from kssl.methods import registry

    spec = registry.get("word2vec")
    common.define_option_flags(spec.recipe.options)  # --mode cbow --embedding_dim 100 --window 5 --min_count 5 ...
    flags.DEFINE_integer("epochs", spec.recipe.epochs, "Passes over the corpus.")
    flags.DEFINE_integer("batch_size", spec.recipe.batch_size, "Examples per step.")
    flags.DEFINE_float("learning_rate", spec.recipe.learning_rate,
                       "Learning rate (hogwild_sgd: the start, linear decay to 1e-4; RowwiseAdagrad: constant; "
                       "LazyAdam: the peak, cosine decay to 0).")
    flags.DEFINE_float("fraction", 1.0, "Use this fraction of the training sentences, drawn with --seed.")
    flags.DEFINE_integer("seed", spec.recipe.seed, "Random seed.")
    flags.DEFINE_enum("corpus", "corpus", ["corpus", "synthetic_text"], "The offline English corpus, or a toy one.")
    flags.DEFINE_bool("rotten_tomatoes", False, "Also train on the Rotten Tomatoes training sentences (their text "
                      "only, never the labels or the test split): vectors for the review words of tools/bench/text_labels.py.")


def corpus_sentences():
    """Training sentences as word lists (the same for kssl and gensim): all, or a seeded random
    --fraction of them (kept in corpus order)."""
    import numpy as np

    from kssl.methods import registry

    sentences = registry.load_data(registry.get("word2vec"), FLAGS.corpus, seed=FLAGS.seed).tokens()
    if FLAGS.fraction < 1.0:
        keep = np.random.default_rng(FLAGS.seed).random(len(sentences)) < FLAGS.fraction
        sentences = [s for s, k in zip(sentences, keep) if k]
    if FLAGS.rotten_tomatoes:
        from kssl.data.text import words
        from kssl.eval.text import labelled_sentences

        sentences = sentences + [words(t) for t in labelled_sentences("corpus")[0].texts]
    return sentences


def train(sentences, verbose="auto", return_run=False):
    """(model, vocabulary, seconds): kssl.methods.Word2Vec fitted on `sentences` through the registry
    (seconds: vocabulary + training); with `return_run`, the registry's `Run` too."""
    from kssl.methods import registry

    spec = registry.get("word2vec")
    start = time.time()
    data = registry.TextData(FLAGS.corpus, train=[], held_out=[], token_lists=sentences)
    run = registry.train(spec, data, common.options(spec), epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                         learning_rate=FLAGS.learning_rate, seed=FLAGS.seed, verbose=verbose)
    result = run.model, data.words, time.time() - start
    return (*result, run) if return_run else result


def evaluate(vectors, words):
    """Analogy accuracy and similarity rho, gensim's protocol (kssl.eval.words)."""
    from kssl.eval import text

    return text.word_benchmarks(vectors, words)


def settings():
    return {name: getattr(FLAGS, name) for name in ("mode", "embedding_dim", "window", "min_count", "sample",
                                                    "negatives", "optimizer", "epochs", "batch_size", "learning_rate",
                                                    "fraction", "seed", "rotten_tomatoes")}


def main(_):
    import kssl
    from kssl.eval import text
    from kssl.methods import registry

    sentences = corpus_sentences()
    model, vocabulary, seconds, run = train(sentences, return_run=True)
    if FLAGS.corpus == "synthetic_text":
        results = text.word_topic_probe(model.vectors(), vocabulary.words, registry.SYNTHETIC_TOPICS)
    else:
        results = evaluate(model.vectors(), vocabulary.words)
    for word in ("king", "love", "water", "god", "ship"):
        if word in vocabulary.index:
            print(word, "->", ", ".join(w for w, _ in model.nearest(word, vocabulary.words, k=6)))
    results.update(train_seconds=round(seconds, 1), vocabulary=len(vocabulary),
                   words=int(sum(len(s) for s in sentences)))
    print(json.dumps(results, indent=2))
    os.makedirs(FLAGS.out, exist_ok=True)
    run.save(FLAGS.out, metadata={"metrics": results, "command": common.command()})
    kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"), json.dumps(
        {"kssl": results, "run": {**settings(), "command": common.command()}}, indent=2))


if __name__ == "__main__":
    define_flags()
    flags.DEFINE_string("out", "out/word2vec", "Output directory (preset, results.json).")
    app.run(main)
