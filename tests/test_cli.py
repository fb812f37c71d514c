import json
import subprocess
import sys

import keras
import pytest

from helpers import write_fake_fashion_mnist

from kssl import cli


def test_help_lists_the_commands_without_importing_tensorflow():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "kssl.cli", "--help"], capture_output=True,
                         text=True, check=True)
    assert "pretrain" in out.stdout and "eval" in out.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")]
    assert "kssl" in imported and "argparse" in imported  # control: the import log is read
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras")]


def test_import_kssl_outside_the_command_registers_every_class():
    code = "import kssl, keras; print(keras.saving.get_registered_object('kssl>SimCLR'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "kssl.methods.simclr.SimCLR" in out.stdout


def test_pretrain_help_shows_each_methods_defaults(capsys):
    from kssl.methods import registry

    with pytest.raises(SystemExit) as done:
        cli.main(["pretrain", "--help"])
    assert done.value.code == 0
    r = registry.get("moco").recipe
    assert f"--epochs {r.epochs} --batch_size {r.batch_size} --learning_rate {r.learning_rate:g}" in \
        " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "moco", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"--queue_size QUEUE_SIZE recipe option (default: {registry.get('moco').options['queue_size']})" in help_text


def test_a_refused_command_prints_one_line_exits_2_and_debug_shows_the_traceback(tmp_path, capsys):
    missing = str(tmp_path / "nowhere" / "run")
    with pytest.raises(SystemExit) as error:
        cli.main(["eval", "linear", missing])
    err = capsys.readouterr().err
    assert error.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"kssl eval: PRESET {missing!r} is not a preset directory; give a directory")
    with pytest.raises(FileNotFoundError, match="is not a preset directory"):
        cli.main(["eval", "linear", missing, "--debug"])
    with pytest.raises(SystemExit) as error:  # argparse's own usage errors keep their exit status 2
        cli.main(["pretrain", "simclr", "--out", str(tmp_path), "--epochs", "0"])
    assert error.value.code == 2 and "argument --epochs: invalid integer >= 1 value: '0'" in capsys.readouterr().err


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
    captured = capsys.readouterr()
    assert json.loads(captured.out)["protocol"] == "knn"
    assert f"kssl: knn evaluation of {out} on fashion_mnist" in captured.err  # progress, on stderr


def test_eval_and_zoo_load_take_a_zoo_name_or_a_directory(tmp_path, monkeypatch, capsys):
    import kssl

    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=64, test=32)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    name = "simclr_convnet_fmnist"
    assert cli.main(["eval", "linear", name]) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == name
    directory = kssl.zoo.hub.fetch(name)
    assert cli.main(["zoo", "load", directory]) == 0
    assert f"loaded from {directory}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=rf"NAME 'simclr_convnet_fmnst' is neither a preset directory nor a zoo "
                                         rf"name \(`kssl zoo list`\). Did you mean '{name}'\?"):
        cli.main(["zoo", "load", "simclr_convnet_fmnst"])


def test_eval_report_writes_under_out_never_inside_the_preset(tmp_path, monkeypatch, capsys):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion_mnist", train=64, test=32)
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    preset = tmp_path / "runs" / "tiny"
    assert cli.main(["pretrain", "simclr", "--epochs", "1", "--batch_size", "16", "--out", str(preset),
                     "--verbose", "0", "--widths", "8,16", "--steps_per_epoch", "1"]) == 0
    before = sorted(p.name for p in preset.iterdir())
    assert cli.main(["eval", "report", str(preset)]) == 0
    report = tmp_path / "out" / "reports" / "tiny" / "report.md"
    assert report.exists() and sorted(p.name for p in preset.iterdir()) == before
    assert "trained with `kssl pretrain simclr --epochs 1" in report.read_text()


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


def test_a_tensorflow_error_becomes_its_last_message_line():
    import numpy as np
    import tensorflow as tf

    import kssl

    model = kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4,)), projection_dim=4)
    model.compile(optimizer="adam")
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        model.fit(np.full((32, 12, 12, 1), 255.0, "float32"), batch_size=16, verbose=0)
    assert "Detected at node" in str(error.value)  # control: the raw message holds the graph's traceback
    assert cli._one_line("pretrain", error.value) == (
        "kssl pretrain: assertion failed: [SimCLR: `x` must be finite images in [0, 1] (divide images in [0, 255] "
        "by 255); got a batch whose largest value is] [255]")
