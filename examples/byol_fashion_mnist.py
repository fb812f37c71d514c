"""BYOL on Fashion-MNIST with model.fit: online predictor against a momentum target, no negatives.

    python examples/byol_fashion_mnist.py --out out/byol            # the README row (standard budget)

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The momentum
rises from --tau_base 0.99 to 1 on BYOL's cosine schedule over the run's steps (the paper's 0.996 is
tuned for 300+ epochs of ImageNet).
"""

import common

if __name__ == "__main__":
    common.run("byol", title="BYOL")  # --tau_base 0.99, --projection_dim 64, --hidden_dim 256, ... (the registry recipe)
