"""Train-step time and memory of the ViT (`kssl.backbones.vit`) against the demo's convnet, per method.

    python tools/bench/vit_vs_convnet.py --batch_size 128 --out out/bench/vit_vs_convnet.json

Each (method, encoder) pair is built from its registry recipe (`--backbone convnet|vit`, the recipe's
other options) for 28x28x1 images and runs in a fresh process with TensorFlow's BFC allocator on the
CPU too (TF_CPU_ALLOCATOR_USE_BFC=true, as tools/bench/memory.py): one warm-up `fit` (tracing), then
the allocator's peak is reset and `--rounds` rounds of `--steps` steps are timed; "train memory" is the
peak minus the memory in use before the steps (weights, optimizer slots): what a step needs. The median
seconds per step is reported; the machine's load (`os.getloadavg`) is recorded with it.
"""

import json
import os
import statistics

from absl import app, flags

from timing import fit_steps, measure_in_process

flags.DEFINE_string("measure", None, "Internal: 'method:backbone' to measure in this process.")
flags.DEFINE_list("pairs", ["simclr:convnet", "simclr:vit", "dino:convnet", "dino:vit", "mae:vit"],
                  "method:backbone pairs to measure (registry names; backbone convnet or vit).")
flags.DEFINE_integer("batch_size", 128, "Source images per step (the standard budget's batch).")
flags.DEFINE_integer("rounds", 3, "Timed rounds per pair.")
flags.DEFINE_integer("steps", 5, "Steps per round.")
flags.DEFINE_string("out", "out/bench/vit_vs_convnet.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def measure(method, backbone):
    """Runs in its own process; returns the pair's row."""
    import types

    import keras
    import numpy as np
    import tensorflow as tf

    from kssl.methods import registry

    keras.utils.set_random_seed(0)
    spec = registry.get(method)
    options = {**spec.options, "backbone": backbone}
    data = types.SimpleNamespace(image_shape=(28, 28, 1))
    encoder = registry.image_encoder(data.image_shape, options)
    model = spec.build(encoder, data, options, FLAGS.batch_size, 0)
    model.compile(optimizer=keras.optimizers.AdamW(spec.recipe.learning_rate))
    images = np.random.default_rng(0).random((FLAGS.batch_size, 28, 28, 1)).astype("float32")
    batches = tf.data.Dataset.from_tensors(images).repeat()
    device = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
    model.fit(batches, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up: trace and compile
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    step = fit_steps(model, batches)
    seconds = [step(FLAGS.steps) for _ in range(FLAGS.rounds)]
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return {"method": method, "backbone": backbone, "encoder_parameters": int(encoder.count_params()),
            "seconds_per_step": seconds, "median_seconds_per_step": statistics.median(seconds),
            "train_bytes": peak - before, "resident_bytes": before, "device": device, "load_average": os.getloadavg()}


def run(pair):
    return measure_in_process(__file__, [f"--measure={pair}", f"--batch_size={FLAGS.batch_size}",
                                         f"--rounds={FLAGS.rounds}", f"--steps={FLAGS.steps}"], pair)


def main(argv):
    del argv
    if FLAGS.measure:
        method, backbone = FLAGS.measure.split(":")
        print(json.dumps(measure(method, backbone)))
        return
    rows = [run(pair) for pair in FLAGS.pairs]
    print(f"\nTrain step, batch {FLAGS.batch_size} of 28x28x1, one CPU device, median of {FLAGS.rounds} x {FLAGS.steps} steps")
    print("| method | encoder | encoder params | s/step | images/s | train memory (MiB) | load |\n|---|---|---|---|---|---|---|")
    for r in rows:
        step = r["median_seconds_per_step"]
        print(f"| {r['method']} | {r['backbone']} | {r['encoder_parameters']:,} | {step:.3f} | {FLAGS.batch_size / step:.0f} | "
              f"{r['train_bytes'] / 2**20:.0f} | {r['load_average'][0]:.1f} |")
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out + ".tmp", "w") as f:
        json.dump({"batch_size": FLAGS.batch_size, "rounds": FLAGS.rounds, "steps": FLAGS.steps, "rows": rows}, f, indent=2)
    os.replace(FLAGS.out + ".tmp", FLAGS.out)


if __name__ == "__main__":
    app.run(main)
