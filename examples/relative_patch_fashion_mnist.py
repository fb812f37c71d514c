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

import common

if __name__ == "__main__":
    common.run("relative_patch", title="relative patch position")  # --scale 2, --patch_size 14, --gap 2, --jitter 2, --pairs_per_image 8 (the registry recipe)
