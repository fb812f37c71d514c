"""SimCLR train-step time against a plain supervised step of the same encoder on the same 2N images.

    python tools/bench/step_overhead.py --batch_size 256 --rounds 5 --out out/bench/step_overhead.json

Both steps run on one device through `model.fit` on an in-memory, repeating tf.data pipeline. The supervised step is encoder +
linear classifier + cross-entropy on the 2N images that SimCLR's two views make; SimCLR adds view
augmentation, the projection head and NT-Xent. Rounds alternate between the two (the machine is
noisy) and the ratio of the medians is reported.
"""

import json
import os

from absl import app, flags

from timing import alternating_step_times, fit_steps, supervised_steps

flags.DEFINE_integer("batch_size", 256, "N: source images per SimCLR step (2N views).")
flags.DEFINE_integer("rounds", 5, "Alternating measurement rounds.")
flags.DEFINE_integer("steps", 5, "Steps per round.")
flags.DEFINE_list("widths", ["32", "64", "128"], "Convnet encoder widths (the demo's encoder).")
flags.DEFINE_string("out", "out/bench/step_overhead.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras
    import numpy as np

    import kssl

    keras.utils.set_random_seed(0)
    n = FLAGS.batch_size
    widths = [int(w) for w in FLAGS.widths]
    rng = np.random.default_rng(0)
    images = rng.random((n, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, 2 * n)

    simclr = kssl.methods.SimCLR(
        kssl.backbones.convnet((28, 28, 1), widths=widths),
        projection_dim=64,
        augment=kssl.augment.simclr_views(28, channels=1, grayscale_policy="brightness_contrast", blur_prob=0.0),
    )
    simclr.compile(optimizer=keras.optimizers.AdamW(1e-3))
    import tensorflow as tf

    unlabelled = tf.data.Dataset.from_tensors(images).cache().repeat()
    steps = {
        "simclr": fit_steps(simclr, unlabelled),
        "supervised": supervised_steps(kssl.backbones.convnet((28, 28, 1), widths=widths), images, labels),
    }
    median, times = alternating_step_times(steps, FLAGS.rounds, FLAGS.steps)
    ratio = median["simclr"] / median["supervised"]
    print(f"\nTrain step, {2 * n} images of 28x28x1, convnet{tuple(widths)}, one CPU device")
    print("| step       | median s/step | images/s |\n|------------|---------------|----------|")
    for name in steps:
        print(f"| {name:<10} | {median[name]:13.4f} | {2 * n / median[name]:8.0f} |")
    print(f"SimCLR / supervised step time: {ratio:.3f} (goal <= 1.10)")
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump({"batch_size": n, "widths": widths, "rounds": FLAGS.rounds, "steps": FLAGS.steps,
                   "seconds_per_step": times, "median": median, "ratio": ratio}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
