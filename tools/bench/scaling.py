"""Training throughput (images/s) of kssl methods on 1 and 2 replicas, next to a bare encoder step.

    python tools/bench/scaling.py --out out/bench/scaling.json
    # on a GPU machine (2 GPUs for the 2-replica row):
    python tools/bench/scaling.py --backbone resnet50 --image_size 224 --channels 3 --batch_size 128 \
        --jit_compile --mixed_precision mixed_float16 --methods simclr --out out/bench/scaling_gpu.json

Each (method, replicas) runs in a fresh process, because logical devices must be configured before
TensorFlow starts: with no GPU, the one CPU is split into `replicas` logical devices and trained under
`MirroredStrategy`, which measures the cost of kssl's cross-replica gathers and of Keras' replica
machinery, not a speed-up (the logical devices share the same cores). With GPUs, `replicas` GPUs.

"encoder" is the baseline: the same encoder + a linear classifier + cross-entropy on as many images as
the method's step encodes (2 views per source image), through `model.fit`, same strategy. The
"overhead" column is method step time / encoder step time at the same replica count.
The global batch is the same for every row (`--batch_size` source images per step).
"""

import json
import os

from absl import app, flags

from timing import alternating_step_times, fit_steps, measure_in_process, supervised_steps

flags.DEFINE_list("methods", ["simclr", "moco"], "Methods to time.")
flags.DEFINE_list("replicas", ["1", "2"], "Replica counts.")
flags.DEFINE_integer("batch_size", 256, "Global batch of source images per step.")
flags.DEFINE_string("backbone", "convnet", "kssl.backbones name (convnet, resnet18, resnet50, ...).")
flags.DEFINE_integer("image_size", 28, "Square image size.")
flags.DEFINE_integer("channels", 1, "Image channels.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train steps.")
flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_float16", "mixed_bfloat16"], "Keras dtype policy.")
flags.DEFINE_integer("steps", 5, "Measured steps per round.")
flags.DEFINE_integer("rounds", 3, "Alternating measurement rounds (median reported).")
flags.DEFINE_string("measure", None, "Internal: 'method,replicas' to measure in this process.")
flags.DEFINE_string("out", "out/bench/scaling.json", "Where to write the JSON result.")
FLAGS = flags.FLAGS


def _devices(replicas):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if len(gpus) < replicas:
            raise SystemExit(f"--replicas {replicas}: only {len(gpus)} GPU(s) visible")
        return [f"/gpu:{i}" for i in range(replicas)], "GPU"
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    return [f"/cpu:{i}" for i in range(replicas)], "CPU (logical devices)"


def measure(method, replicas):
    """Runs in its own process; returns seconds per step for the method and the encoder baseline."""
    devices, kind = _devices(replicas)
    import keras
    import numpy as np
    import tensorflow as tf

    import kssl

    if FLAGS.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)
    keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
    strategy = tf.distribute.MirroredStrategy(devices) if replicas > 1 else tf.distribute.OneDeviceStrategy(devices[0])
    n = FLAGS.batch_size
    images = np.random.default_rng(0).random((n,) + shape).astype("float32")
    labels = np.arange(2 * n) % 10
    with strategy.scope():
        augment = kssl.augment.simclr_views(FLAGS.image_size, channels=FLAGS.channels, blur_prob=0.0,
                                            grayscale_policy="brightness_contrast" if FLAGS.channels == 1 else None)
        encoder = kssl.backbones.get(FLAGS.backbone, shape)
        if method == "moco":
            model = kssl.methods.MoCo(encoder, projection_dim=64, queue_size=16 * n, augment=augment)
        else:
            model = kssl.methods.get(method)(encoder, augment=augment)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=FLAGS.jit_compile)
        encoder_step = supervised_steps(kssl.backbones.get(FLAGS.backbone, shape), images, labels,
                                        jit_compile=FLAGS.jit_compile)
    unlabelled = tf.data.Dataset.from_tensors(images).repeat()
    steps = {
        method: fit_steps(model, unlabelled),
        "encoder": encoder_step,
    }
    median, _ = alternating_step_times(steps, FLAGS.rounds, FLAGS.steps)
    return {"device": kind, "seconds_per_step": median}


def run(method, replicas):
    args = [f"--measure={method},{replicas}"]
    args += [f"--{name}={FLAGS[name].value}" for name in
             ("batch_size", "backbone", "image_size", "channels", "mixed_precision", "steps", "rounds")]
    args += ["--jit_compile" if FLAGS.jit_compile else "--nojit_compile"]
    return measure_in_process(os.path.abspath(__file__), args, f"{method} on {replicas} replica(s)", bfc=False)


def main(argv):
    del argv
    if FLAGS.measure:
        method, replicas = FLAGS.measure.split(",")
        print(json.dumps(measure(method, int(replicas))))
        return
    rows = []
    for method in FLAGS.methods:
        for replicas in (int(r) for r in FLAGS.replicas):
            result = run(method, replicas)
            t = result["seconds_per_step"]
            rows.append({"method": method, "replicas": replicas, "device": result["device"],
                         "images_per_s": FLAGS.batch_size / t[method],
                         "encoder_images_per_s": 2 * FLAGS.batch_size / t["encoder"],
                         "overhead": t[method] / t["encoder"], "seconds_per_step": t})
    setting = (f"{FLAGS.backbone} on {FLAGS.image_size}x{FLAGS.image_size}x{FLAGS.channels}, global batch "
               f"{FLAGS.batch_size}, XLA {'on' if FLAGS.jit_compile else 'off'}, policy {FLAGS.mixed_precision}")
    print(f"\n{setting}")
    print("| method | replicas | device | source images/s | encoder step images/s | method/encoder step time |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['replicas']} | {r['device']} | {r['images_per_s']:.0f} | "
              f"{r['encoder_images_per_s']:.0f} | {r['overhead']:.3f} |")
    from kssl.training.files import write_text_atomic

    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    write_text_atomic(FLAGS.out, json.dumps({"setting": setting, "rows": rows}, indent=2))
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
