"""Siamese network with the margin contrastive loss on Fashion-MNIST, with model.fit.

    python examples/siamese_fashion_mnist.py --out out/siamese                    # self-supervised: views
    python examples/siamese_fashion_mnist.py --pairs labels --out out/siamese_labels   # metric learning

With --pairs views two augmented views of an image are the similar pair and any other image is
dissimilar (no labels); with --pairs labels same-class images are similar (supervised metric
learning, so its row is not self-supervised). Reports Recall@1 on the test set as well.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("siamese")  # --pairs views|labels, --margin 1.0, --embedding_dim 64, ... (the registry recipe)


def main(argv):
    del argv
    name = "siamese" if FLAGS.pairs == "views" else "siamese_labels"
    common.main("siamese", key=name, title=f"Siamese ({FLAGS.pairs})", recall=True)


if __name__ == "__main__":
    app.run(main)
