"""Two worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy, TF_CONFIG) give the single-process loss
and update on the same global batch, for SimCLR and MoCo (negatives and queue keys from both workers)."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import kssl
from helpers import FlipLeftRight, Identity, smooth_images

HERE = os.path.dirname(os.path.abspath(__file__))
global_batch = 16


def build(method):
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    if method == "simclr":
        return kssl.methods.SimCLR(encoder, projection_dim=8, augment=[Identity(), FlipLeftRight()])
    return kssl.methods.MoCo(encoder, projection_dim=8, queue_size=32, momentum=0.9, augment=[Identity(), FlipLeftRight()])


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.parametrize("method", ["simclr", "moco"])
def test_two_workers_equal_one_process(method, tmp_path):
    keras.utils.set_random_seed(0)
    model = build(method)
    weights = model.get_weights()
    np.savez(tmp_path / "weights.npz", *weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    loss_1 = model.fit(smooth_images(global_batch), batch_size=global_batch, shuffle=False, verbose=0).history["loss"][0]
    weights_1 = model.get_weights()

    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
               "PYTHONPATH": os.path.dirname(HERE)}
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multiworker_worker.py"), method, str(tmp_path / "weights.npz"),
             str(tmp_path / f"worker{index}.npz")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    for index in range(2):
        result = np.load(tmp_path / f"worker{index}.npz")
        np.testing.assert_allclose(float(result["loss"]), loss_1, rtol=1e-5)
        got = [result[f"arr_{i}"] for i in range(len(weights_1))]
        assert max(np.abs(a - b).max() for a, b in zip(weights_1, weights)) > 1e-4  # the step moved
        for a, b in zip(got, weights_1):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
