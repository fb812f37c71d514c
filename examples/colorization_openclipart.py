"""Colorization on Open Clip Art (32x32 colour clip art, 22 categories), end to end: pretrain with
model.fit, evaluate category classification, draw a grid.

    python examples/colorization_openclipart.py --epochs 10 --out out/colorization
    python examples/colorization_openclipart.py --head regression --out out/colorization_l2

Needs `apt-get install openclipart-png` (see kssl.datasets). Prints one table (linear probe and kNN
accuracy over the 22 categories, on a seeded 20% per-category test split) for: the L-channel encoder at
its random initialisation, after colorization, and (unless --nosimclr) a SimCLR encoder of the same
convnet on RGB trained with the same budget on the same images. Writes OUT/results.json and
OUT/grid.png: rows of grey inputs (L only), the originals, and the colourised predictions.
"""

import json
import os

from absl import app, flags

flags.DEFINE_integer("epochs", 2, "Pretraining epochs (each method).")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
flags.DEFINE_enum("head", "classification", ["classification", "regression"], "Colorization head.")
flags.DEFINE_bool("rebalance", True, "Class rebalancing by ab-bin rarity (classification head).")
flags.DEFINE_bool("simclr", True, "Also train SimCLR on the same images with the same budget.")
flags.DEFINE_integer("image_size", 32, "Image side.")
flags.DEFINE_list("widths", ["32", "64", "128"], "Filters per stage of the convnet encoder.")
flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("out", "out/colorization", "Output directory (results.json, grid.png, backup/).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras
    import numpy as np

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("openclipart", image_size=FLAGS.image_size, seed=FLAGS.seed)
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train
    widths = [int(w) for w in FLAGS.widths]
    size = FLAGS.image_size

    encoder = kssl.backbones.convnet((size, size, 1), widths=widths)
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())  # the starting point, kept for comparison
    class_weights = None
    if FLAGS.head == "classification" and FLAGS.rebalance:
        ab = np.asarray(kssl.color.rgb_to_lab(train.float_images()))[..., 1:]
        class_weights = kssl.color.rebalancing_weights(kssl.color.bin_prior(ab, kssl.color.ab_bins()))
    model = kssl.methods.Colorization(encoder, head=FLAGS.head, class_weights=class_weights)
    history, train_seconds = kssl.training.pretrain(
        model, train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed), FLAGS.epochs,
        learning_rate=FLAGS.learning_rate, out=os.path.join(FLAGS.out, "colorization"),
    )
    name = "colorization" if FLAGS.head == "classification" else "colorization_regression"
    encoders = {"random_init": model.rgb_encoder_of(random_encoder), name: model.rgb_encoder()}
    seconds = {name: round(train_seconds, 1)}

    if FLAGS.simclr:
        simclr = kssl.methods.SimCLR(
            kssl.backbones.convnet((size, size, 3), widths=widths, name="simclr_convnet"), projection_dim=64,
            temperature=0.2,
            augment=kssl.augment.simclr_views(size, channels=3, crop_scale=(0.25, 1.0), blur_prob=0.0, seed=FLAGS.seed),
        )
        _, seconds["simclr"] = kssl.training.pretrain(
            simclr, train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed), FLAGS.epochs,
            learning_rate=FLAGS.learning_rate, out=os.path.join(FLAGS.out, "simclr"),
        )
        encoders["simclr"] = simclr.encoder

    results = kssl.eval.compare(encoders, data.train, data.test)
    print(f"\nOpen Clip Art category accuracy ({data.num_classes} classes, {FLAGS.epochs} epochs, {seconds} s)")
    print(kssl.eval.markdown_table(results))

    grid = kssl.eval.image_grid(model.reconstruct(data.test.float_images()[:10]), count=10)
    print("grid:", kssl.eval.write_png(os.path.join(FLAGS.out, "grid.png"), grid, scale=3))
    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(train),
           "test_examples": len(data.test), "head": FLAGS.head, "rebalance": FLAGS.rebalance,
           "train_seconds": seconds, "final_loss": float(history.history["loss"][-1]),
           "majority_class": float(np.mean(data.test.labels == np.bincount(data.train.labels).argmax()))}
    with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
        json.dump({**results, "run": run}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
