"""Context encoder (inpainting) on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/inpainting_fashion_mnist.py --epochs 2 --out out/inpainting
    python examples/inpainting_fashion_mnist.py --adversarial --out out/inpainting_adv   # + discriminator

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after inpainting pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of masked inputs (hole filled with grey), the images, and the images with the hole inpainted.
"""

import json
import os

from absl import app, flags

flags.DEFINE_integer("epochs", 2, "Pretraining epochs.")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
flags.DEFINE_enum("mask", "random_blocks", ["central", "random_blocks", "random_region"], "Mask generator.")
flags.DEFINE_integer("mask_size", 10, "Block side in pixels (central / random blocks).")
flags.DEFINE_integer("mask_count", 3, "Random blocks per image.")
flags.DEFINE_float("mask_coverage", 0.25, "Fraction hidden by a random region.")
flags.DEFINE_bool("adversarial", False, "Add the adversarial term (lambda_rec 0.999, lambda_adv 0.001).")
flags.DEFINE_list("widths", ["32", "64", "128"], "Filters per stage of the convnet encoder.")
flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all 60000).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_bool("random_init", True, "Also evaluate the encoder at its random initialisation (slow on the "
                  "full data; with the default seed and widths it is the README's random-init row).")
flags.DEFINE_string("out", "out/inpainting", "Output directory (results.json, grid.png, backup/).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("fashion_mnist")
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train

    encoder = kssl.backbones.convnet(data.image_shape, widths=[int(w) for w in FLAGS.widths])
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())  # the starting point, kept for comparison

    model = kssl.methods.ContextEncoder(
        encoder, mask=FLAGS.mask, mask_size=FLAGS.mask_size, mask_count=FLAGS.mask_count,
        mask_coverage=FLAGS.mask_coverage, adversarial=FLAGS.adversarial, seed=FLAGS.seed,
    )
    history, train_seconds = kssl.training.pretrain(
        model, train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed), FLAGS.epochs,
        learning_rate=FLAGS.learning_rate, out=FLAGS.out,
    )

    encoders = {"random_init": random_encoder} if FLAGS.random_init else {}
    results = kssl.eval.compare({**encoders, "inpainting" + ("_adversarial" if FLAGS.adversarial else ""): model.encoder}, data.train, data.test)
    print(f"\nFashion-MNIST test accuracy ({FLAGS.epochs} epochs of inpainting, {train_seconds:.0f} s)")
    print(kssl.eval.markdown_table(results))

    grid = kssl.eval.image_grid(model.reconstruct(data.test.float_images()[:8]))
    print("grid:", kssl.eval.write_png(os.path.join(FLAGS.out, "grid.png"), grid, scale=3))
    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(train),
           "mask": FLAGS.mask, "mask_size": FLAGS.mask_size, "mask_count": FLAGS.mask_count,
           "adversarial": FLAGS.adversarial,
           "train_seconds": round(train_seconds, 1), "final_loss": float(history.history["loss"][-1]),
           "final_reconstruction_loss": float(history.history["reconstruction_loss"][-1])}
    with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
        json.dump({**results, "run": run}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
