"""tools/bench/vit_vs_convnet.py measures each (method, encoder) pair in its own process and writes its table's JSON."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # two fresh TensorFlow processes: ~1 min idle, 3-4 min under load
def test_vit_vs_convnet_bench_writes_one_row_per_pair(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "bench", "vit_vs_convnet.py"), "--pairs=simclr:convnet,mae:vit",
         "--batch_size=8", "--rounds=1", "--steps=1", f"--out={out}"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["method"], r["backbone"]) for r in rows] == [("simclr", "convnet"), ("mae", "vit")]
    assert rows[1]["encoder_parameters"] != rows[0]["encoder_parameters"]
    assert all(r["median_seconds_per_step"] > 0 and r["train_bytes"] > 0 for r in rows)
    assert "| mae | vit |" in result.stdout
