"""Jigsaw puzzles on Fashion-MNIST: pretrain with model.fit, then probe the tile encoder on whole images.

    python examples/jigsaw_fashion_mnist.py --epochs 2 --out out/jigsaw

Geometry: Fashion-MNIST is 28x28, too small for nine useful tiles, so the model first upsamples each
image 2x (a Resizing layer as `augment`, inside the train step) to 56x56 and cuts a 3x3 grid of
14x14 tiles, 2 pixels apart and jittered by up to 2 pixels (cells of 18: a 54x54 grid placed at a
random offset in the 56x56 image). The tile encoder is `kssl.backbones.convnet` built for 14x14
tiles (14 -> 7 -> 3 after its two max-pools, so every 3x3 kernel is trained). For the probe the same
weights are applied to whole images at the training scale: each 28x28 test image is upsampled to
56x56 and fed to the encoder rebuilt for that size (`kssl.pretext.with_input_shape`); random init
is probed the same way.

Prints one table (linear probe and kNN accuracy on the test set) and writes it to OUT/results.json.
Re-running with the same OUT resumes an interrupted training run from OUT/backup/.
"""

from absl import app, flags

import common

common.define_flags("jigsaw")
flags.DEFINE_integer("scale", 2, "Upsampling factor of the images before cutting tiles.")
flags.DEFINE_integer("tile_size", 14, "Tile side in (upsampled) pixels.")
flags.DEFINE_integer("gap", 2, "Smallest gap between tiles in pixels.")
flags.DEFINE_integer("jitter", 2, "Largest random offset of a tile in its cell.")
flags.DEFINE_integer("num_permutations", 100, "Size of the maximal-Hamming permutation set.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras

    import kssl

    data, train = common.load_data()
    height, width, channels = data.image_shape
    encoder = kssl.backbones.convnet(
        (FLAGS.tile_size, FLAGS.tile_size, channels), widths=[int(w) for w in FLAGS.widths],
        convs_per_stage=FLAGS.convs_per_stage,
    )
    random_encoder = kssl.pretext.whole_image_encoder(encoder, data.image_shape, FLAGS.scale)  # a copy at init
    upsample = keras.layers.Resizing(height * FLAGS.scale, width * FLAGS.scale) if FLAGS.scale != 1 else None
    model = kssl.methods.Jigsaw(
        encoder, tile_size=FLAGS.tile_size, gap=FLAGS.gap, jitter=FLAGS.jitter,
        num_permutations=FLAGS.num_permutations, augment=upsample, seed=FLAGS.seed,
    )
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    trained = kssl.pretext.whole_image_encoder(model.encoder, data.image_shape, FLAGS.scale)
    common.report("jigsaw", data, {"random_init": random_encoder, "jigsaw": trained}, history, seconds)


if __name__ == "__main__":
    app.run(main)
