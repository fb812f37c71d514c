"""MAE on Fashion-MNIST with model.fit: a ViT encoder sees 25 % of its 4x4 patches and a light decoder
reconstructs the (per-patch normalised) pixels of the other 75 %.

    python examples/mae_fashion_mnist.py --out out/mae            # the README row (standard budget)

Same budget as examples/simclr_fashion_mnist.py; the encoder is `kssl.backbones.vit` (4x4 patches, 49
tokens, width 128, 4 blocks) and the random-init row is that ViT untrained. MAE is known to probe
weakly with a linear classifier (the paper fine-tunes): `kssl.eval.finetune` gives the other number.
Writes OUT/grid.png: masked inputs, images, reconstructions of 8 test images.
"""

import common

if __name__ == "__main__":
    common.run("mae", title="MAE", grid=True, run_extra=lambda run, options: {  # --mask_ratio 0.75, ...
        "mask_ratio": common.FLAGS.mask_ratio, "encoder_parameters": run.model.encoder.count_params()})
