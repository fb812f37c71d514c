"""Fault test: a pretraining run SIGKILLed mid-epoch and restarted ends with the weights of an
uninterrupted run (same seed), because the checkpoint holds weights, optimizer, the MoCo queue and
momentum encoder, and the RNG state, and `pretrain` replays the data order."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def start(method, out, result, kill=None):
    """Starts one training subprocess; `finish` waits for it. Independent runs go two at a time (most of
    each is the TensorFlow import and tracing, which a second core overlaps)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, os.path.join(HERE, "resume_worker.py"), method, str(out), str(result)]
    return subprocess.Popen(command + [str(k) for k in kill or ()], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def weights(path):
    with np.load(path) as data:
        return [data[key] for key in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def test_sigkill_mid_epoch_then_restart_matches_an_uninterrupted_run(tmp_path):
    method = "moco"  # the most stateful method: queue, momentum encoder, shuffled BN, augmentations
    straight = start(method, tmp_path / "straight", tmp_path / "straight.npz")
    killed = finish(start(method, tmp_path / "resumed", tmp_path / "never.npz", kill=(2, 2)))  # epoch 2, step 2 of 4
    straight = finish(straight)
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (tmp_path / "never.npz").exists()
    backup = tmp_path / "resumed" / "backup"
    with open(backup / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 1  # the last checkpoint is the end of epoch 1
    shutil.copytree(backup, tmp_path / "no_rng" / "backup")
    # The RNG state is what makes it exact: restarted from the same checkpoint with the random
    # generators a new process starts with (what Keras' own BackupAndRestore gives), it ends elsewhere.
    metadata_path = tmp_path / "no_rng" / "backup" / "training_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["rng"] = [[seed, 0] for seed, _ in metadata["rng"]]
    metadata_path.write_text(json.dumps(metadata))
    replay = start(method, tmp_path / "no_rng", tmp_path / "no_rng.npz")

    resumed = finish(start(method, tmp_path / "resumed", tmp_path / "resumed.npz"))
    replay = finish(replay)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "epochs run: 2" in resumed.stdout  # epochs 2 and 3 only: it resumed, it did not start over
    assert "epochs in the history: 3" in resumed.stdout  # epoch 1's logs come back from the checkpoint
    assert not backup.exists()  # a finished run deletes its backup
    expected, got = weights(tmp_path / "straight.npz"), weights(tmp_path / "resumed.npz")
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)

    assert replay.returncode == 0, replay.stderr[-3000:]
    drift = max(np.abs(a - b).max() for a, b in zip(expected, weights(tmp_path / "no_rng.npz")))
    assert drift > 1e-4
