import json
import subprocess
import sys

import keras
import pytest

from helpers import write_fake_fashion_mnist

from kssl import cli


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "kssl.cli", "--help"], capture_output=True, text=True, check=True)
    assert "pretrain" in out.stdout and "eval" in out.stdout


def test_pretrain_then_eval(tmp_path, monkeypatch, capsys):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=256, test=64)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "run"
    assert cli.main(["pretrain", "simclr", "--epochs", "1", "--batch_size", "16", "--out", str(out),
                     "--verbose", "0", "--widths", "8,16"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["data"] == "fashion_mnist" and len(meta["history"]["loss"]) == 1
    capsys.readouterr()
    assert cli.main(["eval", "linear", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    # 10 classes told apart by a bright bar's row: a linear probe beats chance (0.1, i.e. 6 of 64) by 4 sd
    assert result["protocol"] == "linear" and result["dataset"] == "fashion_mnist" and result["accuracy"] >= 0.25
    assert cli.main(["eval", "knn", str(out)]) == 0  # k=200 votes over 256 training images: only that it runs
    assert json.loads(capsys.readouterr().out)["protocol"] == "knn"


@pytest.mark.parametrize("method, extra", [
    ("moco", ["--queue_size", "32"]),
    ("triplet", ["--margin", "0.3", "--mixed_precision", "mixed_bfloat16", "--jit_compile", "--lr_scaling", "sqrt"]),
])
def test_pretrain_other_methods(tmp_path, monkeypatch, method, extra):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=64, test=32)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / method
    assert cli.main(["pretrain", method, "--epochs", "1", "--batch_size", "16", "--out", str(out), "--verbose", "0",
                     *extra]) == 0
    assert json.loads((out / "metadata.json").read_text())["method"].lower() == method
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the run
