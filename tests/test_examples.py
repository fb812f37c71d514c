"""Every example runs end to end on a tiny Fashion-MNIST look-alike (the full runs are in README).

Convention: each examples/*_fashion_mnist.py (and cpc_images.py, Fashion-MNIST too) accepts --epochs, --batch_size, --train_examples, --out
and writes OUT/results.json with one row per encoder it compares.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from helpers import write_fake_fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*_fashion_mnist.py"))) + [
    os.path.join(ROOT, "examples", "cpc_images.py")]


def test_there_are_examples():
    assert any(path.endswith("simclr_fashion_mnist.py") for path in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_runs_on_tiny_data(path, tmp_path):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=256, test=64)
    env = {**os.environ, "KSSL_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": ROOT, "KSSL_OFFLINE": "1"}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, path, "--epochs=1", "--batch_size=32", "--train_examples=128", f"--out={out}"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "results.json") as f:
        results = json.load(f)
    rows = {name: row for name, row in results.items() if isinstance(row, dict) and "linear" in row}
    assert "random_init" in rows and len(rows) >= 2
    for row in rows.values():
        assert 0.0 <= row["linear"] <= 1.0 and 0.0 <= row["knn"] <= 1.0
