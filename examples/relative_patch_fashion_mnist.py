"""Relative patch position (context prediction) on Fashion-MNIST: pretrain with model.fit, then probe
the patch encoder on whole images.

    python examples/relative_patch_fashion_mnist.py --epochs 2 --out out/relative_patch

Geometry (the same as examples/jigsaw_fashion_mnist.py): each 28x28 image is upsampled 2x inside the
train step to 56x56, and a 3x3 grid of 14x14 patches, 2 pixels apart and jittered by up to 2 pixels,
is cut from it; every image gives its 8 (centre, neighbour) pairs, 8-way labelled. Fashion-MNIST is
grey, so no chromatic-aberration guard is needed (`chromatic_guard="none"`; use "drop" or "project"
for colour images). The patch encoder is `kssl.backbones.convnet` built for 14x14 patches. For the probe the same
weights are applied to whole images at the training scale: each 28x28 test image is upsampled to
56x56 and fed to the encoder rebuilt for that size (`kssl.pretext.with_input_shape`); random init
is probed the same way.

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

from absl import app, flags

import common

common.define_flags("relative_patch")
flags.DEFINE_integer("scale", 2, "Upsampling factor of the images before cutting patches.")
flags.DEFINE_integer("patch_size", 14, "Patch side in (upsampled) pixels.")
flags.DEFINE_integer("gap", 2, "Smallest gap between patches in pixels.")
flags.DEFINE_integer("jitter", 2, "Largest random offset of a patch in its cell.")
flags.DEFINE_integer("pairs_per_image", 8, "8: every neighbour with the centre; 1: one random neighbour.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    data, train = common.load_data()
    height, width, channels = data.image_shape
    encoder = kssl.backbones.convnet(
        (FLAGS.patch_size, FLAGS.patch_size, channels), widths=[int(w) for w in FLAGS.widths],
        convs_per_stage=FLAGS.convs_per_stage,
    )
    random_encoder = kssl.pretext.whole_image_encoder(encoder, data.image_shape, FLAGS.scale)  # a copy at init
    upsample = keras.layers.Resizing(height * FLAGS.scale, width * FLAGS.scale) if FLAGS.scale != 1 else None
    model = kssl.methods.RelativePatchPosition(
        encoder, patch_size=FLAGS.patch_size, gap=FLAGS.gap, jitter=FLAGS.jitter,
        pairs_per_image=FLAGS.pairs_per_image, chromatic_guard="none", augment=upsample, seed=FLAGS.seed,
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    trained = kssl.pretext.whole_image_encoder(model.encoder, data.image_shape, FLAGS.scale)
    common.report("relative patch position", data, {"random_init": random_encoder, "relative_patch": trained}, history, seconds)


if __name__ == "__main__":
    app.run(main)
