"""DINO on Fashion-MNIST with model.fit: a student matches a momentum teacher's centred, sharpened
outputs across multi-crop views.

    python examples/dino_fashion_mnist.py --out out/dino                    # the README row (convnet)
    python examples/dino_fashion_mnist.py --out out/dino_vit --backbone vit # on the ViT

Same budget and encoder as examples/simclr_fashion_mnist.py, so the rows compare. Multi-crop scaled to
28 px images: 2 global 28x28 views of 25-100 % of the image and `--num_small` (2) 16x16 local views of
8-25 % (the paper: 2 x 224 px and 10 x 96 px). The head is smaller than the paper's (K = 1024 outputs,
not 65536); teacher temperature 0.04 -> 0.07 over the first epoch, the head's last layer frozen in it,
teacher momentum 0.99 -> 1 (cosine), centre momentum 0.9.
"""

import common

if __name__ == "__main__":
    common.run("dino", title="DINO", run_extra=lambda run, options: {  # --output_dim 1024, --num_small 2, ...
        "output_dim": common.FLAGS.output_dim, "num_small": common.FLAGS.num_small,
        "backbone": common.FLAGS.backbone})
