"""Colorization on Open Clip Art (32x32 colour clip art, 22 categories), end to end: pretrain with
model.fit, evaluate category classification, draw a grid.

    python examples/colorization_openclipart.py --epochs 10 --out out/colorization
    python examples/colorization_openclipart.py --head regression --out out/colorization_l2

Needs `apt-get install openclipart-png` (see kssl.datasets). Prints one table (linear probe and kNN
accuracy over the 22 categories, on a seeded 20% per-category test split) for: the L-channel encoder at
its random initialisation, after colorization, and (unless --nosimclr) a SimCLR encoder of the same
convnet on RGB trained with the same budget on the same images. Writes OUT/results.json and
OUT/grid.png: rows of grey inputs (L only), the originals, and the colourised predictions, and the
colorization preset in OUT/. `--dataset synthetic_rgb` runs on a tiny generated colour set (smoke tests).
"""

import os

from absl import app, flags

import common

FLAGS = common.FLAGS
common.define_flags("colorization")  # --head classification|regression, --rebalance, --image_size 32, --widths ...
flags.DEFINE_bool("simclr", True, "Also train SimCLR on the same images with the same budget.")
flags.DEFINE_string("dataset", "openclipart", "openclipart, or synthetic_rgb (tiny, generated: smoke tests).")


def main(argv):
    del argv
    import numpy as np

    from kssl.eval import results
    from kssl.methods import registry

    spec = registry.get("colorization")
    run, options = common.train(spec, dataset=FLAGS.dataset, out=os.path.join(FLAGS.out, "colorization"))
    data = run.data.data
    name = "colorization" if FLAGS.head == "classification" else "colorization_regression"
    encoders = {"random_init": run.baseline() if FLAGS.random_init else None, name: run.encoder()}
    seconds = {name: round(run.seconds, 1)}
    if FLAGS.simclr:  # the same convnet on RGB, the same budget, images and seed
        simclr = registry.get("simclr")
        simclr_options = simclr.with_options(widths=options["widths"], convs_per_stage=options["convs_per_stage"])
        other = registry.train(simclr, run.data, simclr_options, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                               learning_rate=FLAGS.learning_rate, seed=FLAGS.seed,
                               out=os.path.join(FLAGS.out, "simclr"))
        encoders["simclr"], seconds["simclr"] = other.encoder(), round(other.seconds, 1)

    rows = results.image_rows(encoders, data.train, data.test, raw_pixels=FLAGS.raw_pixels)
    settings = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(run.data.train),
                "test_examples": len(data.test), "head": FLAGS.head, "rebalance": FLAGS.rebalance,
                "train_seconds": seconds, "final_loss": float(run.history.history["loss"][-1]),
                "majority_class": float(np.mean(data.test.labels == np.bincount(data.train.labels).argmax())),
                "command": common.command()}
    results.write(FLAGS.out, rows, settings, title=f"Open Clip Art category accuracy ({data.num_classes} classes, "
                                                   f"{FLAGS.epochs} epochs, {seconds} s)")
    common.write_grid(run.model, data, count=10)
    common.save(run, name, rows)


if __name__ == "__main__":
    app.run(main)
