"""A zoo encoder used the obvious Keras way, against the linear probe, at a few label fractions.

    python tools/bench/zoo_classifier.py --entry simclr_convnet_fmnist --out docs/results/zoo_classifier.json

The obvious way is `keras.Sequential([kssl.zoo.load(entry, trainable=False), Dense(10, "softmax")])`,
compiled with Adam's defaults and fitted for `--epochs` on a class-balanced fraction of the training labels
(`kssl.eval.label_subset_index`, the linear probe's subsets), then scored on the test set. It is measured
with the encoder's raw features (`standardize=False`, what `kssl.zoo.load` returned before presets carried
feature statistics) and with the standardised features `kssl.zoo.load` now returns; the linear probe
(`kssl.eval.label_fractions`: L-BFGS logistic regression on standardised features) is the reference.
"""

import json
import os

from absl import app, flags

flags.DEFINE_string("entry", "simclr_convnet_fmnist", "Zoo entry (a name or a preset directory).")
flags.DEFINE_string("dataset", "fashion_mnist", "Labelled data.")
flags.DEFINE_list("fractions", ["0.01", "0.1"], "Label fractions.")
flags.DEFINE_integer("epochs", 5, "Epochs of the Keras classifier.")
flags.DEFINE_integer("seed", 0, "Label subsets and weight initialisation.")
flags.DEFINE_string("out", "out/bench/zoo_classifier.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def keras_classifier(entry, train, test, index, standardize, epochs, seed, num_classes):
    import keras

    import kssl

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([kssl.zoo.load(entry, trainable=False, standardize=standardize),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.float_images()[index], train.labels[index], epochs=epochs, verbose=0)
    return float(model.evaluate(test.float_images(), test.labels, verbose=0)[1])


def main(argv):
    del argv
    import kssl

    data = kssl.datasets.load(FLAGS.dataset)
    fractions = [float(f) for f in FLAGS.fractions]
    probe = kssl.eval.label_fractions(kssl.zoo.load(FLAGS.entry, trainable=False, standardize=False), data.train,
                                      data.test, fractions=fractions, seed=FLAGS.seed)
    rows = {}
    for fraction in fractions:
        index = kssl.eval.label_subset_index(data.train.labels, fraction, seed=FLAGS.seed)
        rows[fraction] = {"labels": len(index), "linear_probe": probe[fraction]["linear"]}
        for name, standardize in (("keras_raw_features", False), ("keras_standardized", True)):
            rows[fraction][name] = keras_classifier(FLAGS.entry, data.train, data.test, index, standardize,
                                                    FLAGS.epochs, FLAGS.seed, data.num_classes)
        print(fraction, rows[fraction], flush=True)
    result = {"entry": FLAGS.entry, "dataset": FLAGS.dataset, "epochs": FLAGS.epochs, "seed": FLAGS.seed,
              "command": "python tools/bench/zoo_classifier.py " + " ".join(
                  f"--{k} {v}" for k, v in (("entry", FLAGS.entry), ("epochs", FLAGS.epochs))),
              "rows": {str(f): row for f, row in rows.items()}}
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    kssl.files.write_text_atomic(FLAGS.out, json.dumps(result, indent=2) + "\n")
    print("| labels | Sequential([encoder, Dense]), raw features | same, standardised (default) | linear probe |")
    print("|---|---|---|---|")
    for fraction, row in rows.items():
        print(f"| {fraction:.0%} ({row['labels']}) | {row['keras_raw_features']:.4f} | {row['keras_standardized']:.4f} "
              f"| {row['linear_probe']:.4f} |")


if __name__ == "__main__":
    app.run(main)
