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

import common

if __name__ == "__main__":
    common.run("jigsaw", title="jigsaw")  # --scale 2, --tile_size 14, --gap 2, --jitter 2, --num_permutations 100 (the registry recipe)
