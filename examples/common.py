"""What every examples/*_fashion_mnist.py shares: the standard-budget flags, the data and encoder, and
the evaluation table (linear probe and kNN on the test set, next to the same encoder at its random
initialisation). Each example adds only its method; run from the repository root:

    python examples/<method>_fashion_mnist.py --out out/<method>
"""

import json
import os
import sys

from absl import flags

FLAGS = flags.FLAGS


def define_flags(method, widths=("32", "64", "128"), crop_scale_min=0.25):
    """The flags every example has, with the defaults of kssl.training.STANDARD_BUDGET."""
    flags.DEFINE_integer("epochs", 2, "Pretraining epochs.")
    flags.DEFINE_integer("batch_size", 128, "Global batch size (images per step).")
    flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (cosine decay to 0).")
    flags.DEFINE_list("widths", list(widths), "Filters per stage of the convnet encoder.")
    flags.DEFINE_integer("convs_per_stage", 1, "Convolutions per encoder stage.")
    flags.DEFINE_float("crop_scale_min", crop_scale_min, "Smallest crop area fraction of the views.")
    flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all 60000).")
    flags.DEFINE_bool("raw_pixels", False, "Also evaluate raw pixels (adds ~3 minutes).")
    flags.DEFINE_bool("random_init", True, "Also evaluate the encoder at its random initialisation (with the "
                      "default seed and widths it is the README's random-init row; slow on a busy machine).")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.DEFINE_string("out", f"out/{method}", "Output directory (results.json, backup/).")


def load_data():
    """Seeds everything, then (Fashion-MNIST, the training split: all of it or --train_examples)."""
    import keras

    import kssl

    keras.utils.set_random_seed(FLAGS.seed)
    data = kssl.datasets.load("fashion_mnist")
    train = data.train.take(FLAGS.train_examples, seed=FLAGS.seed) if FLAGS.train_examples else data.train
    return data, train


def setup():
    """(data, train split, encoder, a copy of the encoder at its initial weights)."""
    import keras

    import kssl

    data, train = load_data()
    encoder = kssl.backbones.convnet(
        data.image_shape, widths=[int(w) for w in FLAGS.widths], convs_per_stage=FLAGS.convs_per_stage
    )
    random_encoder = keras.models.clone_model(encoder)
    random_encoder.set_weights(encoder.get_weights())  # the method's starting point, kept for comparison
    return data, train, encoder, random_encoder


def views(data, **kwargs):
    """SimCLR-style views for grey Fashion-MNIST (no colour jitter; no blur unless asked)."""
    import kssl

    kwargs.setdefault("blur_prob", 0.0)
    return kssl.augment.simclr_views(
        data.image_shape[0], channels=1, grayscale_policy="brightness_contrast",
        crop_scale=(FLAGS.crop_scale_min, 1.0), seed=FLAGS.seed, **kwargs,
    )


def batches(train, labelled=False):
    """The training pipeline: shuffled full batches of images, or of (images, labels) for methods that
    learn from labels."""
    if labelled:
        return train.labelled(FLAGS.batch_size, shuffle=True, seed=FLAGS.seed, drop_remainder=True)
    return train.unlabelled(FLAGS.batch_size, seed=FLAGS.seed)


def write_grid(model, data, count=8):
    """OUT/grid.png: a reconstruction method's inputs / targets / predictions for `count` test images."""
    import kssl

    grid = kssl.eval.image_grid(model.reconstruct(data.test.float_images()[:count]))
    print("grid:", kssl.eval.write_png(os.path.join(FLAGS.out, "grid.png"), grid, scale=3))


def define_patch_flags(part):
    """Flags of the patch-based pretext tasks (jigsaw tiles, relative-position patches)."""
    flags.DEFINE_integer("scale", 2, f"Upsampling factor of the images before cutting {part}s.")
    flags.DEFINE_integer(f"{part}_size", 14, f"{part.capitalize()} side in (upsampled) pixels.")
    flags.DEFINE_integer("gap", 2, f"Smallest gap between {part}s in pixels.")
    flags.DEFINE_integer("jitter", 2, f"Largest random offset of a {part} in its cell.")


def run_patch_pretext(title, key, part_size, build):
    """Jigsaw and relative patch position: a convnet built for `part_size` patches, images upsampled
    by --scale inside the train step, `build(encoder, upsample)` -> the method; pretrain, then probe
    the patch encoder on whole (upsampled) images next to its copy at initialisation."""
    import keras

    import kssl

    data, train = load_data()
    height, width, channels = data.image_shape
    encoder = kssl.backbones.convnet((part_size, part_size, channels), widths=[int(w) for w in FLAGS.widths],
                                     convs_per_stage=FLAGS.convs_per_stage)
    random_encoder = kssl.pretext.whole_image_encoder(encoder, data.image_shape, FLAGS.scale)  # a copy at init
    upsample = keras.layers.Resizing(height * FLAGS.scale, width * FLAGS.scale) if FLAGS.scale != 1 else None
    model = build(encoder, upsample)
    history, seconds = kssl.training.pretrain(model, batches(train), FLAGS.epochs, learning_rate=FLAGS.learning_rate,
                                              out=FLAGS.out)
    trained = kssl.pretext.whole_image_encoder(model.encoder, data.image_shape, FLAGS.scale)
    report(title, data, {"random_init": random_encoder, key: trained}, history, seconds)


def report(title, data, encoders, history, train_seconds, recall=False, run_extra=None):
    """Evaluates `encoders` (name -> encoder) next to random-init (unless --norandom_init; and raw
    pixels if asked), prints the table and writes OUT/results.json with the run's settings and
    `run_extra`. Returns the rows."""
    import kssl

    candidates = {"raw_pixels": None} if FLAGS.raw_pixels else {}
    candidates.update({name: e for name, e in encoders.items() if name != "random_init" or FLAGS.random_init})
    rows = kssl.eval.compare(candidates, data.train, data.test)
    columns = ("linear", "knn")
    if recall:
        for name, encoder in candidates.items():
            rows[name].update(kssl.eval.recall_at_k(encoder, data.test, ks=(1,)))
        columns += ("recall@1",)
    print(f"\nFashion-MNIST test accuracy ({FLAGS.epochs} epochs of {title}, {train_seconds:.0f} s)")
    print(kssl.eval.markdown_table(rows, columns))
    run = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "learning_rate": FLAGS.learning_rate,
           "seed": FLAGS.seed, "train_examples": FLAGS.train_examples or len(data.train),
           "train_seconds": round(train_seconds, 1), "final_loss": float(history.history["loss"][-1]),
           "command": "python " + " ".join(sys.argv), **(run_extra or {})}
    os.makedirs(FLAGS.out, exist_ok=True)
    kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"), json.dumps({**rows, "run": run}, indent=2))
    return rows
