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

from absl import app, flags

import common

common.define_flags("split_brain", widths=("16", "32", "64"))  # per sub-network: 64 + 64 = 128-d features
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    data, train = common.load_data()
    widths = [int(w) for w in FLAGS.widths]
    model = kssl.methods.SplitBrain(
        kssl.backbones.convnet(data.image_shape, widths=widths, name="top"),
        kssl.backbones.convnet(data.image_shape, widths=widths, name="bottom"),
        split="top_bottom",
    )
    random_encoder = keras.models.clone_model(model.encoder)
    random_encoder.set_weights(model.encoder.get_weights())  # the starting point, kept for comparison
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    common.report("split-brain", data, {"random_init": random_encoder, "split_brain": model.encoder}, history,
                  seconds, run_extra={"split": "top_bottom", "widths": widths})
    common.write_grid(model, data)


if __name__ == "__main__":
    app.run(main)
