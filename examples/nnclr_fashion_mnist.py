"""NNCLR on Fashion-MNIST with model.fit: nearest-neighbour positives from a support set of past projections.

    python examples/nnclr_fashion_mnist.py --out out/nnclr            # the standard budget

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare.
"""

import common

if __name__ == "__main__":
    common.run("nnclr")  # --queue_size, --temperature, ... (the registry recipe)
