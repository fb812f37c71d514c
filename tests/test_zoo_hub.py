"""The zoo's download path against a Hub-compatible server on 127.0.0.1."""

import json
import os

import numpy as np
import pytest

import kssl
from hub_server import HubServer
from kssl.zoo import hub

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A preset served by the fixture Hub, its registry entry, and an empty cache."""
    model = kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny"), projection_dim=8)
    preset_dir = tmp_path / "preset"
    kssl.zoo.save(model, preset_dir, card="# tiny\n")
    files = hub.files_with_checksums(preset_dir)
    registry = {"tiny_simclr": {"repo_id": "kssl-test/tiny", "revision": REVISION, "files": files}}
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("KSSL_ZOO_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with HubServer() as server:
        for name in files:
            server.files[("kssl-test/tiny", REVISION, name)] = (preset_dir / name).read_bytes()
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield model, server, tmp_path


def test_download_verify_and_load(published):
    model, server, tmp_path = published
    assert kssl.zoo.list() == ["tiny_simclr"]
    encoder = kssl.zoo.load("tiny_simclr")
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype("float32")
    np.testing.assert_array_equal(encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))
    cached = tmp_path / "cache" / "tiny_simclr" / REVISION
    assert sorted(os.listdir(cached)) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    count = len(server.requests)
    kssl.zoo.load("tiny_simclr")  # second load: from the cache, no request
    assert len(server.requests) == count


def test_checksum_mismatch_leaves_nothing_trusted(published):
    model, server, tmp_path = published
    key = ("kssl-test/tiny", REVISION, "model.weights.h5")
    server.files[key] = server.files[key][:-10] + b"0123456789"  # same size, other bytes
    with pytest.raises(hub.ChecksumError, match="model.weights.h5"):
        kssl.zoo.load("tiny_simclr")
    assert not (tmp_path / "cache" / "tiny_simclr" / REVISION).exists()
    assert not [p for p in (tmp_path / "cache" / "tiny_simclr").iterdir()]  # no temp left either


def test_truncated_download_leaves_nothing_trusted(published):
    _, server, tmp_path = published
    server.truncate.add(("kssl-test/tiny", REVISION, "model.weights.h5"))
    with pytest.raises((OSError, hub.ChecksumError)):
        kssl.zoo.load("tiny_simclr")
    assert not (tmp_path / "cache" / "tiny_simclr" / REVISION).exists()
    server.truncate.clear()  # the next try downloads it whole
    assert kssl.zoo.load("tiny_simclr").output_shape == (None, 8)


def test_corrupted_cache_is_refused(published):
    _, _, tmp_path = published
    kssl.zoo.load("tiny_simclr")
    config = tmp_path / "cache" / "tiny_simclr" / REVISION / "config.json"
    config.write_text(config.read_text().replace('"tiny"', '"evil"'))
    with pytest.raises(hub.ChecksumError, match="config.json"):
        kssl.zoo.load("tiny_simclr")


def test_offline_with_empty_cache(published, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        kssl.zoo.load("tiny_simclr")


def test_missing_file_on_server_is_a_clear_error(published):
    _, server, tmp_path = published
    del server.files[("kssl-test/tiny", REVISION, "config.json")]
    with pytest.raises(OSError, match="Could not download config.json"):
        kssl.zoo.load("tiny_simclr")
    assert not (tmp_path / "cache" / "tiny_simclr" / REVISION).exists()


def test_unknown_name_suggests_close_ones(published):
    with pytest.raises(ValueError, match="Closest: \\['tiny_simclr'\\]"):
        kssl.zoo.load("tiny_simclar")


def test_unpinned_revision_is_refused(published):
    with pytest.raises(ValueError, match="`revision`"):
        kssl.zoo.load("tiny_simclr", revision="main")


def test_cli_zoo_commands(published, capsys):
    from kssl import cli

    assert cli.main(["zoo", "list"]) == 0
    assert "tiny_simclr" in capsys.readouterr().out
    assert cli.main(["zoo", "info", "tiny_simclr"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] == REVISION
    assert cli.main(["zoo", "load", "tiny_simclr"]) == 0
    assert "output (8,)" in capsys.readouterr().out


def test_bundled_entry_loads_offline_and_is_verified(tmp_path, monkeypatch):
    model = kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4,), name="tiny"), projection_dim=8)
    bundled = tmp_path / "bundled"
    kssl.zoo.save(model, bundled / "tiny_bundled")
    registry = {"tiny_bundled": {"bundled": True, "repo_id": "kssl/tiny_bundled", "revision": "bundled-1",
                                 "files": hub.files_with_checksums(bundled / "tiny_bundled")}}
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("KSSL_ZOO_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setattr(hub, "BUNDLED_DIR", str(bundled))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: any download would fail
    assert kssl.zoo.load("tiny_bundled").output_shape == (None, 4)
    (bundled / "tiny_bundled" / "model.weights.h5").write_bytes(b"not weights")
    with pytest.raises(hub.ChecksumError, match="model.weights.h5"):
        kssl.zoo.load("tiny_bundled")


def test_shipped_registry_entries_verify():
    """Every entry in the package's own registry that ships bundled files loads and matches its pins."""
    shipped = hub.registry(hub.REGISTRY_FILE)
    for name, spec in shipped.items():
        assert len(spec["revision"]) > 8 and set(spec["files"]) >= {"config.json", "model.weights.h5", "metadata.json"}
        if spec.get("bundled"):
            hub.verify(os.path.join(hub.BUNDLED_DIR, name), spec["files"])
