"""Test session set-up: two logical CPU devices, so MirroredStrategy can be tested on one CPU.

This must run before TensorFlow initialises its devices, hence a root conftest (loaded first).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KSSL_OFFLINE", "1")  # tests never download

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
