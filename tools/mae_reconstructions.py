"""The reconstruction grid of a trained MAE preset: masked test images, the images, the reconstructions.

    python tools/mae_reconstructions.py out/mae --out docs/images/mae_fashion_mnist.png

Rows: the test images with their masked patches grey (75 %), the images, and the decoder's pixels for the
masked patches pasted among the visible ones (normalised-pixel predictions shown with each patch's true
mean and standard deviation, as the paper's figures). Each image gets a fresh random mask (`--seed`).
"""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("preset", help="a preset directory written by `kssl pretrain mae`")
    parser.add_argument("--out", default="docs/images/mae_fashion_mnist.png", help="PNG to write")
    parser.add_argument("--dataset", default=None, help="default: the dataset the preset was trained on")
    parser.add_argument("--count", type=int, default=8, help="test images shown")
    parser.add_argument("--scale", type=int, default=3, help="each pixel drawn scale x scale")
    parser.add_argument("--seed", type=int, default=0, help="seed of the masks")
    args = parser.parse_args(argv)

    import keras

    import kssl
    from kssl.methods import registry

    model = kssl.zoo.load(args.preset, include_head=True)
    if not isinstance(model, kssl.methods.MAE):
        raise SystemExit(f"{args.preset} holds a {type(model).__name__}, not an MAE preset.")
    dataset = args.dataset or kssl.zoo.read_metadata(args.preset).get("data", "fashion_mnist")
    data = registry.load_data(registry.get("mae"), dataset)
    keras.utils.set_random_seed(args.seed)
    model.seed_generator = keras.random.SeedGenerator(args.seed)
    grid = kssl.eval.image_grid(model.reconstruct(data.data.test.float_images()[:args.count]), count=args.count)
    print(kssl.eval.write_png(args.out, grid, scale=args.scale))


if __name__ == "__main__":
    main()
