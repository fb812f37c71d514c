"""tools/publish.py against the fixture Hub on 127.0.0.1: publish -> registry -> fresh cache -> load."""

import json
import os
import sys

import numpy as np
import pytest

import kssl
from hub_server import HubServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import publish  # noqa: E402


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    model = kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny"), projection_dim=8)
    kssl.zoo.save(model, tmp_path / "preset", metadata={
        "data": "fashion_mnist", "metrics": {"linear": 0.5}, "command": "python make_it.py"})
    monkeypatch.setenv("KSSL_ZOO_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", server.token)
        yield model, server, tmp_path


def run(tmp_path, lines, **kwargs):
    return publish.publish(str(tmp_path / "preset"), "kssl-test/tiny", name="tiny", out=lines.append,
                           registry=str(tmp_path / "registry.json"), **kwargs)


def test_publish_then_load_from_a_fresh_cache(hub_env):
    model, server, tmp_path = hub_env
    lines = []
    spec = run(tmp_path, lines)
    assert ("kssl-test/tiny", "v" + kssl.__version__) in server.tags
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert registry["tiny"]["revision"] == spec["revision"] and "README.md" in registry["tiny"]["files"]
    assert (tmp_path / "preset" / "README.md").read_text().startswith("---\nlicense:")  # card written
    encoder = kssl.zoo.load("tiny")
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype("float32")
    np.testing.assert_array_equal(encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))
    assert not any(server.token in line for line in lines)


def test_dry_run_uploads_nothing(hub_env):
    _, server, tmp_path = hub_env
    lines = []
    assert run(tmp_path, lines, dry_run=True) is None
    assert any("would upload" in line for line in lines) and any("sha256" in line for line in lines)
    assert not [r for r in server.requests if r[0] == "POST"]
    assert not (tmp_path / "registry.json").exists()


def test_existing_tag_needs_force(hub_env):
    _, server, tmp_path = hub_env
    run(tmp_path, [])
    with pytest.raises(publish.PublishError, match="--force"):
        run(tmp_path, [])
    assert run(tmp_path, [], force=True)["repo_id"] == "kssl-test/tiny"


def test_no_token_is_refused(hub_env, monkeypatch):
    _, _, tmp_path = hub_env
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(publish.PublishError, match="HF_TOKEN"):
        run(tmp_path, [])


def test_a_rejected_token_never_appears_in_the_error(hub_env, monkeypatch, capsys):
    _, server, tmp_path = hub_env
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_secret_token_123")
    lines = []
    with pytest.raises(publish.PublishError) as error:
        run(tmp_path, lines)
    captured = capsys.readouterr()
    for text in (str(error.value), captured.out, captured.err, *lines):
        assert "hf_wrong_secret_token_123" not in text


def test_metadata_without_metrics_is_refused(hub_env):
    _, _, tmp_path = hub_env
    meta = tmp_path / "preset" / "metadata.json"
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "metrics"}))
    with pytest.raises(publish.PublishError, match="metrics"):
        run(tmp_path, [], dry_run=True)


def test_assets_are_published_pinned_and_downloaded(hub_env):
    """A text or audio preset's input-pipeline files (assets/) travel through the Hub, checksummed like the rest."""
    model, server, tmp_path = hub_env
    kssl.zoo.save(model, tmp_path / "preset", assets={"vocabulary.txt": "[PAD]\nhello\n"}, metadata={
        "data": "fashion_mnist", "metrics": {"linear": 0.5}, "command": "python make_it.py"})
    spec = run(tmp_path, [])
    assert "assets/vocabulary.txt" in spec["files"]
    directory = kssl.zoo.hub.fetch("tiny")  # a fresh cache: downloaded and verified
    assert kssl.zoo.read_asset(directory, "vocabulary.txt") == "[PAD]\nhello\n"


def test_a_registry_entry_may_not_name_files_outside_the_preset(hub_env):
    _, _, tmp_path = hub_env
    (tmp_path / "registry.json").write_text(json.dumps({"bad": {
        "repo_id": "kssl-test/tiny", "revision": "0" * 40, "files": {"assets/../../x": "0" * 64}}}))
    with pytest.raises(ValueError, match="lists files"):
        kssl.zoo.hub.entry("bad")
