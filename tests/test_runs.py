"""The run directory's life (`kssl pretrain --out`, kssl.training.runs, docs/runs.md): no run is lost or
silently replaced, a finished run continues with more epochs, and every --out problem is refused with one
line before anything trains."""

import json
import os
import re

import pytest

import kssl
from kssl import cli
from kssl.training import runs

TINY = ["--dataset", "synthetic", "--widths", "4,8", "--batch_size", "16", "--train_examples", "64",
        "--steps_per_epoch", "2", "--verbose", "0"]


def pretrain(out, *extra, method="simclr", epochs=1):
    return cli.main(["pretrain", method, "--epochs", str(epochs), "--out", str(out), *TINY, *extra])


def refused(capsys, argv, match):
    """cli.main(argv) refuses with one line on stderr matching `match`, exit status 2."""
    with pytest.raises(SystemExit) as error:
        cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert error.value.code == 2 and "\n" not in err and "Traceback" not in err, err
    assert str(error.value) == err
    assert re.search(match, err), err
    return err


def preset_files(out):
    return {name: (out / name).read_bytes() for name in ("config.json", "model.weights.h5", "metadata.json")}


@pytest.fixture()
def finished(tmp_path_factory):
    """A finished 1-epoch SimCLR run (shared by the tests that only read it or copy it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert pretrain(out) == 0
    return out


def copy_of(run, tmp_path):
    import shutil

    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def test_a_finished_run_keeps_its_checkpoint_and_a_run_record(finished):
    record = json.loads((finished / "run.json").read_text())
    assert record["method"] == "simclr" and record["finished"] and record["epochs_done"] == 1
    assert record["flags"]["temperature"] == 0.2 and "verbose" not in record["flags"]
    assert kssl.training.BackupAndRestore.saved_epoch(str(finished / "backup")) == 1
    metadata = json.loads((finished / "metadata.json").read_text())
    assert metadata["command"].startswith("kssl pretrain simclr")
    assert len(metadata["feature_statistics"]["std"]) == metadata["feature_dim"]  # kssl.zoo.load standardises


def test_other_flags_or_method_are_refused_before_training_and_change_nothing(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    before = preset_files(out)
    refused(capsys, ["pretrain", "simclr", "--epochs", "2", "--out", str(out), *TINY, "--temperature", "0.5"],
            r"^kssl pretrain: --out .* holds a simclr run trained with other flags: --temperature 0.2 \(now "
            r"--temperature 0.5\).*--overwrite")
    refused(capsys, ["pretrain", "moco", "--epochs", "2", "--out", str(out), *TINY],
            r"holds a simclr run, not moco; pass --overwrite")
    refused(capsys, ["pretrain", "simclr", "--epochs", "1", "--out", str(out), *TINY[:-2], "--verbose", "0",
                     "--seed", "3"], r"--seed 0 \(now --seed 3\)")
    assert preset_files(out) == before


def test_same_flags_and_epochs_leave_a_finished_run_alone(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    before = preset_files(out)
    assert pretrain(out) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert preset_files(out) == before


def test_more_epochs_continue_a_finished_run_and_the_history_holds_every_epoch(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    first = json.loads((out / "metadata.json").read_text())["history"]["loss"]
    capsys.readouterr()
    assert pretrain(out, epochs=3) == 0
    assert "continuing the finished run" in capsys.readouterr().out
    history = json.loads((out / "metadata.json").read_text())["history"]["loss"]
    assert len(history) == 3 and history[0] == first[0]  # epoch 1 kept, 2 and 3 added
    record = json.loads((out / "run.json").read_text())
    assert record["finished"] and record["epochs_done"] == 3
    assert kssl.training.BackupAndRestore.saved_epoch(str(out / "backup")) == 3
    refused(capsys, ["pretrain", "simclr", "--epochs", "2", "--out", str(out), *TINY],
            r"finished simclr run of 3 epochs; --epochs 2 cannot undo epochs")


def test_overwrite_replaces_the_run_only_once_the_new_one_is_saved(finished, tmp_path, monkeypatch):
    out = copy_of(finished, tmp_path)
    before = preset_files(out)

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    with monkeypatch.context() as patch:  # the new run dies while training: the old one is untouched
        patch.setattr(kssl.training, "pretrain", fail)
        with pytest.raises(SystemExit):
            pretrain(out, "--temperature", "0.5", "--overwrite")
    assert preset_files(out) == before
    assert pretrain(out, "--temperature", "0.5", "--overwrite") == 0
    assert json.loads((out / "run.json").read_text())["flags"]["temperature"] == 0.5
    assert json.loads((out / "metadata.json").read_text())["options"]["temperature"] == 0.5
    assert not os.path.exists(str(out) + runs.STAGING_SUFFIX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing left aside


def test_an_interrupted_run_resumes_with_its_whole_history(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"

    class Stop(Exception):
        pass

    real = kssl.training.pretrain

    def stop_after_one_epoch(model, dataset, epochs, **kwargs):
        import keras

        class StopAt(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    raise Stop("killed")

        return real(model, dataset, epochs, callbacks=[StopAt()], **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(kssl.training, "pretrain", stop_after_one_epoch)
        with pytest.raises(SystemExit):
            pretrain(out, epochs=2)
    assert not (out / "metadata.json").exists() and not json.loads((out / "run.json").read_text())["finished"]
    capsys.readouterr()
    assert pretrain(out, epochs=2) == 0
    assert "resuming the interrupted run in" in capsys.readouterr().out
    assert len(json.loads((out / "metadata.json").read_text())["history"]["loss"]) == 2


def bad_out(kind, tmp):
    if kind in ("file", "under a file"):
        (tmp / "file").write_text("x")
        return tmp / "file" if kind == "file" else tmp / "file" / "run"
    if kind == "foreign":
        (tmp / "mine").mkdir()
        (tmp / "mine" / "notes.txt").write_text("x")
        return tmp / "mine"
    return {"empty": "", "remote": "gs://bucket/run"}[kind]


@pytest.mark.parametrize("kind, match", [
    ("empty", r"--out must name a directory; got ''"),
    ("file", r"is a file, not a directory"),
    ("under a file", r"cannot be created"),
    ("foreign", r"already holds other files \(notes.txt\), not a kssl run; choose a new or empty directory"),
    ("remote", r"must be a local directory"),
])
def test_every_out_problem_is_refused_before_training(tmp_path, monkeypatch, capsys, kind, match):
    out = bad_out(kind, tmp_path)
    trained = []
    monkeypatch.setattr(kssl.training, "pretrain", lambda *a, **k: trained.append(1))
    refused(capsys, ["pretrain", "simclr", "--out", str(out), *TINY], match)
    assert not trained


def test_a_read_only_out_is_refused_before_training(tmp_path, monkeypatch, capsys):
    import tempfile

    def no_write(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", no_write)  # root ignores chmod: simulate the refusal of a write
    refused(capsys, ["pretrain", "simclr", "--out", str(tmp_path / "run"), *TINY], r"is not writable \(Permission denied\)")


def test_a_checkpoint_of_another_method_or_a_damaged_one_says_what_to_do(finished, tmp_path):
    import keras

    from kssl.methods import registry

    backup = str(copy_of(finished, tmp_path) / "backup")
    spec = registry.get("moco")
    data = registry.load_data(spec, "synthetic", {**spec.options, "widths": (4, 8)}, train_examples=32)
    options = {**spec.options, "widths": (4, 8), "queue_size": 32}
    model, _ = registry.build(spec, data, options, batch_size=16)
    batches = registry.unlabelled_batches(model, data, options, 16, 0).take(1)
    with pytest.raises(kssl.training.CheckpointError, match=r"written by a SimCLR model; this is a MoCo"):
        kssl.training.pretrain(model, batches, epochs=2, out=os.path.dirname(backup), verbose=0)
    weights = os.path.join(backup, "epoch1.weights.h5")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    keras.utils.set_random_seed(0)
    spec = registry.get("simclr")
    options = {**spec.options, "widths": (4, 8)}
    model, _ = registry.build(spec, data, options, batch_size=16)
    batches = registry.unlabelled_batches(model, data, options, 16, 0).take(1)
    with pytest.raises(kssl.training.CheckpointError, match=r"epoch1.weights.h5 cannot be restored .* delete"):
        kssl.training.pretrain(model, batches, epochs=2, out=os.path.dirname(backup), verbose=0)
    with open(os.path.join(backup, "training_metadata.json"), "w") as f:
        f.write('{"epoch": 1, "weigh')
    with pytest.raises(kssl.training.CheckpointError, match=r"training_metadata.json is damaged"):
        kssl.training.pretrain(model, batches, epochs=2, out=os.path.dirname(backup), verbose=0)


def test_pretrain_keeps_its_checkpoint_continues_and_refuses_fewer_epochs(tmp_path):
    from helpers import smooth_images
    from test_training import batches, tiny_simclr

    data = batches(smooth_images(16))
    history, _ = kssl.training.pretrain(tiny_simclr(), data, epochs=1, out=str(tmp_path), verbose=0,
                                        keep_checkpoint=True)
    assert kssl.training.BackupAndRestore.saved_epoch(str(tmp_path / "backup")) == 1
    history, _ = kssl.training.pretrain(tiny_simclr(), data, epochs=2, out=str(tmp_path), verbose=0,
                                        keep_checkpoint=True)
    assert len(history.history["loss"]) == 2 and history.epoch == [0, 1]  # epoch 1 from the checkpoint
    with pytest.raises(ValueError, match=r"`epochs` is 1 but the checkpoint in .* has already done 2 epochs"):
        kssl.training.pretrain(tiny_simclr(), data, epochs=1, out=str(tmp_path), verbose=0)
    assert kssl.training.BackupAndRestore.saved_epoch(str(tmp_path / "backup")) == 2  # refused, not deleted


def test_a_finished_run_without_its_checkpoint_cannot_be_continued(finished, tmp_path, capsys):
    import shutil

    out = copy_of(finished, tmp_path)
    shutil.rmtree(out / "backup")
    assert pretrain(out) == 0  # control: the same epochs need no checkpoint (nothing to do)
    refused(capsys, ["pretrain", "simclr", "--epochs", "2", "--out", str(out), *TINY],
            r"holds a finished simclr run but no checkpoint of its last epoch to continue from")
