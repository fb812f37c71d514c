"""MoCo v3 on Fashion-MNIST with model.fit: predictor on the query side, momentum keys of the global batch, no queue.

    python examples/moco_v3_fashion_mnist.py --out out/moco_v3        # the standard budget

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare.
"""

import common

if __name__ == "__main__":
    common.run("moco_v3")  # --momentum, --temperature, ... (the registry recipe)
