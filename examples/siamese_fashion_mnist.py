"""Siamese network with the margin contrastive loss on Fashion-MNIST, with model.fit.

    python examples/siamese_fashion_mnist.py --out out/siamese                    # self-supervised: views
    python examples/siamese_fashion_mnist.py --pairs labels --out out/siamese_labels   # metric learning

With --pairs views two augmented views of an image are the similar pair and any other image is
dissimilar (no labels); with --pairs labels same-class images are similar (supervised metric
learning, so its row is not self-supervised). Reports Recall@1 on the test set as well.
"""

from absl import app, flags

import common

common.define_flags("siamese")
flags.DEFINE_enum("pairs", "views", ["views", "labels"], "Where similar pairs come from.")
flags.DEFINE_float("margin", 1.0, "Margin m (embeddings are L2-normalised: distances in [0, 2]).")
flags.DEFINE_integer("embedding_dim", 64, "Embedding size.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import kssl

    data, train, encoder, random_encoder = common.setup()
    model = kssl.methods.Siamese(
        encoder, embedding_dim=FLAGS.embedding_dim, margin=FLAGS.margin, pairs=FLAGS.pairs, augment=common.views(data)
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train, labelled=FLAGS.pairs == "labels"),
                                              FLAGS.epochs, learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    name = "siamese" if FLAGS.pairs == "views" else "siamese_labels"
    common.report(f"Siamese ({FLAGS.pairs})", data, {"random_init": random_encoder, name: model.encoder},
                  history, seconds, recall=True)


if __name__ == "__main__":
    app.run(main)
