"""Triplet network with online mining on Fashion-MNIST, with model.fit.

    python examples/triplet_fashion_mnist.py --out out/triplet                              # views, batch_all
    python examples/triplet_fashion_mnist.py --pairs labels --mining semi_hard --out out/triplet_labels

With --pairs views the two augmented views of an image are anchor and positive and every other image is
a negative (no labels); with --pairs labels same-class images are positives (supervised metric
learning, so its row is not self-supervised). Reports Recall@1 on the test set as well.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("triplet")  # --pairs, --mining batch_all|batch_hard|semi_hard, --distance, --margin 0.2, ... (the registry recipe)


def main(argv):
    del argv
    name = "triplet" if FLAGS.pairs == "views" else "triplet_labels"
    common.main("triplet", key=name, title=f"Triplet ({FLAGS.pairs}, {FLAGS.mining})", recall=True)


if __name__ == "__main__":
    app.run(main)
