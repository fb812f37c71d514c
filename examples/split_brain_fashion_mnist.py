"""Split-brain autoencoder on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/split_brain_fashion_mnist.py --epochs 2 --out out/split_brain

Grey images have a single channel, so the split is spatial (`split="top_bottom"`): one sub-network sees
the top half and predicts the bottom, the other the reverse; the representation concatenates both.
Each sub-network is the convnet with half the widths of the other examples' (16, 32, 64 by default), so
the concatenated features have the same size (128) and the pair about the same compute.

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after split-brain pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of top halves (sub-network 1's input), the images, and the top half with the predicted bottom.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("split_brain")  # --widths 16,32,64 per sub-network (64 + 64 = 128-d features), --split top_bottom


def main(argv):
    del argv
    common.main("split_brain", title="split-brain", grid=True,
                run_extra={"split": FLAGS.split, "widths": [int(w) for w in FLAGS.widths]})


if __name__ == "__main__":
    app.run(main)
