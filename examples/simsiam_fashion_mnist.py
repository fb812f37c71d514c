"""SimSiam on Fashion-MNIST with model.fit: stop-gradient Siamese network, no momentum, no negatives.

    python examples/simsiam_fashion_mnist.py --out out/simsiam      # the README row (standard budget)

Same budget, encoder and views as examples/simclr_fashion_mnist.py, so the rows compare.
"""

import common

if __name__ == "__main__":
    common.run("simsiam", title="SimSiam")  # --projection_dim 128, --predictor_hidden_dim 32, ... (the registry recipe)
