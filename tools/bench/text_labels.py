"""Where masked-LM pretraining pays: Rotten Tomatoes sentiment with 1 %, 10 % and 100 % of the training
labels, one protocol for every row; prints a Markdown table and writes a JSON file (after every cell, so
an interrupted run keeps what it measured; `--reuse` skips the cells already there).

    python examples/mlm_corpus.py --out out/mlm --nosentiment      # the pretraining (once)
    python tools/bench/text_labels.py --mlm_preset out/mlm              # the curve (--json docs/results/mlm_labels.json)
    python tools/bench/text_labels.py --mlm_preset out/mlm --reuse --nomeasure   # the table of the stored cells

Protocol (`kssl.eval.text`): the labelled subsets are `label_fraction_subset(train, fraction, seed)`
(stratified, nested: the 1 % subset lies inside the 10 % one), the same for every row; the test set is
always the whole Rotten Tomatoes test split (2 562 sentences). Every fine-tuned row uses one recipe
(`text.finetune`: AdamW, warmup then cosine, batch 32, dropout 0.1), with `finetune_epochs(examples,
--finetune_epochs, --min_steps)` epochs, so a small subset still gets --min_steps optimizer steps. Each
(row, fraction, seed) cell fine-tunes a fresh copy of its encoder. The CNN rows have their own recipe
(--cnn_*, stored as `cnn_recipe` apart from `recipe`, so adding or changing them keeps the other rows' cells).

Rows (pick with --rows):
    mlm           the preset's pretrained encoder, fine-tuned: does pretraining pay?
    random_init   the same architecture at the exact weights the pretraining started from (rebuilt from
                  the preset's recipe, options and seed), fine-tuned the same way: the control for `mlm`.
    tfidf         TF-IDF (1-2 grams) + logistic regression on the same subset: the classical baseline.
    mlm_adapted   the preset's MLM continued on the unlabelled Rotten Tomatoes training sentences (all of
                  them, labels never read: domain-adaptive pretraining), then fine-tuned like `mlm`: the
                  candidate to beat TF-IDF, since the pretraining corpus (dictionaries, the Bible, Austen)
                  has no film reviews.
    word2vec      logistic regression on the mean of a word2vec preset's vectors of each sentence's words
                  (--word2vec PRESET): pretrained word vectors with no fine-tuning, the cheapest transfer.
    tfidf_word2vec  TF-IDF with that mean vector appended (`text.tfidf_baseline(..., train_features=...)`):
                  whether pretrained vectors add to the classical baseline instead of replacing it.
    word2vec_cnn  Kim's (2014) CNN (`kssl.backbones.word_cnn`: filter widths 3, 4, 5 x 100, max-pooled) on
                  word ids (`kssl.data.language.WordIds`), its embedding initialised from the word2vec
                  preset's vectors (`text.word_embeddings`) and fine-tuned with it (CNN-non-static), with
                  its own recipe (`text.finetune_pooled`: dropout 0.5, max-norm 3, Adam, batch 50, --cnn_*,
                  chosen on a validation part of the training labels by tools/bench/text_cnn_validation.py).
    cnn_random    the same network and recipe, its embedding drawn at random at the vectors' scale: the
                  control for `word2vec_cnn`.
    tfidf_word2vec_cnn  TF-IDF with the fine-tuned word2vec_cnn's 300 pooled features appended (the same
                  fine-tune, made again in the cell).
"""

import json
import math
import os
import time

from absl import app, flags

ROWS = ("mlm", "random_init", "tfidf", "mlm_adapted", "word2vec", "tfidf_word2vec", "word2vec_cnn", "cnn_random",
        "tfidf_word2vec_cnn")
WORD2VEC_ROWS = ("word2vec", "tfidf_word2vec", "word2vec_cnn", "cnn_random", "tfidf_word2vec_cnn")
CNN_ROWS = ("word2vec_cnn", "cnn_random", "tfidf_word2vec_cnn")
TITLES = {"mlm": "MLM encoder, fine-tuned", "random_init": "same architecture, random init, fine-tuned",
          "tfidf": "TF-IDF (1-2 grams) + logistic regression",
          "mlm_adapted": "MLM + MLM on the unlabelled RT training sentences, fine-tuned",
          "word2vec": "word2vec mean vector + logistic regression",
          "tfidf_word2vec": "TF-IDF and word2vec mean vector + logistic regression",
          "word2vec_cnn": "CNN (Kim 2014), embedding from word2vec, fine-tuned",
          "cnn_random": "same CNN, random embedding, fine-tuned",
          "tfidf_word2vec_cnn": "TF-IDF and the fine-tuned word2vec CNN's features + logistic regression"}

flags.DEFINE_string("mlm_preset", None, "A masked-LM preset (examples/mlm_corpus.py's OUT): weights and vocabulary.")
flags.DEFINE_string("word2vec", "", "A word2vec preset (examples/word2vec_corpus.py's OUT) for the word2vec row.")
flags.DEFINE_enum("corpus", "corpus", ["corpus", "synthetic_text"],
                  "Rotten Tomatoes, or the toy corpus's sentence topics (a smoke test).")
flags.DEFINE_list("rows", ["tfidf", "mlm", "random_init", "mlm_adapted"], f"Rows, in table order; of {list(ROWS)}.")
flags.DEFINE_list("fractions", ["0.01", "0.1", "1"], "Fractions of the training labels.")
flags.DEFINE_list("seeds", ["0"], "Subset and fine-tune seeds of the fractions below 1 (mean and spread over them).")
flags.DEFINE_integer("full_seed", 0, "The seed of fraction 1 (its subset is the whole split; one fine-tune).")
flags.DEFINE_integer("finetune_epochs", 2, "Fine-tune epochs (more for small subsets: --min_steps).")
flags.DEFINE_integer("min_steps", 300, "Fewest fine-tune optimizer steps of any cell (epochs raised to reach them).")
flags.DEFINE_float("finetune_learning_rate", 3e-4, "Peak AdamW learning rate of the fine-tunes.")
flags.DEFINE_float("finetune_warmup", 0.1, "Fraction of the fine-tune's steps of linear warmup.")
flags.DEFINE_integer("finetune_batch_size", 32, "Fine-tune batch size.")
flags.DEFINE_integer("adapt_epochs", 10, "Epochs of MLM on the unlabelled training sentences (mlm_adapted).")
flags.DEFINE_float("adapt_learning_rate", 5e-4, "Peak AdamW learning rate of that MLM (cosine to 0).")
flags.DEFINE_integer("adapt_batch_size", 64, "Batch size of that MLM.")
flags.DEFINE_integer("cnn_epochs", 6, "Epochs of the CNN rows' fine-tune (more for small subsets: --cnn_min_steps).")
flags.DEFINE_integer("cnn_min_steps", 300, "Fewest optimizer steps of a CNN cell (epochs raised to reach them).")
flags.DEFINE_float("cnn_learning_rate", 1e-3, "Adam learning rate (constant) of the CNN rows.")
flags.DEFINE_integer("cnn_batch_size", 50, "Batch size of the CNN rows (Kim: 50).")
flags.DEFINE_integer("cnn_sequence_length", 64, "Words per sentence the CNN reads (longer ones are cut).")
flags.DEFINE_float("cnn_dropout", 0.5, "Dropout on the CNN's pooled features (Kim: 0.5).")
flags.DEFINE_float("cnn_max_norm", 3.0, "Largest L2 norm of the CNN classifier's weight vector (Kim: 3).")
flags.DEFINE_string("out", "out/text_labels", "Working folder (the adapted preset is saved in OUT/mlm_adapted).")
flags.DEFINE_string("json", "docs/results/mlm_labels.json", "Where to write every cell as JSON.")
flags.DEFINE_bool("reuse", False, "Keep the cells already in --json that were measured with this recipe.")
flags.DEFINE_bool("measure", True, "Measure the cells not in --json (--nomeasure --reuse: the table of the stored cells).")
FLAGS = flags.FLAGS


def recipe():
    """What a stored cell must match to be reused: the preset, the protocol and the fine-tune settings (and
    for the word2vec rows, the word2vec preset)."""
    return {"preset": os.path.abspath(FLAGS.mlm_preset), "corpus": FLAGS.corpus, "finetune_epochs": FLAGS.finetune_epochs,
            "min_steps": FLAGS.min_steps, "finetune_learning_rate": FLAGS.finetune_learning_rate,
            "finetune_warmup": FLAGS.finetune_warmup, "finetune_batch_size": FLAGS.finetune_batch_size,
            "adapt_epochs": FLAGS.adapt_epochs, "adapt_learning_rate": FLAGS.adapt_learning_rate,
            "adapt_batch_size": FLAGS.adapt_batch_size, "word2vec": FLAGS.word2vec}


def cnn_recipe():
    """What a stored cell of the CNN rows must match to be reused, besides `recipe()` (kept apart so that
    the cells measured before the CNN rows existed stay valid)."""
    return {"word2vec": FLAGS.word2vec, "corpus": FLAGS.corpus, "epochs": FLAGS.cnn_epochs,
            "min_steps": FLAGS.cnn_min_steps,
            "learning_rate": FLAGS.cnn_learning_rate, "batch_size": FLAGS.cnn_batch_size,
            "sequence_length": FLAGS.cnn_sequence_length, "dropout": FLAGS.cnn_dropout, "max_norm": FLAGS.cnn_max_norm}


def fractions():
    values = []
    for value in FLAGS.fractions:
        try:
            values.append(float(value))
        except ValueError:
            raise ValueError(f"`--fractions` must be numbers in (0, 1]; got {value!r}.") from None
    return values


def random_init_encoder(preset):
    """The encoder the preset's pretraining started from: the registry entry's model rebuilt with the
    preset's options, vocabulary and seed (`registry.train` seeds, then builds: the same draws)."""
    import keras

    from kssl.eval import text
    from kssl.methods import registry
    from kssl.zoo.preset import read_metadata

    metadata = read_metadata(preset)
    spec = registry.get(metadata["registry_name"])
    data = registry.TextData("preset", [], [], vocabulary=text.preprocessor_from_preset(preset).vocabulary)
    training = metadata["training"]
    keras.utils.set_random_seed(training["seed"])
    _, random_init = registry.build(spec, data, metadata["options"], training["batch_size"], training["seed"])
    return random_init


def adapt_settings():
    return {"epochs": FLAGS.adapt_epochs, "learning_rate": FLAGS.adapt_learning_rate,
            "batch_size": FLAGS.adapt_batch_size, "corpus": FLAGS.corpus}


def adapt(model, pre, sentences, out):
    """The masked LM `model` (freshly loaded: its encoder is trained in place) trained further on
    `sentences` (unlabelled, one per example, no NSP), its MLM head's weights carried over; saved as a
    preset in `out`. Returns (encoder, info)."""
    import keras

    import kssl

    keras.utils.set_random_seed(0)
    adapted = kssl.methods.MaskedLM(model.encoder, next_sentence=False)
    adapted.mlm_head.set_weights(model.mlm_head.get_weights())
    batches = pre.dataset([[s] for s in sentences], batch_size=FLAGS.adapt_batch_size, next_sentence=False, seed=0)
    history, seconds = kssl.training.pretrain(adapted, batches, FLAGS.adapt_epochs, learning_rate=FLAGS.adapt_learning_rate,
                                              weight_decay=0.01, global_clipnorm=1.0, verbose=2)
    info = {"settings": adapt_settings(), "seconds": round(seconds, 1), "steps": int(batches.cardinality()) * FLAGS.adapt_epochs,
            "sentences": len(sentences), "history": {k: [round(float(v), 4) for v in vs]
                                                     for k, vs in history.history.items()}}
    kssl.zoo.save(adapted, out, metadata={"adapted_from": os.path.abspath(FLAGS.mlm_preset), "adaptation": info},
                  assets={name: kssl.zoo.preset.read_asset(FLAGS.mlm_preset, name)
                          for name in ("vocabulary.txt", "preprocessor.json")})
    return adapted.encoder, info


def word2vec_features(vectors, vocabulary, texts):
    """Each text's mean word vector (`vectors`' rows in the order of `vocabulary`; zeros when none of its
    words is in the vocabulary)."""
    import numpy as np

    from kssl.data.text import words

    index = {w: i for i, w in enumerate(vocabulary)}
    features = np.zeros((len(texts), vectors.shape[1]), "float32")
    for row, sentence in enumerate(texts):
        ids = [index[w] for w in words(sentence) if w in index]
        if ids:
            features[row] = vectors[ids].mean(axis=0)
    return features


class Encoders:
    """The rows' encoders and features, each made once, on first use."""

    def __init__(self, pre, train, test):
        self.pre, self.train, self.test, self.made, self.info = pre, train, test, {}, {}

    def get(self, row):
        import kssl

        if row not in self.made:
            if row == "mlm":
                self.made[row] = kssl.zoo.load(FLAGS.mlm_preset)
            elif row == "random_init":
                self.made[row] = random_init_encoder(FLAGS.mlm_preset)
            elif row == "mlm_adapted":
                out = os.path.join(FLAGS.out, "mlm_adapted")
                earlier = kssl.zoo.preset.read_metadata(out) if os.path.exists(os.path.join(out, "metadata.json")) else {}
                if earlier.get("adapted_from") == os.path.abspath(FLAGS.mlm_preset) and earlier.get(
                        "adaptation", {}).get("settings") == adapt_settings():
                    print(f"mlm_adapted: the adapted preset in {out} (same preset and settings)", flush=True)
                    self.made[row], self.info["adaptation"] = kssl.zoo.load(out), earlier["adaptation"]
                else:
                    model = kssl.zoo.load(FLAGS.mlm_preset, include_head=True)
                    self.made[row], self.info["adaptation"] = adapt(model, self.pre, self.train.texts, out)
            elif row == "word2vec_vectors":  # the preset's (vectors, words), read once for every word2vec row
                from kssl.eval import text

                self.made[row] = (text.word_vectors(kssl.zoo.load(FLAGS.word2vec)), text.words_from_preset(FLAGS.word2vec))
            elif row == "word2vec":
                vectors, words = self.get("word2vec_vectors")
                self.made[row] = (word2vec_features(vectors, words, self.train.texts),
                                  word2vec_features(vectors, words, self.test.texts))
            elif row == "word_ids":  # the CNN rows' preprocessor and the word2vec vectors it copies
                from kssl.data.language import WordIds

                vectors, words = self.get("word2vec_vectors")
                self.made[row] = (WordIds(words, FLAGS.cnn_sequence_length), vectors, words)
        return self.made[row]


def cnn_cell(encoders, subset, seed, copy):
    """A fresh Kim CNN (embedding from the word2vec vectors, or at random with `copy=False`) fine-tuned on
    `subset`, everything seeded with `seed`. Returns (result, fine-tuned CNN, its preprocessor)."""
    import keras

    from kssl.eval import text

    pre, vectors, words = encoders.get("word_ids")
    epochs = text.finetune_epochs(len(subset.texts), FLAGS.cnn_epochs, FLAGS.cnn_min_steps, FLAGS.cnn_batch_size)
    keras.utils.set_random_seed(seed)
    encoder = text.word_cnn_encoder(pre, vectors, words, copy=copy, seed=seed)
    result = text.finetune_pooled(encoder, pre, subset, encoders.test, epochs, learning_rate=FLAGS.cnn_learning_rate,
                                  batch_size=FLAGS.cnn_batch_size, dropout=FLAGS.cnn_dropout, max_norm=FLAGS.cnn_max_norm,
                                  seed=seed)
    result.update(epochs=epochs, steps=epochs * math.ceil(len(subset.texts) / FLAGS.cnn_batch_size))
    return result, encoder, pre


def cell(row, encoders, subset, index, seed):
    """One row's test accuracy with one labelled subset: {"accuracy", "train_accuracy", ...}."""
    from kssl.eval import linear, text
    from kssl.methods import registry

    start = time.time()
    if row == "tfidf":
        result = {"accuracy": text.tfidf_baseline(subset, encoders.test)}
    elif row == "tfidf_word2vec":
        train_x, test_x = encoders.get("word2vec")
        result = {"accuracy": text.tfidf_baseline(subset, encoders.test, train_x[index], test_x)}
    elif row in ("word2vec_cnn", "cnn_random"):
        result = cnn_cell(encoders, subset, seed, copy=row == "word2vec_cnn")[0]
    elif row == "tfidf_word2vec_cnn":
        cnn, encoder, pre = cnn_cell(encoders, subset, seed, copy=True)
        features = [encoder.predict(pre(split.texts), batch_size=256, verbose=0) for split in (subset, encoders.test)]
        result = {"accuracy": text.tfidf_baseline(subset, encoders.test, *features), "cnn_accuracy": cnn["accuracy"],
                  "epochs": cnn["epochs"], "steps": cnn["steps"]}
    elif row == "word2vec":
        train_x, test_x = encoders.get(row)
        probe = linear.linear_probe_features(train_x[index], subset.labels, test_x, encoders.test.labels)
        result = {"accuracy": probe["accuracy"], "train_accuracy": probe["train_accuracy"]}
    else:
        epochs = text.finetune_epochs(len(subset.texts), FLAGS.finetune_epochs, FLAGS.min_steps,
                                      FLAGS.finetune_batch_size)
        encoder = registry.copy_model(encoders.get(row))  # every cell starts from the row's weights
        accuracy, train_accuracy = text.finetune(
            encoder, encoders.pre, subset, encoders.test, epochs, learning_rate=FLAGS.finetune_learning_rate,
            warmup=FLAGS.finetune_warmup, batch_size=FLAGS.finetune_batch_size, seed=seed)
        result = {"accuracy": accuracy, "train_accuracy": train_accuracy, "epochs": epochs,
                  "steps": epochs * math.ceil(len(subset.texts) / FLAGS.finetune_batch_size)}
    result.update(seconds=round(time.time() - start, 1), load_1min=round(os.getloadavg()[0], 2))
    return result


def summary(cells):
    import numpy as np

    accuracies = [c["accuracy"] for c in cells.values()]
    return {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)), "seeds": len(accuracies)}


def table(results, train_size):
    """The Markdown table: one row per method, one column per fraction (mean, and the spread over seeds)."""
    columns = [f for f in fractions()]
    lines = ["| Rotten Tomatoes test accuracy | " + " | ".join(
        f"{f:.0%} of the labels ({round(f * train_size) if f < 1 else train_size})" for f in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in FLAGS.rows:
        cells = []
        for f in columns:
            found = results.get(row, {}).get(str(f))
            if not found or not found.get("cells"):
                cells.append("not run")
                continue
            s = summary(found["cells"])
            cells.append(f"{s['mean']:.4f}" + (f" ± {s['std']:.4f} ({s['seeds']} seeds)" if s["seeds"] > 1 else ""))
        lines.append(f"| {TITLES[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    del argv
    import sys

    from kssl.checks import check_choice
    from kssl.eval import text
    from kssl.training.files import write_text_atomic

    if not FLAGS.mlm_preset:
        raise ValueError("`--mlm_preset` is required: a masked-LM preset (python examples/mlm_corpus.py --out DIR).")
    for row in FLAGS.rows:
        check_choice("--rows", row, ROWS)
    if set(WORD2VEC_ROWS) & set(FLAGS.rows) and not FLAGS.word2vec:
        raise ValueError(f"`--word2vec` (a word2vec preset) is needed for the rows {list(WORD2VEC_ROWS)}.")
    seeds = [int(s) for s in FLAGS.seeds]
    for f in fractions():
        text.label_fraction_indices([0], f)  # a ValueError naming `fraction` before anything slow
    os.makedirs(os.path.dirname(FLAGS.json) or ".", exist_ok=True)
    results, commands, info = {}, [], {}
    if FLAGS.reuse and os.path.exists(FLAGS.json):
        with open(FLAGS.json) as f:
            stored = json.load(f)
        other = {k: v for k, v in stored.get("recipe", {}).items() if k != "word2vec"}
        if other == {k: v for k, v in recipe().items() if k != "word2vec"}:
            results, commands = stored["rows"], stored["commands"]
            info = {k: stored[k] for k in ("adaptation",) if k in stored}
            if stored["recipe"].get("word2vec") != FLAGS.word2vec:  # another word2vec preset: its rows again
                for row in WORD2VEC_ROWS:
                    results.pop(row, None)
            if stored.get("cnn_recipe") != cnn_recipe():  # another CNN recipe (or none yet): the CNN rows again
                for row in CNN_ROWS:
                    results.pop(row, None)
    train, test = text.labelled_sentences(FLAGS.corpus)
    pre = text.preprocessor_from_preset(FLAGS.mlm_preset)
    encoders = Encoders(pre, train, test)
    encoders.info.update(info)  # the adaptation of a reused run (its cells are kept; a new cell adapts again)
    run = {"recipe": recipe(), "cnn_recipe": cnn_recipe(), "commands": commands + ["python " + " ".join(sys.argv)],
           "train_sentences": len(train.texts),
           "test_sentences": len(test.texts), "cpus": os.cpu_count()}

    def write():
        write_text_atomic(FLAGS.json, json.dumps({**run, "rows": results, **encoders.info}, indent=2))

    for row in FLAGS.rows:
        for f in fractions():
            for seed in seeds if f < 1 else [FLAGS.full_seed]:
                cells = results.setdefault(row, {}).setdefault(str(f), {"cells": {}})["cells"]
                if str(seed) in cells or not FLAGS.measure:
                    continue
                index = text.label_fraction_indices(train.labels, f, seed=seed)
                subset = text.label_fraction_subset(train, f, seed=seed)
                print(f"{row}, {f:.0%} of the labels ({len(subset.texts)} sentences), seed {seed}", flush=True)
                cells[str(seed)] = cell(row, encoders, subset, index, seed)
                print(f"  -> {cells[str(seed)]}", flush=True)
                results[row][str(f)]["examples"] = len(subset.texts)
                write()
    print("\n" + table(results, len(train.texts)))
    write()


if __name__ == "__main__":
    app.run(main)
