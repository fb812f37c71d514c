"""One worker of tests/test_multiworker.py: MultiWorkerMirroredStrategy from TF_CONFIG, one fit step.

    TF_CONFIG=... python tests/multiworker_worker.py METHOD WEIGHTS.npz OUT.npz
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import smooth_images  # noqa: E402
from test_multiworker import build, global_batch  # noqa: E402


def main(method, weights_path, out_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = build(method)
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    model.set_weights(list(np.load(weights_path).values()))
    # Each worker reads the same global batch; tf.data's DATA auto-sharding gives each its half.
    data = tf.data.Dataset.from_tensor_slices(smooth_images(global_batch)).batch(global_batch)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    loss = model.fit(data.with_options(options), epochs=1, verbose=0).history["loss"][0]
    np.savez(out_path, loss=np.float64(loss), *model.get_weights())


if __name__ == "__main__":
    main(*sys.argv[1:4])
