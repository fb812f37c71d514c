"""Masked language modelling (+ next-sentence prediction) on the offline English corpus, then Rotten
Tomatoes sentiment from the encoder, next to TF-IDF + logistic regression on the same split.

    make data-text
    python examples/mlm_corpus.py --out out/mlm

Steps: WordPiece vocabulary on the training split -> a small keras-hub BERT (2 layers, width 128)
trained with model.fit (kssl.training.pretrain: AdamW, cosine) -> held-out masked accuracy and
perplexity (masks drawn once with seed 1: `MLMPreprocessor.fixed_dataset`, the same in every run) ->
sentiment: a frozen linear probe on the mean-pooled token vectors, and a fine-tune of the whole
encoder, each for the pretrained encoder and for the same architecture at its random initialisation
(same fine-tune recipe, seed and data order), next to TF-IDF + logistic regression.
"""

import json
import os
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("vocabulary_size", 8000, "WordPiece vocabulary size.")
flags.DEFINE_integer("sequence_length", 64, "Tokens per example ([CLS] and [SEP]s included).")
flags.DEFINE_integer("num_layers", 2, "Transformer layers.")
flags.DEFINE_integer("hidden_dim", 128, "Transformer width.")
flags.DEFINE_bool("next_sentence", True, "Add next-sentence prediction.")
flags.DEFINE_integer("train_documents", 0, "Use only this many training documents, drawn with --seed (0: all).")
flags.DEFINE_integer("held_out_batches", 50, "Held-out batches for masked accuracy / perplexity.")
flags.DEFINE_integer("epochs", 1, "Pretraining epochs.")
flags.DEFINE_integer("batch_size", 64, "Sequences per step.")
flags.DEFINE_float("learning_rate", 1e-3, "Peak AdamW learning rate.")
flags.DEFINE_integer("finetune_epochs", 4, "Epochs of sentiment fine-tuning (0: skip).")
flags.DEFINE_float("finetune_learning_rate", 3e-4, "Peak AdamW learning rate of the fine-tune.")
flags.DEFINE_float("finetune_warmup", 0.1, "Fraction of the fine-tune's steps of linear warmup (then cosine to 0).")
flags.DEFINE_bool("probes", True, "Run the frozen linear probes (else only the fine-tunes and TF-IDF).")
flags.DEFINE_bool("sentiment", True, "Run the Rotten Tomatoes probes and fine-tunes (else held-out only).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("vocabulary_file", "", "Read the vocabulary from this file (default: OUT/vocabulary_SIZE.txt, "
                    "computed and written when missing).")
flags.DEFINE_bool("evaluate_only", False, "Load OUT/model.weights.h5 instead of training.")
flags.DEFINE_string("out", "out/mlm", "Output directory (vocabulary.txt, results.json, backup/).")


def sentiment_features(encoder, pre, texts, batch_size=256):
    import numpy as np
    import tensorflow as tf

    import kssl

    pooled = kssl.methods.mlm.mean_pooled(encoder)
    return np.concatenate([pooled.predict(pre.features(tf.constant(texts[i:i + batch_size])), verbose=0)
                           for i in range(0, len(texts), batch_size)])


def finetune(encoder, pre, train, test, epochs):
    """The whole encoder + a logistic output on the mean-pooled tokens, trained on the sentiment labels:
    AdamW (weight decay 0.01), --finetune_warmup linear warmup to --finetune_learning_rate then cosine
    to 0, batch 32, dropout 0.1, seeded (the same recipe and data order for every encoder).
    Returns (test accuracy, last-epoch train accuracy)."""
    import keras
    import tensorflow as tf

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    pooled = kssl.methods.mlm.mean_pooled(encoder)
    classifier = keras.Sequential([pooled, keras.layers.Dropout(0.1), keras.layers.Dense(1)])
    steps = epochs * (len(train.texts) // 32 + (len(train.texts) % 32 > 0))
    warmup = int(FLAGS.finetune_warmup * steps)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=steps - warmup, warmup_steps=warmup,
                                                      warmup_target=FLAGS.finetune_learning_rate)
    classifier.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
                       metrics=[keras.metrics.BinaryAccuracy(threshold=0)],
                       loss=keras.losses.BinaryCrossentropy(from_logits=True))

    def data(split, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((split.texts, split.labels))
        if shuffle:
            ds = ds.shuffle(len(split.texts), seed=FLAGS.seed)
        return ds.batch(32).map(lambda t, y: (pre.features(t), y))

    history = classifier.fit(data(train, True), epochs=epochs, verbose=2)
    test_accuracy = float(classifier.evaluate(data(test, False), verbose=0, return_dict=True)["binary_accuracy"])
    return test_accuracy, float(history.history["binary_accuracy"][-1])


def main(_):
    import keras
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    import kssl
    from kssl.language import MLMPreprocessor, word_piece_vocabulary

    keras.utils.set_random_seed(FLAGS.seed)
    os.makedirs(FLAGS.out, exist_ok=True)
    corpus = kssl.datasets.text_corpus()
    documents = corpus.train
    if FLAGS.train_documents:
        pick = np.random.default_rng(FLAGS.seed).permutation(len(documents))[:FLAGS.train_documents]
        documents = [documents[i] for i in sorted(pick)]
    vocabulary_file = FLAGS.vocabulary_file or os.path.join(FLAGS.out, f"vocabulary_{FLAGS.vocabulary_size}.txt")
    start = time.time()
    if os.path.exists(vocabulary_file):
        with open(vocabulary_file, encoding="utf-8") as f:
            vocabulary = f.read().split("\n")[:-1]
    else:
        vocabulary = word_piece_vocabulary(corpus.sentences("train"), FLAGS.vocabulary_size)
        kssl.files.write_text_atomic(vocabulary_file, "".join(t + "\n" for t in vocabulary))
    vocabulary_seconds = time.time() - start
    print(f"vocabulary: {len(vocabulary)} tokens ({vocabulary_seconds:.0f} s)")

    pre = MLMPreprocessor(vocabulary, sequence_length=FLAGS.sequence_length)
    train = pre.dataset(documents, batch_size=FLAGS.batch_size, next_sentence=FLAGS.next_sentence, seed=FLAGS.seed)
    encoder = kssl.methods.mlm.bert_encoder(len(vocabulary), num_layers=FLAGS.num_layers, hidden_dim=FLAGS.hidden_dim,
                                            num_heads=max(FLAGS.hidden_dim // 64, 1),
                                            intermediate_dim=4 * FLAGS.hidden_dim, max_sequence_length=FLAGS.sequence_length)
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())
    model = kssl.methods.MaskedLM(encoder, next_sentence=FLAGS.next_sentence)
    print(f"encoder parameters: {encoder.count_params():,}; training steps per epoch: {int(train.cardinality())}")
    weights_file, training_file = os.path.join(FLAGS.out, "model.weights.h5"), os.path.join(FLAGS.out, "training.json")
    if FLAGS.evaluate_only:
        model.load_weights(weights_file)
        model.compile(optimizer="adamw")  # evaluate() needs a compiled model; nothing is trained
        with open(training_file) as f:
            training = json.load(f)
    else:
        history, train_seconds = kssl.training.pretrain(model, train, FLAGS.epochs, learning_rate=FLAGS.learning_rate,
                                                        weight_decay=0.01, out=FLAGS.out, global_clipnorm=1.0)
        model.save_weights(weights_file)
        training = {"train_seconds": round(train_seconds, 1), "final_loss": float(history.history["loss"][-1]),
                    "final_logs": {k: float(v[-1]) for k, v in history.history.items()},
                    "command": "python " + " ".join(sys.argv)}
        kssl.files.write_text_atomic(training_file, json.dumps(training, indent=2))
    # The same held-out pairs and masks for every model and every run (drawn once, seed 1).
    held_out = pre.fixed_dataset(corpus.held_out, batch_size=FLAGS.batch_size, next_sentence=FLAGS.next_sentence,
                                 batches=FLAGS.held_out_batches, seed=1)
    held_out_logs = model.evaluate(held_out, verbose=0, return_dict=True)
    print("held-out:", held_out_logs)
    again = model.evaluate(held_out, verbose=0, return_dict=True)
    print("held-out, second pass:", again)
    if not FLAGS.sentiment:
        kssl.files.write_text_atomic(os.path.join(FLAGS.out, "held_out.json"), json.dumps(
            {"held_out": {k: float(v) for k, v in held_out_logs.items()},
             "second_pass": {k: float(v) for k, v in again.items()}, "command": "python " + " ".join(sys.argv)},
            indent=2))
        return

    rt_train, rt_test = kssl.datasets.rotten_tomatoes()
    rows = {}
    for name, enc in (("mlm_encoder", encoder), ("random_init", random_encoder)):
        if not FLAGS.probes:
            rows[name] = {"linear": "-"}
            continue
        probe = kssl.eval.linear_probe_features(sentiment_features(enc, pre, rt_train.texts), rt_train.labels,
                                                sentiment_features(enc, pre, rt_test.texts), rt_test.labels)
        rows[name] = {"linear": probe["accuracy"]}
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(rt_train.texts)
    classifier = LogisticRegression(max_iter=2000).fit(tfidf.transform(rt_train.texts), rt_train.labels)
    rows["tfidf_logreg"] = {"linear": float(classifier.score(tfidf.transform(rt_test.texts), rt_test.labels))}
    for row in rows.values():
        row["finetune"], row["finetune_train"] = "-", "-"
    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "learning_rate": FLAGS.learning_rate,
           "sequence_length": FLAGS.sequence_length, "vocabulary_size": len(vocabulary), "seed": FLAGS.seed,
           "train_documents": len(documents), "train_steps": int(train.cardinality()) * FLAGS.epochs,
           "encoder_parameters": encoder.count_params(), "training": training,
           "vocabulary_seconds": round(vocabulary_seconds, 1),
           "held_out": {k: float(v) for k, v in held_out_logs.items()},
           "held_out_second_pass": {k: float(v) for k, v in again.items()},
           "finetune": {"epochs": FLAGS.finetune_epochs, "learning_rate": FLAGS.finetune_learning_rate,
                        "warmup": FLAGS.finetune_warmup, "batch_size": 32, "weight_decay": 0.01},
           "held_out_examples": FLAGS.held_out_batches * FLAGS.batch_size,
           "rotten_tomatoes_split": f"{len(rt_train.texts)} train / {len(rt_test.texts)} test (seed 0)",
           "command": "python " + " ".join(sys.argv)}

    def write(rows):
        print(f"\nRotten Tomatoes test accuracy ({len(rt_train.texts)} train / {len(rt_test.texts)} test sentences)")
        print(kssl.eval.markdown_table(rows, ("linear", "finetune", "finetune_train")))
        kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"),
                                     json.dumps({"rotten_tomatoes": rows, "run": run}, indent=2))

    write(rows)  # the probes, before the (slow) fine-tune
    if FLAGS.finetune_epochs:
        for name, enc in (("mlm_encoder", encoder), ("random_init", random_encoder)):
            start = time.time()
            rows[name]["finetune"], rows[name]["finetune_train"] = finetune(enc, pre, rt_train, rt_test,
                                                                            FLAGS.finetune_epochs)
            run[f"finetune_seconds_{name}"] = round(time.time() - start, 1)
            write(rows)


if __name__ == "__main__":
    app.run(main)
