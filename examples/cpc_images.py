"""Contrastive Predictive Coding on Fashion-MNIST images (CPC v2 layout): pretrain with model.fit, then
probe the patch encoder on whole images.

    python examples/cpc_images.py --epochs 2 --out out/cpc

Geometry: a 28x28 image is cut into a 6x6 grid of 8x8 patches, 4 pixels apart (28 = 8 + 5 * 4, so
the grid fits without padding; 32-pixel images give the paper's 7x7). Each patch goes through the same
convnet (`--widths`; 8 -> 4 -> 2 after its two max-pools) to a vector z; a causal convolution runs
down the patch rows (row r sees rows <= r), and W_k predicts the row k = 1..K below
(`--prediction_steps`); InfoNCE takes every other patch vector of the batch as a negative. For the
probe, an image's features are the mean of its 36 patch vectors (`model.image_encoder()`); random
init is the same patch encoder at its initial weights, pooled the same way.

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

from absl import app, flags

import common

common.define_flags("cpc")
flags.DEFINE_integer("patch_size", 8, "Patch side in pixels.")
flags.DEFINE_integer("patch_stride", 4, "Distance between neighbouring patches in pixels.")
flags.DEFINE_integer("prediction_steps", 3, "K: patch rows predicted below each row.")
flags.DEFINE_integer("context_dim", 128, "Width of the context c.")
flags.DEFINE_integer("context_layers", 2, "Causal convolution layers of the context.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    data, train = common.load_data()
    channels = data.image_shape[-1]
    encoder = kssl.backbones.convnet((FLAGS.patch_size, FLAGS.patch_size, channels),
                                     widths=[int(w) for w in FLAGS.widths], convs_per_stage=FLAGS.convs_per_stage)
    initial = keras.models.clone_model(encoder)
    initial.set_weights(encoder.get_weights())  # the starting point, kept for the random-init row
    model = kssl.methods.CPC(
        encoder, image_shape=data.image_shape, patch_size=FLAGS.patch_size,
        patch_stride=FLAGS.patch_stride, prediction_steps=FLAGS.prediction_steps, context_dim=FLAGS.context_dim,
        context_layers=FLAGS.context_layers,
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    random_encoder = kssl.methods.cpc.patch_grid_encoder(initial, data.image_shape, FLAGS.patch_size, FLAGS.patch_stride)
    common.report("CPC", data, {"random_init": random_encoder, "cpc": model.image_encoder()}, history, seconds)


if __name__ == "__main__":
    app.run(main)
