"""Contrastive Predictive Coding on Fashion-MNIST images (CPC v2 layout): pretrain with model.fit, then
probe the patch encoder on whole images.

    python examples/cpc_images.py --epochs 2 --out out/cpc

Geometry: a 28x28 image is cut into a 6x6 grid of 8x8 patches, 4 pixels apart (28 = 8 + 5 * 4, so
the grid fits without padding; 32-pixel images give the paper's 7x7). Each patch goes through the same
convnet (`--widths`; 8 -> 4 -> 2 after its two max-pools) to a vector z; a causal convolution runs
down the patch rows (row r sees rows <= r), and W_k predicts the row k = 1..K below
(`--prediction_steps`); InfoNCE takes every other patch vector of the batch as a negative. For the
probe, an image's features are the mean of its 36 patch vectors (`model.image_encoder()`); random
init is the same patch encoder at its initial weights, pooled the same way.

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

import common

if __name__ == "__main__":
    common.run("cpc", title="CPC")  # --patch_size 8, --patch_stride 4, --prediction_steps 3, --context_dim 128, ... (the registry recipe)
