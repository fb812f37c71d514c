"""Peak training memory of MoCo against SimCLR: at the same batch, and at an equal number of negatives.

    python tools/bench/memory.py --out out/bench/memory.json

What is compared. SimCLR's negatives come from the batch (2N - 2 per anchor), so more negatives cost a
bigger batch, i.e. more activations kept for the backward pass. MoCo's come from a queue of K keys made
by a momentum encoder that gets no gradient: its activations are freed at once. So:
  - equal negatives: SimCLR batch 1024 (2046 negatives) against MoCo batch 256 + queue 2048;
  - same batch: both at batch 256 (the MoCo paper's setting: 5.0 GB vs 7.4 GB, ratio 0.68);
  - growth: each method over several batch sizes.

How. Each configuration runs in a fresh process with TensorFlow's BFC allocator on the CPU too
(TF_CPU_ALLOCATOR_USE_BFC=true), so `tf.config.experimental.get_memory_info` reports tensor memory on
CPU as it does on GPU: build the model (the demo's convnet on 28x28x1), run one warm-up step
(tracing, compilation), reset the allocator's peak, run --steps steps. "train memory" is that peak
minus the memory in use before the steps (weights, optimizer slots, the queue): what a step needs.
"""

import json
import os

from absl import app, flags

from timing import measure_in_process

flags.DEFINE_string("measure", None, "Internal: 'method,batch,queue' to measure in this process.")
flags.DEFINE_integer("steps", 3, "Measured steps per configuration.")
flags.DEFINE_list("simclr_batches", ["128", "256", "512", "1024"], "SimCLR batch sizes.")
flags.DEFINE_list("moco_batches", ["64", "128", "256"], "MoCo batch sizes (queue fixed).")
flags.DEFINE_integer("queue_size", 2048, "MoCo queue size.")
flags.DEFINE_string("out", "out/bench/memory.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def measure(method, batch, queue):
    """Runs in its own process; returns {"train_bytes", "peak_rss_bytes", "device"}."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kssl

    keras.utils.set_random_seed(0)
    encoder = kssl.backbones.convnet((28, 28, 1))
    augment = kssl.augment.simclr_views(28, channels=1, grayscale_policy="brightness_contrast", blur_prob=0.0)
    if method == "simclr":
        model = kssl.methods.SimCLR(encoder, projection_dim=64, augment=augment)
    else:
        model = kssl.methods.MoCo(encoder, projection_dim=64, queue_size=queue, augment=augment)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    images = np.random.default_rng(0).random((batch, 28, 28, 1)).astype("float32")
    data = tf.data.Dataset.from_tensors(images).repeat()
    device = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)  # warm-up: trace and compile
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    model.fit(data, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return {"train_bytes": peak - before, "resident_bytes": before, "peak_bytes": peak, "device": device}


def run(method, batch, queue=0):
    row = measure_in_process(__file__, [f"--measure={method},{batch},{queue}", f"--steps={FLAGS.steps}"],
                             f"{method} batch {batch}")
    negatives = queue if method == "moco" else 2 * batch - 2
    return {"method": method, "batch": batch, "queue": queue, "negatives": negatives, **row}


def main(argv):
    del argv
    if FLAGS.measure:
        method, batch, queue = FLAGS.measure.split(",")
        print(json.dumps(measure(method, int(batch), int(queue))))
        return
    rows = [run("simclr", int(b)) for b in FLAGS.simclr_batches]
    rows += [run("moco", int(b), FLAGS.queue_size) for b in FLAGS.moco_batches]
    mib = lambda r: r["train_bytes"] / 2**20
    print(f"\n| method | batch | queue | negatives | train memory (MiB) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['batch']} | {r['queue'] or '-'} | {r['negatives']} | {mib(r):.0f} |")
    find = lambda method, batch: next((r for r in rows if r["method"] == method and r["batch"] == batch), None)
    ratios = {}
    moco_max = max(int(b) for b in FLAGS.moco_batches)
    pairs = {"equal_negatives": (find("moco", moco_max), max(
                 (r for r in rows if r["method"] == "simclr" and r["negatives"] <= FLAGS.queue_size + 2),
                 key=lambda r: r["negatives"], default=None)),
             "same_batch": (find("moco", moco_max), find("simclr", moco_max))}
    for name, (moco, simclr) in pairs.items():
        if moco and simclr:
            ratios[name] = {"moco": f"batch {moco['batch']} + queue {moco['queue']}", "simclr": f"batch {simclr['batch']}",
                            "ratio": round(mib(moco) / mib(simclr), 3)}
            print(f"{name}: MoCo ({ratios[name]['moco']}) / SimCLR ({ratios[name]['simclr']}) = {ratios[name]['ratio']}")
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out + ".tmp", "w") as f:
        json.dump({"rows": rows, "ratios": ratios, "steps": FLAGS.steps}, f, indent=2)
    os.replace(FLAGS.out + ".tmp", FLAGS.out)


if __name__ == "__main__":
    app.run(main)
