"""VICReg on Fashion-MNIST with model.fit: invariance, a variance hinge and decorrelation of two views.

    python examples/vicreg_fashion_mnist.py --out out/vicreg     # the README row (standard budget)

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The expander
is 3 layers of --projection_dim units (the paper: 8192); the loss weights are the paper's 25 / 25 / 1.
"""

import common

if __name__ == "__main__":
    common.run("vicreg", title="VICReg")  # --projection_dim, --hidden_dim, --invariance_weight, ... (the registry recipe)
