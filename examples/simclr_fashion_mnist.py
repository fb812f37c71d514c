"""SimCLR on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, save and reload the preset.

    python examples/simclr_fashion_mnist.py --epochs 2 --out out/demo     # what `make demo` runs

Prints one table (linear probe and kNN accuracy on the test set) for raw pixels, the same encoder at
its random initialisation, and the SimCLR encoder; writes it to OUT/results.json; saves the preset
to OUT/ and checks that the reloaded encoder gives identical features. Re-running with the same OUT
resumes an interrupted training run from OUT/backup/.
"""

import json
import os

from absl import app, flags

flags.DEFINE_integer("epochs", 2, "Pretraining epochs.")
flags.DEFINE_integer("batch_size", 128, "Global batch size (pairs per step).")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
flags.DEFINE_float("temperature", 0.2, "NT-Xent temperature.")
flags.DEFINE_integer("projection_dim", 64, "Projection head output size.")
flags.DEFINE_list("widths", ["32", "64", "128"], "Filters per stage of the convnet encoder.")
flags.DEFINE_integer("convs_per_stage", 1, "Convolutions per encoder stage.")
flags.DEFINE_float("crop_scale_min", 0.25, "Smallest crop area fraction.")
flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all 60000).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("out", "out/demo", "Output directory (preset, results.json, backup/).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras
    import numpy as np

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("fashion_mnist")
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train

    encoder = kssl.backbones.convnet(
        data.image_shape, widths=[int(w) for w in FLAGS.widths], convs_per_stage=FLAGS.convs_per_stage
    )
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())  # SimCLR's starting point, kept for comparison

    augment = kssl.augment.simclr_views(
        data.image_shape[0], channels=1, grayscale_policy="brightness_contrast",
        crop_scale=(FLAGS.crop_scale_min, 1.0), blur_prob=0.0, seed=FLAGS.seed,
    )
    model = kssl.methods.SimCLR(
        encoder, projection_dim=FLAGS.projection_dim, temperature=FLAGS.temperature, augment=augment
    )
    history, train_seconds = kssl.training.pretrain(
        model, train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed), FLAGS.epochs,
        learning_rate=FLAGS.learning_rate, out=FLAGS.out,
    )

    results = kssl.eval.compare(
        {"raw_pixels": None, "random_init": random_encoder, "simclr": model.encoder}, data.train, data.test
    )
    print(f"\nFashion-MNIST test accuracy ({FLAGS.epochs} epochs of SimCLR, {train_seconds:.0f} s)")
    print(kssl.eval.markdown_table(results))

    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(train),
           "train_seconds": round(train_seconds, 1), "final_loss": float(history.history["loss"][-1])}
    with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
        json.dump({**results, "run": run}, f, indent=2)
    kssl.zoo.save(model, FLAGS.out, metadata={
        "data": "fashion_mnist",
        "metrics": {"linear": results["simclr"]["linear"], "knn": results["simclr"]["knn"]},
        "command": f"python examples/simclr_fashion_mnist.py --epochs {FLAGS.epochs} --out {FLAGS.out}",
    })
    reloaded = kssl.zoo.load(FLAGS.out)
    images = data.test.float_images()[:512]
    same = np.array_equal(reloaded.predict(images, verbose=0), model.encoder.predict(images, verbose=0))
    print(f"preset saved to {FLAGS.out}/ and reloaded: features identical = {same}")
    if not same:
        raise SystemExit("reloaded preset gives different features")


if __name__ == "__main__":
    app.run(main)
