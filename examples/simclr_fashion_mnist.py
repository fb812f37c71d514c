"""SimCLR on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, save and reload the preset.

    python examples/simclr_fashion_mnist.py --epochs 2 --raw_pixels --out out/demo     # what `make demo` runs

Prints one table (linear probe and kNN accuracy on the test set) for raw pixels, the same encoder at
its random initialisation, and the SimCLR encoder; writes it to OUT/results.json; saves the preset
to OUT/ and checks that the reloaded encoder gives identical features. Re-running with the same OUT
resumes an interrupted training run from OUT/backup/.
"""

from absl import app, flags

import common

common.define_flags("simclr")
flags.DEFINE_float("temperature", 0.2, "NT-Xent temperature.")
flags.DEFINE_integer("projection_dim", 64, "Projection head output size.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import numpy as np

    import kssl

    data, train, encoder, random_encoder = common.setup()
    model = kssl.methods.SimCLR(
        encoder, projection_dim=FLAGS.projection_dim, temperature=FLAGS.temperature, augment=common.views(data)
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    rows = common.report("SimCLR", data, {"random_init": random_encoder, "simclr": model.encoder}, history, seconds)

    kssl.zoo.save(model, FLAGS.out, metadata={
        "data": "fashion_mnist",
        "metrics": {"linear": rows["simclr"]["linear"], "knn": rows["simclr"]["knn"]},
        "command": f"python examples/simclr_fashion_mnist.py --epochs {FLAGS.epochs} --out {FLAGS.out}",
        "history": history.history,  # training curves for `kssl eval report`
    })
    reloaded = kssl.zoo.load(FLAGS.out)
    images = data.test.float_images()[:512]
    same = np.array_equal(reloaded.predict(images, verbose=0), model.encoder.predict(images, verbose=0))
    print(f"preset saved to {FLAGS.out}/ and reloaded: features identical = {same}")
    if not same:
        raise SystemExit("reloaded preset gives different features")


if __name__ == "__main__":
    app.run(main)
