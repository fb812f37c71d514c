"""Exemplar CNN on Fashion-MNIST: pretrain with model.fit, then probe the encoder.

    python examples/exemplar_fashion_mnist.py --epochs 2 --out out/exemplar

`--exemplars` N training images (a random subset, seed `--seed`) are the surrogate classes: the data
yields (image, exemplar_id) with ids 0..N-1, no class labels. To train at the same step budget as the
other examples, one epoch has as many examples as the training set: the N exemplars are cycled
(60000 / 8000 = 7.5 passes per epoch at the defaults). Every step shows each image in `--views`
strong random views (crop 20-100% of the area, flip, brightness/contrast jitter, rotation up to
+-20 degrees), each classified as its exemplar (an N-way softmax head).

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

import json
import os
import sys

from absl import app, flags

flags.DEFINE_integer("epochs", 2, "Pretraining epochs (of len(training set) examples each).")
flags.DEFINE_integer("batch_size", 128, "Global batch size (exemplar images per step).")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
flags.DEFINE_list("widths", ["32", "64", "128"], "Filters per stage of the convnet encoder.")
flags.DEFINE_integer("convs_per_stage", 1, "Convolutions per encoder stage.")
flags.DEFINE_integer("exemplars", 8000, "Number of seed images (surrogate classes); at most the training set.")
flags.DEFINE_integer("views", 2, "Augmented views of each exemplar per step.")
flags.DEFINE_float("crop_scale_min", 0.2, "Smallest crop area fraction.")
flags.DEFINE_bool("raw_pixels", False, "Also evaluate raw pixels (0.8349 / 0.7885 in the README).")
flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all 60000).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("out", "out/exemplar", "Output directory (results.json, backup/).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras
    import numpy as np

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("fashion_mnist")
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train
    count = min(FLAGS.exemplars, len(train))
    seeds = train.take(count, seed=FLAGS.seed + 1).images
    ids = np.arange(len(train)) % count  # cycle the exemplars: one epoch = len(train) examples
    exemplar_data = kssl.datasets.Split(seeds[ids], ids)

    encoder = kssl.backbones.convnet(
        data.image_shape, widths=[int(w) for w in FLAGS.widths], convs_per_stage=FLAGS.convs_per_stage
    )
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())  # the starting point, kept for comparison

    augment = keras.Sequential([
        kssl.augment.simclr_views(
            data.image_shape[0], channels=1, grayscale_policy="brightness_contrast",
            crop_scale=(FLAGS.crop_scale_min, 1.0), blur_prob=0.0, seed=FLAGS.seed,
        ),
        keras.layers.RandomRotation(20 / 360, fill_mode="constant", seed=FLAGS.seed),
    ], name="exemplar_views")
    model = kssl.methods.Exemplar(encoder, num_exemplars=count, augment=augment, views=FLAGS.views)
    dataset = exemplar_data.labelled(FLAGS.batch_size, shuffle=True, seed=FLAGS.seed, drop_remainder=True)
    history, train_seconds = kssl.training.pretrain(
        model, dataset, FLAGS.epochs, learning_rate=FLAGS.learning_rate, out=FLAGS.out,
    )

    encoders = {"raw_pixels": None} if FLAGS.raw_pixels else {}
    encoders.update({"random_init": random_encoder, "exemplar": model.encoder})
    results = kssl.eval.compare(encoders, data.train, data.test)
    print(f"\nFashion-MNIST test accuracy ({FLAGS.epochs} epochs of Exemplar CNN, {count} exemplars, "
          f"{train_seconds:.0f} s)")
    print(kssl.eval.markdown_table(results))

    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(train),
           "exemplars": count, "views": FLAGS.views, "train_seconds": round(train_seconds, 1),
           "final_loss": float(history.history["loss"][-1]),
           "command": "python " + " ".join(sys.argv)}
    with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
        json.dump({**results, "run": run}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
