"""How the recipe of tools/bench/text_labels.py's CNN rows (Kim, 2014) was chosen, without the test split: a
validation part carved out of the labelled training sentences (stratified, `--validation_fraction`, its own
seed), the CNN trained on the rest for `--epochs` epochs at each `--learning_rates`, its validation accuracy
measured after every epoch. Prints the curves and writes them as JSON.

    python tools/bench/text_cnn_validation.py --word2vec out/word2vec_rt --json docs/results/text_cnn_validation.json

`--fraction` < 1 runs the same on a label subset (`text.label_fraction_subset`, seed 0): the validation part is
cut from that subset, so a small fraction's choice never sees more labels than its cell would.
"""

import json
import os
import time

from absl import app, flags

flags.DEFINE_string("word2vec", None, "A word2vec preset (examples/word2vec_corpus.py's OUT).")
flags.DEFINE_enum("corpus", "corpus", ["corpus", "synthetic_text"], "Rotten Tomatoes, or the toy corpus (a smoke test).")
flags.DEFINE_list("inits", ["word2vec", "random"], "Embedding inits to try: the word2vec vectors, and/or random.")
flags.DEFINE_list("learning_rates", ["0.001"], "Adam learning rates to try.")
flags.DEFINE_integer("epochs", 8, "Epochs of each run (validation accuracy after each).")
flags.DEFINE_float("fraction", 1.0, "Fraction of the training labels (a `text.label_fraction_subset`, seed 0).")
flags.DEFINE_float("validation_fraction", 0.1, "Part of those labelled sentences held out for validation.")
flags.DEFINE_integer("batch_size", 50, "Batch size (Kim: 50).")
flags.DEFINE_integer("sequence_length", 64, "Words per sentence (longer ones are cut).")
flags.DEFINE_string("json", "", "Where to write the curves (JSON).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from kssl.data.splits import stratified_split
    from kssl.eval import text
    from kssl.training.files import write_text_atomic

    if not FLAGS.word2vec:
        raise ValueError("`--word2vec` (a word2vec preset) is required.")
    import kssl
    from kssl.data.language import WordIds

    train, _ = text.labelled_sentences(FLAGS.corpus)  # the test split is never read below
    train = text.label_fraction_subset(train, FLAGS.fraction, seed=0)
    fit_index, validation_index = stratified_split(train.labels, FLAGS.validation_fraction, seed=1234)
    fit, validation = train.subset(fit_index), train.subset(validation_index)
    words = text.words_from_preset(FLAGS.word2vec)
    vectors = text.word_vectors(kssl.zoo.load(FLAGS.word2vec))
    pre = WordIds(words, FLAGS.sequence_length)
    runs = []
    for init in FLAGS.inits:
        for rate in [float(r) for r in FLAGS.learning_rates]:
            start = time.time()
            encoder = text.word_cnn_encoder(pre, vectors, words, copy=init == "word2vec", seed=0)
            result = text.finetune_pooled(encoder, pre, fit, validation, FLAGS.epochs, learning_rate=rate,
                                          batch_size=FLAGS.batch_size, validation=validation, seed=0)
            curve = result["validation_accuracy"]
            runs.append({"init": init, "learning_rate": rate, "validation_accuracy": [round(a, 4) for a in curve],
                         "best_epoch": int(max(range(len(curve)), key=lambda e: (curve[e], -e))) + 1,
                         "train_accuracy": round(result["train_accuracy"], 4), "seconds": round(time.time() - start, 1),
                         "load_1min": round(os.getloadavg()[0], 2)})
            print(runs[-1], flush=True)
            if FLAGS.json:  # after every run, atomically: an interrupted search keeps whole runs only
                write_text_atomic(FLAGS.json, json.dumps(
                    {"fraction": FLAGS.fraction, "fit_sentences": len(fit.texts), "validation_sentences": len(validation.texts),
                     "batch_size": FLAGS.batch_size, "sequence_length": FLAGS.sequence_length, "word2vec": FLAGS.word2vec,
                     "runs": runs}, indent=2))


if __name__ == "__main__":
    app.run(main)
