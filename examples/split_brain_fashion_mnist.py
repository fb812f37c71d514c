"""Split-brain autoencoder on Fashion-MNIST, end to end: pretrain with model.fit, evaluate, draw a grid.

    python examples/split_brain_fashion_mnist.py --epochs 2 --out out/split_brain

Grey images have a single channel, so the split is spatial (`split="top_bottom"`): one sub-network sees
the top half and predicts the bottom, the other the reverse; the representation concatenates both.
Each sub-network is the convnet with half the widths of the other examples' (16, 32, 64 by default), so
the concatenated features have the same size (128) and the pair about the same compute.

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after split-brain pretraining; writes it to OUT/results.json, and OUT/grid.png:
rows of top halves (sub-network 1's input), the images, and the top half with the predicted bottom.
"""

import json
import os

from absl import app, flags

flags.DEFINE_integer("epochs", 2, "Pretraining epochs.")
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
flags.DEFINE_list("widths", ["16", "32", "64"], "Filters per stage of each sub-network's convnet.")
flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all 60000).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_bool("random_init", True, "Also evaluate the encoder at its random initialisation (slow on the "
                  "full data; with the default seed and widths it is the README's random-init row).")
flags.DEFINE_string("out", "out/split_brain", "Output directory (results.json, grid.png, backup/).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("fashion_mnist")
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train

    widths = [int(w) for w in FLAGS.widths]
    model = kssl.methods.SplitBrain(
        kssl.backbones.convnet(data.image_shape, widths=widths, name="top"),
        kssl.backbones.convnet(data.image_shape, widths=widths, name="bottom"),
        split="top_bottom",
    )
    random_encoder = keras.models.clone_model(model.encoder)
    random_encoder.set_weights(model.encoder.get_weights())  # the starting point, kept for comparison
    history, train_seconds = kssl.training.pretrain(
        model, train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed), FLAGS.epochs,
        learning_rate=FLAGS.learning_rate, out=FLAGS.out,
    )

    encoders = {"random_init": random_encoder} if FLAGS.random_init else {}
    results = kssl.eval.compare({**encoders, "split_brain": model.encoder}, data.train, data.test)
    print(f"\nFashion-MNIST test accuracy ({FLAGS.epochs} epochs of split-brain, {train_seconds:.0f} s)")
    print(kssl.eval.markdown_table(results))

    grid = kssl.eval.image_grid(model.reconstruct(data.test.float_images()[:8]))
    print("grid:", kssl.eval.write_png(os.path.join(FLAGS.out, "grid.png"), grid, scale=3))
    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "train_examples": len(train),
           "split": "top_bottom", "widths": widths,
           "train_seconds": round(train_seconds, 1), "final_loss": float(history.history["loss"][-1])}
    with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
        json.dump({**results, "run": run}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
