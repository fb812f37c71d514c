"""Shared pieces of the benchmarks: the alternating timing loop, a measurement in its own process, the load
sampler of the training benchmarks."""

import os
import statistics
import threading
import time


def fit_steps(model, dataset):
    """A function `count -> seconds per train step` that runs `model.fit` for `count + 1` steps of
    `dataset` and times the last `count` between the ends of batches (a Keras callback).

    Timing the whole `fit` call instead would add fit's start and end (building the epoch iterator,
    joining its threads, the end-of-epoch callbacks), 0.1-0.7 s on this CPU whatever the model: with 5
    steps of ~0.1 s per call, that hid the steps themselves and made every method's ratio ~1.00.
    """
    import keras

    class _BatchEnds(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    def run(count):
        ends = _BatchEnds()
        model.fit(dataset, steps_per_epoch=count + 1, epochs=1, verbose=0, callbacks=[ends])
        return (ends.ends[-1] - ends.ends[0]) / count

    return run


def supervised_steps(encoder, images, labels, jit_compile=False):
    """`fit_steps` of the supervised reference step of the benchmarks: `encoder` + a float32 Dense(10) +
    cross-entropy, AdamW 1e-3, on the 2N images a two-view method encodes (`images` twice) with `labels`
    (2N integers). Call it inside a strategy's scope to build the reference there."""
    import keras
    import numpy as np
    import tensorflow as tf

    model = keras.Sequential([encoder, keras.layers.Dense(10, dtype="float32")])
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit_compile,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labelled = tf.data.Dataset.from_tensors((np.concatenate([images, images]), labels)).cache().repeat()
    return fit_steps(model, labelled)


def alternating_step_times(steps, rounds, count):
    """Median seconds per step of each `steps[name](count)`: a function that runs `count` train steps and
    returns its seconds per step (`fit_steps`).

    Each function is warmed up first (tracing, compilation); then `rounds` rounds run them in turn,
    so slow drifts of a noisy machine hit every entry alike. Returns ({name: median}, {name: [per round]}).
    """
    for step in steps.values():
        step(2)
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(step(count))
    return {name: statistics.median(t) for name, t in times.items()}, times


def measure_in_process(script, args, label, bfc=True):
    """Runs `python script args...` (a benchmark's own `--measure=...` mode) in a fresh process and returns
    the JSON object on the last line of its stdout. A fresh process per measurement keeps each peak-memory
    reading to that model alone; `bfc`: TensorFlow's BFC allocator on the CPU, which counts tensor memory
    as on a GPU. A failure stops the benchmark with `label` and the end of the child's stderr."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": "true"} if bfc else None
    result = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, check=False, env=env)
    if result.returncode:
        raise SystemExit(f"{label} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class LoadSampler:
    """Samples the 1-minute load average every `every` seconds on a thread, while a `with` block runs."""

    def __init__(self, every=15.0):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self):
        return {"start": round(self.samples[0], 2), "mean": round(sum(self.samples) / len(self.samples), 2),
                "max": round(max(self.samples), 2), "samples": len(self.samples), "cpus": os.cpu_count()}
