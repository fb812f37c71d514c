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

from absl import app, flags

import common

common.define_flags("exemplar", crop_scale_min=0.2)
flags.DEFINE_integer("exemplars", 8000, "Number of seed images (surrogate classes); at most the training set.")
flags.DEFINE_integer("views", 2, "Augmented views of each exemplar per step.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras
    import numpy as np

    import kssl

    data, train, encoder, random_encoder = common.setup()
    count = min(FLAGS.exemplars, len(train))
    seeds = train.take(count, seed=FLAGS.seed + 1).images
    ids = np.arange(len(train)) % count  # cycle the exemplars: one epoch = len(train) examples
    exemplar_data = kssl.datasets.Split(seeds[ids], ids)

    augment = keras.Sequential([
        common.views(data),
        keras.layers.RandomRotation(20 / 360, fill_mode="constant", seed=FLAGS.seed),
    ], name="exemplar_views")
    model = kssl.methods.Exemplar(encoder, num_exemplars=count, augment=augment, views=FLAGS.views)
    history, seconds = kssl.training.pretrain(model, common.batches(exemplar_data, labelled=True), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    common.report(f"Exemplar CNN, {count} exemplars", data, {"random_init": random_encoder, "exemplar": model.encoder},
                  history, seconds, run_extra={"exemplars": count, "views": FLAGS.views})


if __name__ == "__main__":
    app.run(main)
