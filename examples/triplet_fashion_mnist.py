"""Triplet network with online mining on Fashion-MNIST, with model.fit.

    python examples/triplet_fashion_mnist.py --out out/triplet                              # views, batch_hard
    python examples/triplet_fashion_mnist.py --pairs labels --mining semi_hard --out out/triplet_labels

With --pairs views the two augmented views of an image are anchor and positive and every other image is
a negative (no labels); with --pairs labels same-class images are positives (supervised metric
learning, so its row is not self-supervised). Reports Recall@1 on the test set as well.
"""

from absl import app, flags

import common

common.define_flags("triplet")
flags.DEFINE_enum("pairs", "views", ["views", "labels"], "Where positives come from.")
flags.DEFINE_enum("mining", "batch_hard", ["batch_all", "batch_hard", "semi_hard"], "Online mining strategy.")
flags.DEFINE_enum("distance", "squared_euclidean", ["squared_euclidean", "euclidean", "cosine"], "Distance.")
flags.DEFINE_float("margin", 0.2, "Triplet margin.")
flags.DEFINE_integer("embedding_dim", 64, "Embedding size.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import kssl

    data, train, encoder, random_encoder = common.setup()
    model = kssl.methods.Triplet(
        encoder, embedding_dim=FLAGS.embedding_dim, margin=FLAGS.margin, mining=FLAGS.mining,
        distance=FLAGS.distance, pairs=FLAGS.pairs, augment=common.views(data),
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train, labelled=FLAGS.pairs == "labels"),
                                              FLAGS.epochs, learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    name = "triplet" if FLAGS.pairs == "views" else "triplet_labels"
    common.report(f"Triplet ({FLAGS.pairs}, {FLAGS.mining})", data, {"random_init": random_encoder, name: model.encoder},
                  history, seconds, recall=True)


if __name__ == "__main__":
    app.run(main)
