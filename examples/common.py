"""What every examples/*_fashion_mnist.py shares: flags from the method's registry recipe
(`kssl.methods.registry`: the standard budget and every option, with the defaults that measured README's
results table), one `model.fit` run through the registry (`registry.train`: kssl.training.pretrain), the
evaluation table (linear probe and kNN on the test set, next to the same encoder at its random
initialisation; `kssl.eval.results`), a preset and OUT/results.json. Run from the repository root:

    python examples/<method>_fashion_mnist.py --out out/<method>
"""

import sys

from absl import flags

FLAGS = flags.FLAGS


def define_flags(name, image_flags=True):
    """The run's flags (budget, seed, output; with `image_flags`, --train_examples and --raw_pixels of the
    image examples) and one flag per option of `name`'s recipe."""
    from kssl.methods import registry

    spec = registry.get(name)
    r = spec.recipe
    flags.DEFINE_integer("epochs", r.epochs, "Pretraining epochs.")
    flags.DEFINE_integer("batch_size", r.batch_size, "Global batch size (examples per step).")
    flags.DEFINE_float("learning_rate", r.learning_rate, "Peak AdamW learning rate (cosine decay to 0).")
    if image_flags:
        flags.DEFINE_integer("train_examples", 0, "Use only this many training images (0: all).")
        flags.DEFINE_bool("raw_pixels", False, "Also evaluate raw pixels (adds ~3 minutes).")
    flags.DEFINE_bool("random_init", True, "Also evaluate the encoder at its random initialisation (with the "
                      "default seed and widths it is the README's random-init row; slow on a busy machine).")
    flags.DEFINE_integer("seed", r.seed, "Random seed.")
    flags.DEFINE_string("out", f"out/{name}", "Output directory (preset, results.json, backup/).")
    define_option_flags(r.options)
    return spec


def define_option_flags(options):
    """One absl flag per recipe option, typed by its default."""
    for key, default in options.items():
        help_text = f"{key} (the registry recipe's option)."
        if isinstance(default, bool):
            flags.DEFINE_bool(key, default, help_text)
        elif isinstance(default, int):
            flags.DEFINE_integer(key, default, help_text)
        elif isinstance(default, float):
            flags.DEFINE_float(key, default, help_text)
        elif isinstance(default, (tuple, list)):
            flags.DEFINE_list(key, [str(v) for v in default], help_text)
        else:
            flags.DEFINE_string(key, default, help_text)


def options(spec):
    """The recipe's options as set by the flags (lists back to tuples of the defaults' type)."""
    out = {}
    for key, default in spec.recipe.options.items():
        value = getattr(FLAGS, key)
        if isinstance(default, (tuple, list)):
            kind = type(default[0]) if default else str
            value = tuple(kind(v) for v in value)
        out[key] = value
    return out


def command():
    return "python " + " ".join(sys.argv)


def train(spec, dataset=None, out=None):
    """(run, options): the registry's data and `model.fit` run with the flags (OUT/backup resumes)."""
    from kssl.methods import registry

    opts = options(spec)
    data = registry.load_data(spec, dataset, opts, train_examples=FLAGS.train_examples, seed=FLAGS.seed)
    run = registry.train(spec, data, opts, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                         learning_rate=FLAGS.learning_rate, seed=FLAGS.seed, out=out or FLAGS.out)
    return run, opts


def report(title, run, encoders, recall=False, run_extra=None, dataset_title="Fashion-MNIST"):
    """Evaluates `encoders` (name -> encoder; "random_init" unless --norandom_init, raw pixels if asked)
    on the test set, prints the table, writes OUT/results.json with the run's settings. Returns the rows."""
    from kssl.eval import results

    data = run.data.data
    if not FLAGS.random_init:
        encoders = {name: e for name, e in encoders.items() if name != "random_init"}
    rows = results.image_rows(encoders, data.train, data.test, raw_pixels=FLAGS.raw_pixels, recall=recall)
    settings = {"epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size, "learning_rate": FLAGS.learning_rate,
                "seed": FLAGS.seed, "train_examples": len(run.data.train), "train_seconds": round(run.seconds, 1),
                "final_loss": float(run.history.history["loss"][-1]), "command": command(), **(run_extra or {})}
    columns = ("linear", "knn") + (("recall@1",) if recall else ())
    results.write(FLAGS.out, rows, settings, columns=columns,
                  title=f"{dataset_title} test accuracy ({FLAGS.epochs} epochs of {title}, {run.seconds:.0f} s)")
    return rows


def save(run, key, rows):
    """The preset in OUT (kssl.zoo.load / kssl eval read it), with the measured metrics."""
    run.save(FLAGS.out, metadata={"metrics": {"linear": rows[key]["linear"], "knn": rows[key]["knn"]},
                                  "command": command()})


def run(name, **main_kwargs):
    """A whole example script for registry method `name`: its flags (the recipe's), then
    `main(name, **main_kwargs)` under absl."""
    from absl import app

    define_flags(name)

    def script(argv):
        del argv
        main(name, **main_kwargs)  # its (run, rows) must not become the exit status

    app.run(script)


def main(name, key=None, title=None, recall=False, run_extra=None, grid=False, more_encoders=None):
    """The whole example for registry method `name`: train, evaluate (row `key`, default `name`, next to
    random init), optionally draw OUT/grid.png (reconstruction methods), save the preset.
    Returns (run, rows)."""
    from kssl.methods import registry

    spec = registry.get(name)
    run, opts = train(spec)
    key = key or name
    encoders = {"random_init": run.baseline(), key: run.encoder()}
    if more_encoders:
        encoders.update(more_encoders(run, encoders))
    extra = run_extra(run, opts) if callable(run_extra) else run_extra
    rows = report(title or spec.title, run, encoders, recall=recall, run_extra=extra)
    if grid:
        write_grid(run.model, run.data.data)
    save(run, key, rows)
    return run, rows


def write_grid(model, data, count=8):
    """OUT/grid.png: a reconstruction method's inputs / targets / predictions for `count` test images."""
    import os

    import kssl

    grid = kssl.eval.image_grid(model.reconstruct(data.test.float_images()[:count]), count=count)
    print("grid:", kssl.eval.write_png(os.path.join(FLAGS.out, "grid.png"), grid, scale=3))
