"""MoCo v2 on Fashion-MNIST with model.fit: momentum key encoder, a queue of negatives, cosine schedule.

    python examples/moco_fashion_mnist.py --out out/moco            # the README row (standard budget)
    python examples/moco_fashion_mnist.py --version 1 --out out/moco_v1

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The paper's
momentum 0.999 is tuned for 200 epochs of ImageNet; a 2-epoch run (936 steps) uses 0.99 so the key
encoder keeps up (solo-learn and lightly do the same for short CIFAR runs).
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("moco")  # --version 2, --queue_size 4096, --momentum 0.99, ... (the registry recipe)


def main(argv):
    del argv
    common.main("moco", title=f"MoCo v{FLAGS.version}")


if __name__ == "__main__":
    app.run(main)
