"""Context encoder (inpainting) on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/inpainting_fashion_mnist.py --epochs 2 --out out/inpainting
    python examples/inpainting_fashion_mnist.py --adversarial --out out/inpainting_adv   # + discriminator

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after inpainting pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of masked inputs (hole filled with grey), the images, and the images with the hole inpainted.
"""

from absl import app, flags

import common

common.define_flags("inpainting")
flags.DEFINE_enum("mask", "random_blocks", ["central", "random_blocks", "random_region"], "Mask generator.")
flags.DEFINE_integer("mask_size", 10, "Block side in pixels (central / random blocks).")
flags.DEFINE_integer("mask_count", 3, "Random blocks per image.")
flags.DEFINE_float("mask_coverage", 0.25, "Fraction hidden by a random region.")
flags.DEFINE_bool("adversarial", False, "Add the adversarial term (lambda_rec 0.999, lambda_adv 0.001).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import kssl

    data, train, encoder, random_encoder = common.setup()
    model = kssl.methods.ContextEncoder(
        encoder, mask=FLAGS.mask, mask_size=FLAGS.mask_size, mask_count=FLAGS.mask_count,
        mask_coverage=FLAGS.mask_coverage, adversarial=FLAGS.adversarial, seed=FLAGS.seed,
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    name = "inpainting" + ("_adversarial" if FLAGS.adversarial else "")
    common.report("inpainting", data, {"random_init": random_encoder, name: model.encoder}, history, seconds,
                  run_extra={"mask": FLAGS.mask, "mask_size": FLAGS.mask_size, "mask_count": FLAGS.mask_count,
                             "adversarial": FLAGS.adversarial,
                             "final_reconstruction_loss": float(history.history["reconstruction_loss"][-1])})
    common.write_grid(model, data)


if __name__ == "__main__":
    app.run(main)
