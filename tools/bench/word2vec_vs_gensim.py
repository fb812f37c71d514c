"""kssl's Word2Vec next to gensim's, same sentences, same settings, one run: analogy (3CosAdd on the
Google set), WordSim353 and SimLex-999 Spearman rho, and training time (vocabulary + training).

    pip install gensim   # or: pip install -e ".[compare]"
    python tools/bench/word2vec_vs_gensim.py --mode cbow --epochs 5 --out out/bench/word2vec

Both read `kssl.datasets.text_corpus().tokens("train")` (a seeded random --fraction of its sentences when set) and
are evaluated by the same kssl.eval functions. Settings shared: mode, vector size, window, min_count,
sample, negatives (unigram^0.75), epochs. Both run word2vec's own update, Hogwild SGD one example after another
on `--gensim_workers` / TensorFlow's threads: gensim at its default lr 0.025 -> 0.0001 and again at kssl's; kssl
through model.fit with the registry's recipe (`Word2Vec(update="hogwild")`, its C++ kernel, lr 0.05 -> 0.0001 as
word2vec.c's CBOW, batches of 65 536 windows: the batch only sets how often Keras is called). They differ in the
example order (gensim: the text's; kssl: windows shuffled each epoch). `--optimizer rowwise_adagrad --learning_rate 0.2
--batch_size 4096` runs the mini-batch recipe instead (RowwiseAdagrad, XLA; better WS353 / SimLex, ~3x slower).
Prints a Markdown table, writes OUT/results.json atomically.
"""

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
import word2vec_corpus as example  # noqa: E402

FLAGS = flags.FLAGS
example.define_flags()
flags.DEFINE_integer("gensim_workers", 2, "gensim worker threads (this machine has 2 cores).")
flags.DEFINE_string("out", "out/bench/word2vec", "Output directory.")


def train_gensim(sentences, **alpha):
    """gensim's Word2Vec on `sentences` with the shared settings (and `alpha` if given): its benchmark row."""
    from gensim.models import Word2Vec

    start = time.time()
    model = Word2Vec(sentences, vector_size=FLAGS.embedding_dim, window=FLAGS.window, min_count=FLAGS.min_count,
                     sample=FLAGS.sample, negative=FLAGS.negatives, ns_exponent=0.75, sg=int(FLAGS.mode == "skipgram"),
                     cbow_mean=1, epochs=FLAGS.epochs, workers=FLAGS.gensim_workers, seed=FLAGS.seed, **alpha)
    seconds = time.time() - start
    vocabulary = list(model.wv.index_to_key)
    return {**example.evaluate(model.wv.vectors, vocabulary), "train_seconds": round(seconds, 1),
            "vocabulary": len(vocabulary)}


def main(_):
    import gensim

    import kssl

    sentences = example.corpus_sentences()
    words = int(sum(len(s) for s in sentences))
    print(f"{len(sentences)} sentences, {words} words")
    rows = {}
    rows[f"gensim {gensim.__version__}"] = train_gensim(sentences)
    if FLAGS.optimizer == "hogwild_sgd" and FLAGS.learning_rate != 0.025:  # same algorithm: gensim at kssl's lr too
        rows[f"gensim {gensim.__version__}, alpha {FLAGS.learning_rate:g}"] = train_gensim(
            sentences, alpha=FLAGS.learning_rate)
    model, vocabulary, seconds, run = example.train(sentences, verbose=2, return_run=True)
    rows["kssl Word2Vec"] = {**example.evaluate(model.vectors()[1:], vocabulary.words[1:]),  # row 0 is padding
                             "train_seconds": round(seconds, 1), "vocabulary": len(vocabulary) - 1,
                             # where the time goes: model.fit (steps and each epoch's window redraw) vs the rest
                             # (vocabulary, encoding the corpus, the first draw of windows)
                             "fit_seconds": round(run.seconds, 1), "setup_seconds": round(seconds - run.seconds, 1)}
    print(f"\nword2vec ({FLAGS.mode}, {FLAGS.epochs} epochs, {words} words)")
    print(kssl.eval.markdown_table(rows, ("analogy", "ws353", "simlex", "train_seconds", "fit_seconds", "vocabulary"),
                                   first="model"))
    os.makedirs(FLAGS.out, exist_ok=True)
    kssl.zoo.preset.write_text_atomic(os.path.join(FLAGS.out, "results.json"), json.dumps(
        {**rows, "run": {**example.settings(), "words": words, "sentences": len(sentences),
                         "gensim_workers": FLAGS.gensim_workers, "command": "python " + " ".join(sys.argv)}}, indent=2))


if __name__ == "__main__":
    app.run(main)
