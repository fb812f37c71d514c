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

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over the two logical CPUs for the whole session: a second strategy over the
    same devices in one process can pair its collectives with the first one's ("Shape mismatch in the
    collective instance")."""
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "conftest.py should have made two logical CPU devices"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


@pytest.fixture
def float64():
    """Keras' float64 dtype policy for one test: rounding out of the way, so a difference between two replicas
    and one device is the algorithm's (local negatives or statistics, per-replica batch norm, a loss or
    gradient off by the replica count), not the summation order."""
    import keras

    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy("float32")
