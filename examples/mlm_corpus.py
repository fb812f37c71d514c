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

The model, data pipeline and recipe are the registry's (`kssl.methods.registry.get("mlm")`); the probes
and fine-tunes are `kssl.eval.text`'s. OUT/ is a preset (`kssl.zoo.load`, `kssl eval linear OUT`) whose
assets/ hold the vocabulary. `--corpus synthetic_text` runs on a toy two-topic corpus (its sentence topic
stands in for the sentiment labels): a smoke test with no `make data-text`.
"""

import json
import os
import time

from absl import app, flags

import common

FLAGS = flags.FLAGS
SPEC = common.define_flags("mlm", image_flags=False)  # --vocabulary_size 8000 --sequence_length 64 --num_layers 2 --hidden_dim 128 ...
flags.DEFINE_enum("corpus", "corpus", ["corpus", "synthetic_text"], "The offline English corpus, or a toy one.")
flags.DEFINE_integer("train_documents", 0, "Use only this many training documents, drawn with --seed (0: all).")
flags.DEFINE_integer("held_out_batches", 50, "Held-out batches for masked accuracy / perplexity.")
flags.DEFINE_integer("finetune_epochs", 4, "Epochs of sentiment fine-tuning (0: skip).")
flags.DEFINE_float("finetune_learning_rate", 3e-4, "Peak AdamW learning rate of the fine-tune.")
flags.DEFINE_float("finetune_warmup", 0.1, "Fraction of the fine-tune's steps of linear warmup (then cosine to 0).")
flags.DEFINE_bool("probes", True, "Run the frozen linear probes (else only the fine-tunes and TF-IDF).")
flags.DEFINE_bool("sentiment", True, "Run the Rotten Tomatoes probes and fine-tunes (else held-out only).")
flags.DEFINE_bool("evaluate_only", False, "Load OUT/model.weights.h5 instead of training.")


def vocabulary(data, options):
    """The WordPiece vocabulary: --vocabulary_file, else OUT/vocabulary_SIZE.txt (made and written when missing)."""
    import kssl
    from kssl.methods import registry

    path = FLAGS.vocabulary_file or os.path.join(FLAGS.out, f"vocabulary_{FLAGS.vocabulary_size}.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().split("\n")[:-1]
    tokens = registry.word_piece_vocabulary(data, {**options, "vocabulary_file": ""})
    kssl.files.write_text_atomic(path, "".join(t + "\n" for t in tokens))
    return tokens


def main(_):
    import keras

    import kssl
    from kssl.eval import text
    from kssl.methods import registry

    options = common.options(SPEC)
    os.makedirs(FLAGS.out, exist_ok=True)
    data = registry.load_data(SPEC, FLAGS.corpus, options, train_examples=FLAGS.train_documents, seed=FLAGS.seed)
    start = time.time()
    data.vocabulary = vocabulary(data, options)
    vocabulary_seconds = time.time() - start
    print(f"vocabulary: {len(data.vocabulary)} tokens ({vocabulary_seconds:.0f} s)")
    pre = registry.mlm_preprocessor(data, options)

    training_file = os.path.join(FLAGS.out, "training.json")
    if FLAGS.evaluate_only:
        keras.utils.set_random_seed(FLAGS.seed)
        model, random_encoder = registry.build(SPEC, data, options, FLAGS.batch_size, FLAGS.seed)
        model.load_weights(os.path.join(FLAGS.out, kssl.zoo.WEIGHTS_FILE))
        model.compile(optimizer="adamw")  # evaluate() needs a compiled model; nothing is trained
        with open(training_file) as f:
            training = json.load(f)
        steps = None
    else:
        run = registry.train(SPEC, data, options, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                             learning_rate=FLAGS.learning_rate, seed=FLAGS.seed, out=FLAGS.out)
        model, random_encoder = run.model, run.baseline()
        steps = int(run.history.params.get("steps") or 0) * FLAGS.epochs
        training = {"train_seconds": round(run.seconds, 1), "final_loss": float(run.history.history["loss"][-1]),
                    "final_logs": {k: float(v[-1]) for k, v in run.history.history.items()},
                    "command": common.command()}
        kssl.files.write_text_atomic(training_file, json.dumps(training, indent=2))
        run.save(FLAGS.out, metadata={"command": common.command()})  # OUT/model.weights.h5 + assets/vocabulary.txt
    encoder = model.encoder
    print(f"encoder parameters: {encoder.count_params():,}")
    # The same held-out pairs and masks for every model and every run (drawn once, seed 1).
    held_out = pre.fixed_dataset(data.held_out, batch_size=FLAGS.batch_size, next_sentence=FLAGS.next_sentence,
                                 batches=FLAGS.held_out_batches, seed=1)
    held_out_logs = model.evaluate(held_out, verbose=0, return_dict=True)
    print("held-out:", held_out_logs)
    again = model.evaluate(held_out, verbose=0, return_dict=True)
    print("held-out, second pass:", again)
    if not FLAGS.sentiment:
        kssl.files.write_text_atomic(os.path.join(FLAGS.out, "held_out.json"), json.dumps(
            {"held_out": {k: float(v) for k, v in held_out_logs.items()},
             "second_pass": {k: float(v) for k, v in again.items()}, "command": common.command()}, indent=2))
        return

    rt_train, rt_test = text.labelled_sentences(FLAGS.corpus)
    rows = {}
    for name, enc in (("mlm_encoder", encoder), ("random_init", random_encoder)):
        rows[name] = {"linear": text.sentence_probe(enc, pre, rt_train, rt_test)["accuracy"] if FLAGS.probes else "-"}
    rows["tfidf_logreg"] = {"linear": text.tfidf_baseline(rt_train, rt_test)}
    for row in rows.values():
        row["finetune"], row["finetune_train"] = "-", "-"
    run_info = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "learning_rate": FLAGS.learning_rate,
                "sequence_length": FLAGS.sequence_length, "vocabulary_size": len(data.vocabulary), "seed": FLAGS.seed,
                "train_documents": len(data.train), "train_steps": steps,
                "encoder_parameters": encoder.count_params(), "training": training,
                "vocabulary_seconds": round(vocabulary_seconds, 1),
                "held_out": {k: float(v) for k, v in held_out_logs.items()},
                "held_out_second_pass": {k: float(v) for k, v in again.items()},
                "finetune": {"epochs": FLAGS.finetune_epochs, "learning_rate": FLAGS.finetune_learning_rate,
                             "warmup": FLAGS.finetune_warmup, "batch_size": 32, "weight_decay": 0.01},
                "held_out_examples": FLAGS.held_out_batches * FLAGS.batch_size,
                "rotten_tomatoes_split": f"{len(rt_train.texts)} train / {len(rt_test.texts)} test (seed 0)",
                "command": common.command()}

    def write(rows):
        what = "Rotten Tomatoes" if FLAGS.corpus == "corpus" else "Toy-corpus topic"
        print(f"\n{what} test accuracy ({len(rt_train.texts)} train / {len(rt_test.texts)} test sentences)")
        print(kssl.eval.markdown_table(rows, ("linear", "finetune", "finetune_train")))
        kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"),
                                     json.dumps({"rotten_tomatoes": rows, "run": run_info}, indent=2))

    write(rows)  # the probes, before the (slow) fine-tune
    if FLAGS.finetune_epochs:
        for name, enc in (("mlm_encoder", encoder), ("random_init", random_encoder)):
            start = time.time()
            rows[name]["finetune"], rows[name]["finetune_train"] = text.finetune(
                enc, pre, rt_train, rt_test, FLAGS.finetune_epochs, learning_rate=FLAGS.finetune_learning_rate,
                warmup=FLAGS.finetune_warmup, seed=FLAGS.seed)
            run_info[f"finetune_seconds_{name}"] = round(time.time() - start, 1)
            write(rows)


if __name__ == "__main__":
    app.run(main)
