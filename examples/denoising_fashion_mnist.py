"""Denoising autoencoder on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/denoising_fashion_mnist.py --epochs 2 --out out/denoising

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after denoising pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of corrupted inputs, clean targets and the model's reconstructions of test images.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("denoising")  # --corruption masking, --noise_level 0.5, --loss mse, ... (the registry recipe)


def main(argv):
    del argv
    common.main("denoising", title="denoising", grid=True,
                run_extra={"corruption": FLAGS.corruption, "noise_level": FLAGS.noise_level, "loss": FLAGS.loss})


if __name__ == "__main__":
    app.run(main)
