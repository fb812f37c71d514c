"""SimCLR on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, save and reload the preset.

    python examples/simclr_fashion_mnist.py --epochs 2 --widths 32,64,256 --out out/demo   # what `make demo` runs

Prints one table (linear probe and kNN accuracy on the test set) for raw pixels, the same encoder at
its random initialisation, and the SimCLR encoder; writes it to OUT/results.json; saves the preset
to OUT/ and checks that the reloaded encoder gives identical features. Re-running with the same OUT
resumes an interrupted training run from OUT/backup/.
"""

from absl import app

import common

FLAGS = common.FLAGS
SPEC = common.define_flags("simclr")  # --temperature 0.2, --projection_dim 64, ... (the registry recipe)


def main(argv):
    del argv
    import numpy as np

    import kssl

    run, _ = common.main("simclr", title="SimCLR")
    reloaded = kssl.zoo.load(FLAGS.out)
    images = run.data.data.test.float_images()[:512]
    same = np.array_equal(reloaded.predict(images, verbose=0), run.model.encoder.predict(images, verbose=0))
    print(f"preset saved to {FLAGS.out}/ and reloaded: features identical = {same}")
    if not same:
        raise SystemExit("reloaded preset gives different features")


if __name__ == "__main__":
    app.run(main)
