"""BYOL on Fashion-MNIST with model.fit: online predictor against a momentum target, no negatives.

    python examples/byol_fashion_mnist.py --out out/byol            # the README row (standard budget)

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The momentum
rises from --tau_base 0.99 to 1 on BYOL's cosine schedule over the run's steps (the paper's 0.996 is
tuned for 300+ epochs of ImageNet).
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("byol")  # --tau_base 0.99, --projection_dim 64, --hidden_dim 256, ... (the registry recipe)


def main(argv):
    del argv
    common.main("byol", title="BYOL")


if __name__ == "__main__":
    app.run(main)
