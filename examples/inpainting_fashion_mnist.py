"""Context encoder (inpainting) on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/inpainting_fashion_mnist.py --epochs 2 --out out/inpainting
    python examples/inpainting_fashion_mnist.py --adversarial --out out/inpainting_adv   # + discriminator

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after inpainting pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of masked inputs (hole filled with grey), the images, and the images with the hole inpainted.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("inpainting")  # --mask random_blocks, --mask_size 10, --mask_count 3, --adversarial, ... (the registry recipe)


def main(argv):
    del argv
    def extra(run, options):
        return {"mask": FLAGS.mask, "mask_size": FLAGS.mask_size, "mask_count": FLAGS.mask_count,
                "adversarial": FLAGS.adversarial,
                "final_reconstruction_loss": float(run.history.history["reconstruction_loss"][-1])}

    common.main("inpainting", key="inpainting" + ("_adversarial" if FLAGS.adversarial else ""), title="inpainting",
                grid=True, run_extra=extra)


if __name__ == "__main__":
    app.run(main)
