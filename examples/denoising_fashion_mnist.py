"""Denoising autoencoder on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/denoising_fashion_mnist.py --epochs 2 --out out/denoising

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after denoising pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of corrupted inputs, clean targets and the model's reconstructions of test images.
"""

from absl import app, flags

import common

common.define_flags("denoising")
flags.DEFINE_enum("corruption", "masking", ["gaussian", "masking", "salt_and_pepper"], "Corruption.")
flags.DEFINE_float("noise_level", 0.5, "Gaussian stddev, or masking / salt-and-pepper probability.")
flags.DEFINE_enum("loss", "mse", ["mse", "bce"], "Reconstruction loss.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import kssl

    data, train, encoder, random_encoder = common.setup()
    model = kssl.methods.DenoisingAutoencoder(
        encoder, corruption=FLAGS.corruption, noise_level=FLAGS.noise_level, loss=FLAGS.loss, seed=FLAGS.seed
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    common.report("denoising", data, {"random_init": random_encoder, "denoising": model.encoder}, history, seconds,
                  run_extra={"corruption": FLAGS.corruption, "noise_level": FLAGS.noise_level, "loss": FLAGS.loss})
    common.write_grid(model, data)


if __name__ == "__main__":
    app.run(main)
