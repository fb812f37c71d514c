"""MoCo v2 on Fashion-MNIST with model.fit: momentum key encoder, a queue of negatives, cosine schedule.

    python examples/moco_fashion_mnist.py --out out/moco            # the README row (standard budget)
    python examples/moco_fashion_mnist.py --version 1 --out out/moco_v1

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The paper's
momentum 0.999 is tuned for 200 epochs of ImageNet; a 2-epoch run (936 steps) uses 0.99 so the key
encoder keeps up (solo-learn and lightly do the same for short CIFAR runs).
"""

from absl import app, flags

import common

common.define_flags("moco")
flags.DEFINE_integer("version", 2, "MoCo version: 1 (linear head, t=0.07) or 2 (MLP head, t=0.2).")
flags.DEFINE_integer("queue_size", 4096, "Negatives in the queue (a multiple of the batch size).")
flags.DEFINE_float("momentum", 0.99, "Key-encoder momentum m.")
flags.DEFINE_integer("projection_dim", 64, "Size of q and k.")
flags.DEFINE_float("blur_prob", 0.0, "Gaussian blur probability (v2 uses 0.5 on ImageNet; 28 px images are already blurry).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import kssl

    data, train, encoder, random_encoder = common.setup()
    queue_size = FLAGS.queue_size - FLAGS.queue_size % FLAGS.batch_size  # tiny smoke runs use small batches
    model = kssl.methods.MoCo(
        encoder, version=FLAGS.version, projection_dim=FLAGS.projection_dim, queue_size=queue_size,
        momentum=FLAGS.momentum, augment=common.views(data, blur_prob=FLAGS.blur_prob), seed=FLAGS.seed,
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    common.report(f"MoCo v{FLAGS.version}", data, {"random_init": random_encoder, "moco": model.encoder}, history, seconds)


if __name__ == "__main__":
    app.run(main)
