"""Exemplar CNN on Fashion-MNIST: pretrain with model.fit, then probe the encoder.

    python examples/exemplar_fashion_mnist.py --epochs 2 --out out/exemplar

`--exemplars` N training images (a random subset, seed `--seed`) are the surrogate classes: the data
yields (image, exemplar_id) with ids 0..N-1, no class labels. To train at the same step budget as the
other examples, one epoch has as many examples as the training set: the N exemplars are cycled
(60000 / 2000 = 30 passes per epoch at the defaults). Every step shows each image in `--views`
strong random views (crop 20-100% of the area, flip, brightness/contrast jitter, rotation up to
+-20 degrees), each classified as its exemplar (an N-way softmax after a 2-layer head, `--head_layers`).

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("exemplar")  # --exemplars 2000, --views 2, --head_layers 2, --crop_scale_min 0.2, ... (the registry recipe)


def main(argv):
    del argv
    common.main("exemplar", run_extra=lambda run, options: {"exemplars": run.model.num_exemplars, "views": FLAGS.views},
                title=f"Exemplar CNN, {FLAGS.exemplars} exemplars")


if __name__ == "__main__":
    app.run(main)
