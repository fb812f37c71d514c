"""tf.data's autotuner on and off, in one process: fits of the same model on the same pipeline, alternating.

    python tools/bench/autotune.py --method simclr --rounds 5 --out docs/results/autotune.json

kssl turns the autotuner off in its pipelines (`kssl.training.tuning`); this is the measurement behind that.
Each round fits the registry's model for `--steps` steps on the method's own training batches with the
autotuner on (tf.data's default), then on the same batches with it off (`without_autotune`); the table gives
ms per step and how many cores the process kept busy (CPU time / wall time) for every fit. The model is
built and compiled once (a short warm-up fit first), so only the input pipeline's options differ.
"""

import json
import os
import sys
import time

from absl import app, flags

flags.DEFINE_string("method", "simclr", "Registry method (an image method: its batches are a tf.data pipeline).")
flags.DEFINE_string("dataset", "fashion_mnist", "Training data.")
flags.DEFINE_integer("batch_size", 256, "Batch size.")
flags.DEFINE_integer("steps", 60, "Steps per timed fit.")
flags.DEFINE_integer("rounds", 5, "Alternating on/off pairs.")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("out", "out/bench/autotune.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def timed_fit(model, batches, steps):
    start, cpu = time.time(), time.process_time()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = time.time() - start
    return {"ms_per_step": round(1000 * wall / steps, 1), "cores_busy": round((time.process_time() - cpu) / wall, 2)}


def main(_):
    import numpy as np
    import tensorflow as tf

    import kssl
    from kssl.methods import registry
    from kssl.training.tuning import without_autotune

    spec = registry.get(FLAGS.method)
    data = registry.load_data(spec, FLAGS.dataset, spec.options)
    run = registry.train(spec, data, spec.options, epochs=1, batch_size=FLAGS.batch_size, steps_per_epoch=3,
                         seed=FLAGS.seed, verbose=0)
    # the method's own batches
    batches = (spec.batches or registry.unlabelled_batches)(run.model, data, spec.options, FLAGS.batch_size, FLAGS.seed)
    on = tf.data.Options()
    on.autotune.enabled = True  # tf.data's default, set over kssl's "off" (the later option wins)
    pipelines = {"autotuner on": batches.repeat().with_options(on), "autotuner off": without_autotune(batches.repeat())}
    assert [p.options().autotune.enabled for p in pipelines.values()] == [True, False]
    rows = {name: [] for name in pipelines}
    load_before = os.getloadavg()[0]
    for _ in range(FLAGS.rounds):
        for name, pipeline in pipelines.items():
            rows[name].append(timed_fit(run.model, pipeline, FLAGS.steps))
    table = {name: {"ms_per_step (median)": float(np.median([r["ms_per_step"] for r in fits])),
                    "cores_busy (median)": float(np.median([r["cores_busy"] for r in fits])),
                    "each fit (ms/step)": " ".join(str(r["ms_per_step"]) for r in fits)}
             for name, fits in rows.items()}
    print(f"\n{FLAGS.method} on {FLAGS.dataset}, batches of {FLAGS.batch_size}, {FLAGS.rounds} x {FLAGS.steps} steps each")
    print(kssl.eval.markdown_table(table, ("ms_per_step (median)", "cores_busy (median)", "each fit (ms/step)"),
                                   first="input pipeline"))
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    kssl.zoo.preset.write_text_atomic(FLAGS.out, json.dumps(
        {"fits": rows, "summary": table, "run": {"method": FLAGS.method, "dataset": FLAGS.dataset,
                                                 "batch_size": FLAGS.batch_size, "steps": FLAGS.steps,
                                                 "rounds": FLAGS.rounds, "command": "python " + " ".join(sys.argv),
                                                 "load_1min": {"before": load_before, "after": os.getloadavg()[0]}}},
        indent=2))


if __name__ == "__main__":
    app.run(main)
