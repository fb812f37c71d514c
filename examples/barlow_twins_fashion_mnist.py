"""Barlow Twins on Fashion-MNIST with model.fit: the two views' cross-correlation pulled to the identity.

    python examples/barlow_twins_fashion_mnist.py --out out/barlow_twins     # the README row (standard budget)

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare. The projector
is 3 layers of --projection_dim units (the paper: 8192); --lambda_ weighs the off-diagonal term.
"""

import common

if __name__ == "__main__":
    common.run("barlow_twins", title="Barlow Twins")  # --projection_dim, --hidden_dim, --lambda_, ... (the registry recipe)
