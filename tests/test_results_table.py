"""tools/bench/results_table.py: its table and README rewrite, on stored results (no training here)."""

import json
import os

import pytest
from absl import flags

from helpers import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def results_table():
    yield from load_tool(os.path.join(ROOT, "tools", "bench", "results_table.py"),
                         ("only", "reuse", "train", "out_root", "json", "stored", "readme"))


def write_results(path, linear, budget, extra=None):
    os.makedirs(path, exist_ok=True)
    rows = {"random_init": {"linear": 0.84, "knn": 0.77}, os.path.basename(path): {"linear": linear, "knn": 0.8, **(extra or {})},
            "run": {"epochs": budget["epochs"], "batch_size": budget["batch_size"], "seed": budget["seed"],
                    "train_examples": 60000, "train_seconds": 300.0}}
    with open(os.path.join(path, "results.json"), "w") as f:
        json.dump(rows, f)


def test_table_from_stored_runs_rewrites_only_the_readme_block(results_table, tmp_path):
    from kssl.training import STANDARD_BUDGET as budget

    write_results(tmp_path / "moco", 0.861, budget)
    write_results(tmp_path / "triplet", 0.85, budget, {"recall@1": 0.7})
    write_results(tmp_path / "siamese", 0.5, {**budget, "epochs": 1})  # another budget: not reused
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results_table.START}\nold\n{results_table.END}\noutro\n")
    flags.FLAGS([
        "results_table", "--reuse", "--only=moco", f"--out_root={tmp_path}", f"--readme={readme}",
        f"--json={tmp_path / 'table.json'}", "--stored=",
    ])
    results_table.main([])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| MoCo v2 | yes | 0.8610 | 0.8000 |" in text
    assert "| Triplet, batch-all (views) | yes | 0.8500 | 0.8000 | 0.7000 |" in text  # kept from its earlier run
    assert "Siamese" not in text
    assert set(json.loads((tmp_path / "table.json").read_text())["rows"]) == {"moco", "triplet"}


def test_rows_missing_from_out_root_come_from_the_stored_json(results_table, tmp_path):
    from kssl.training import STANDARD_BUDGET as budget

    write_results(tmp_path / "runs" / "moco", 0.861, budget)
    write_results(tmp_path / "old" / "swav", 0.86, budget)
    write_results(tmp_path / "old" / "pirl", 0.3, {**budget, "epochs": 5})  # another budget: never used
    stored = {"rows": {key: json.loads((tmp_path / "old" / key / "results.json").read_text()) for key in ("swav", "pirl")}}
    (tmp_path / "stored.json").write_text(json.dumps(stored))
    readme = tmp_path / "README.md"
    readme.write_text(f"{results_table.START}\n{results_table.END}\n")
    flags.FLAGS([
        "results_table", "--notrain", f"--out_root={tmp_path / 'runs'}", f"--readme={readme}",
        f"--json={tmp_path / 'table.json'}", f"--stored={tmp_path / 'stored.json'}",
    ])
    results_table.main([])
    text = readme.read_text()
    assert "| MoCo v2 | yes | 0.8610 |" in text and "| SwAV (2x28 + 2x14 multi-crop) | yes | 0.8600 |" in text
    assert "PIRL" not in text
    assert set(json.loads((tmp_path / "table.json").read_text())["rows"]) == {"moco", "swav"}


def test_the_committed_table_json_gives_the_readme_table(results_table, tmp_path, monkeypatch):
    """docs/results/results_table.json is what the README's table was written from."""
    monkeypatch.chdir(tmp_path)  # an empty ./out: every row comes from the committed JSON
    readme = tmp_path / "README.md"
    readme.write_text(f"{results_table.START}\n{results_table.END}\n")
    flags.FLAGS([
        "results_table", "--notrain", "--out_root=out", f"--readme={readme}",
        f"--json={tmp_path / 'table.json'}", f"--stored={os.path.join(ROOT, 'docs', 'results', 'results_table.json')}",
    ])
    results_table.main([])
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        committed = f.read().split(results_table.START)[1].split(results_table.END)[0]
    assert readme.read_text().split(results_table.START)[1].split(results_table.END)[0] == committed


def test_rows_come_from_the_method_registry(results_table, monkeypatch):
    """A method registered with a row is run and tabled with its example and the registry's budget."""
    import dataclasses

    from kssl.methods import registry

    keys = list(results_table.RECIPES)
    assert keys == [key for spec in registry.REGISTRY.values() for key in (spec.rows or {})]
    assert keys.index("siamese_labels") == keys.index("siamese") + 1  # a method's rows stay together
    assert results_table.RECIPES["triplet_labels"] == (
        "Triplet, semi-hard (labels)", ["examples/triplet_fashion_mnist.py", "--pairs", "labels", "--mining", "semi_hard"],
        False)
    new = dataclasses.replace(registry.get("simclr"), name="byol", title="BYOL", example="examples/byol_fashion_mnist.py",
                              rows={"byol": ("BYOL", [], True)})
    monkeypatch.setitem(registry.REGISTRY, "byol", new)
    assert results_table.recipes()["byol"] == ("BYOL", ["examples/byol_fashion_mnist.py"], True)
    flags.FLAGS(["results_table", "--out_root=o"])
    monkeypatch.setattr(results_table, "RECIPES", results_table.recipes())
    assert results_table.command("byol") == ["examples/byol_fashion_mnist.py", "--epochs=2", "--batch_size=128",
                                             "--learning_rate=0.002", "--seed=0", "--out=o/byol"]
