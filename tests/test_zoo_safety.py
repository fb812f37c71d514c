"""The zoo's supply chain: what a preset or registry entry may not do, fuzzed configs, concurrent loads."""

import json
import os
import shutil
import subprocess
import sys

import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kssl
from hub_server import HubServer
from kssl.zoo import hub

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REVISION = "fedcba9876543210fedcba9876543210fedcba98"


def tiny_model(augment=None):
    return kssl.methods.SimCLR(kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny"), projection_dim=8,
                               augment=augment)


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("zoo") / "preset"
    kssl.zoo.save(tiny_model(), str(directory))
    return directory


def copy_with_config(preset_dir, target, config_text):
    shutil.copytree(preset_dir, target)
    (target / "config.json").write_text(config_text)
    return target


def test_a_lambda_layer_is_refused(tmp_path):
    directory = tmp_path / "lambda"
    kssl.zoo.save(tiny_model(augment=keras.layers.Lambda(lambda x: x)), str(directory))
    with pytest.raises(ValueError, match="asks for a 'Lambda' object, which carries code"):
        kssl.zoo.load(str(directory))


def test_a_class_from_a_foreign_module_is_refused(preset_dir, tmp_path):
    config = json.loads((preset_dir / "config.json").read_text())
    config["config"]["augment"] = {"module": "subprocess", "class_name": "Popen", "registered_name": "Popen",
                                   "config": {"args": ["touch", str(tmp_path / "pwned")]}}
    directory = copy_with_config(preset_dir, tmp_path / "foreign", json.dumps(config))
    with pytest.raises(ValueError, match="from module 'subprocess', which is neither keras nor kssl"):
        kssl.zoo.load(str(directory))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text, match", [
    ("{not json", "is not valid JSON"),
    ("[1, 2, 3]", "must be a serialized Keras object"),
    ('{"class_name": "Dense", "module": "keras.layers", "config": {"units": 3}}', "does not describe a kssl.SelfSupervisedModel"),
    ('{"class_name": "NoSuchThing", "module": "keras.layers", "config": {}}', "does not describe a model kssl can load safely"),
    ('{"class_name": [], "module": "kssl.methods.simclr", "config": {}}', "`class_name` must be a string"),  # found by the fuzzer
])
def test_malformed_configs_are_refused(preset_dir, tmp_path, text, match):
    directory = copy_with_config(preset_dir, tmp_path / "bad", text)
    with pytest.raises(ValueError, match=match):
        kssl.zoo.load(str(directory))


def test_a_symlink_out_of_the_preset_is_refused(preset_dir, tmp_path):
    directory = tmp_path / "linked"
    shutil.copytree(preset_dir, directory)
    outside = tmp_path / "outside.h5"
    shutil.move(directory / "model.weights.h5", outside)
    os.symlink(outside, directory / "model.weights.h5")
    with pytest.raises(ValueError, match="is a symbolic link"):
        kssl.zoo.load(str(directory))


def test_a_registry_entry_cannot_name_files_outside_the_cache(tmp_path, monkeypatch):
    registry = {"evil": {"repo_id": "x/y", "revision": REVISION, "files": {"../../evil.sh": "0" * 64}}}
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("KSSL_ZOO_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="lists files \\['../../evil.sh'\\]"):
        kssl.zoo.load("evil")
    assert not (tmp_path / "evil.sh").exists() and not (tmp_path / "cache").exists()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_configs_never_crash_or_write(preset_dir, tmp_path_factory, data):
    config = json.loads((preset_dir / "config.json").read_text())
    paths = list(_paths(config))
    for path in data.draw(st.lists(st.sampled_from(paths[1:]), min_size=1, max_size=3)):
        node = config
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = data.draw(JSON)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed this path
    root = tmp_path_factory.mktemp("fuzz")
    directory = copy_with_config(preset_dir, root / "preset", json.dumps(config))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    try:
        kssl.zoo.load(str(directory))
    except (ValueError, FileNotFoundError):
        pass  # refused with a clear error: fine. Any other exception type fails the test.
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written


def test_two_processes_loading_the_same_entry_both_succeed(preset_dir, tmp_path):
    files = hub.files_with_checksums(preset_dir)
    (tmp_path / "registry.json").write_text(json.dumps(
        {"tiny": {"repo_id": "kssl-test/tiny", "revision": REVISION, "files": files}}))
    with HubServer() as server:
        server.get_delay = 0.5  # both downloads are in flight at once
        for name in files:
            server.files[("kssl-test/tiny", REVISION, name)] = (preset_dir / name).read_bytes()
        env = {**os.environ, "KSSL_ZOO_REGISTRY": str(tmp_path / "registry.json"), "KSSL_CACHE": str(tmp_path / "cache"),
               "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": server.endpoint, "PYTHONPATH": ROOT}
        env.pop("HF_HUB_OFFLINE", None)
        code = "import kssl; e = kssl.zoo.load('tiny'); print('loaded', e.count_params())"
        procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0 and "loaded" in out, err[-2000:]
    entries = os.listdir(tmp_path / "cache" / "tiny")
    assert entries == [REVISION]  # one entry, no leftover temporary download
    hub.verify(str(tmp_path / "cache" / "tiny" / REVISION), files)
