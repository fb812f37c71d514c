"""Step time and peak step memory of the joint-embedding methods, each against a supervised step of the
same encoder, in one run.

    python tools/bench/methods.py --out out/bench/methods.json
    python tools/bench/methods.py --methods simclr,byol --rounds 3     # a subset

Every method is built from its registry entry (`kssl.methods.registry`: the recipe's options, encoder
and augmentation, exactly what `kssl pretrain NAME` trains) and measured in a fresh process, so that
TensorFlow's BFC allocator (TF_CPU_ALLOCATOR_USE_BFC=true: tensor memory is counted on the CPU as on a
GPU) reports that method's peak alone. In that process:
  - time: rounds alternate between the method's train step on N images and a supervised step (encoder +
    linear classifier + cross-entropy, AdamW) of the same encoder on the 2N images the two views make
    (`timing.alternating_step_times`), each round timed between batch ends inside one `fit`
    (`timing.fit_steps`: fit's own start and end are not steps); the ratio of the medians is reported, so machine noise, which
    hits both alike, mostly cancels (absolute s/step here vary by 20-30% between identical runs);
  - memory: after a warm-up step, the allocator's peak over --memory_steps steps minus the memory in
    use before them (weights, optimizer slots, queues): what one train step needs above the resident
    state (as tools/bench/memory.py).
Multi-crop and patch methods make more than two views; their supervised reference is still 2N images.
"""

import json
import os

from absl import app, flags

from timing import measure_in_process

DEFAULT_METHODS = ["simclr", "moco", "moco_v3", "nnclr", "byol", "simsiam", "barlow_twins", "vicreg"]

flags.DEFINE_list("methods", DEFAULT_METHODS, "Registry names to measure (image methods).")
flags.DEFINE_integer("batch_size", 0, "N, source images per step (0: each method's recipe batch).")
flags.DEFINE_integer("rounds", 5, "Alternating timing rounds (method, supervised).")
flags.DEFINE_integer("steps", 5, "Steps per round.")
flags.DEFINE_integer("memory_steps", 3, "Steps over which the peak memory is taken.")
flags.DEFINE_string("measure", None, "Internal: the method to measure in this process.")
flags.DEFINE_string("out", "out/bench/methods.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def measure(name):
    """Runs in its own process: {"seconds_per_step", "supervised_seconds_per_step", "ratio", "step_bytes"}."""
    import keras
    import numpy as np
    import tensorflow as tf

    from kssl.methods import registry
    from timing import alternating_step_times, fit_steps, supervised_steps

    spec = registry.get(name)
    batch = FLAGS.batch_size or spec.recipe.batch_size
    data = registry.load_data(spec, "synthetic", spec.options)  # builds only: shapes, channels
    keras.utils.set_random_seed(0)
    model, _ = registry.build(spec, data, spec.options, batch)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    encoder = (spec.encoder or registry.default_encoder)(data, spec.options)

    rng = np.random.default_rng(0)
    images = rng.random((batch, *data.data.train.images.shape[1:])).astype("float32")
    unlabelled = tf.data.Dataset.from_tensors(images).cache().repeat()
    steps = {
        "method": fit_steps(model, unlabelled),
        "supervised": supervised_steps(encoder, images, rng.integers(0, 10, 2 * batch)),
    }
    median, times = alternating_step_times(steps, FLAGS.rounds, FLAGS.steps)  # warms both up first

    device = "CPU:0"
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    model.fit(unlabelled, steps_per_epoch=FLAGS.memory_steps, epochs=1, verbose=0)
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return {"method": name, "batch_size": batch, "seconds_per_step": median["method"],
            "supervised_seconds_per_step": median["supervised"], "ratio": median["method"] / median["supervised"],
            "images_per_second": batch / median["method"], "step_bytes": peak - before, "resident_bytes": before,
            "rounds": times}


def run(name):
    return measure_in_process(__file__, [f"--measure={name}", f"--batch_size={FLAGS.batch_size}",
                                         f"--rounds={FLAGS.rounds}", f"--steps={FLAGS.steps}",
                                         f"--memory_steps={FLAGS.memory_steps}"], name)


def main(argv):
    del argv
    if FLAGS.measure:
        print(json.dumps(measure(FLAGS.measure)))
        return
    from kssl.methods import registry

    unknown = sorted(set(FLAGS.methods) - set(registry.names()))
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; choose from {registry.names()}")
    load = os.getloadavg()[0]
    rows = []
    for name in FLAGS.methods:
        rows.append(run(name))
        print(f"{name}: {rows[-1]['ratio']:.2f}x supervised, {rows[-1]['step_bytes'] / 2**20:.0f} MiB", flush=True)
    print(f"\nOne train step on this CPU (load {load:.1f} at the start); supervised = the same encoder on 2N images")
    print("| method | batch N | s/step | images/s | / supervised step | step memory (MiB) |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['batch_size']} | {r['seconds_per_step']:.3f} | {r['images_per_second']:.0f} | "
              f"{r['ratio']:.2f}x | {r['step_bytes'] / 2**20:.0f} |")
    from kssl.training.files import write_text_atomic

    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    write_text_atomic(FLAGS.out, json.dumps({"rows": rows, "load_at_start": load, "rounds": FLAGS.rounds,
                                             "steps": FLAGS.steps}, indent=2))
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
