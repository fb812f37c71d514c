"""tools/bench/results_table.py: its table and README rewrite, on stored results (no training here)."""

import importlib.util
import json
import os

import pytest
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def results_table():
    spec = importlib.util.spec_from_file_location("results_table", os.path.join(ROOT, "tools", "bench", "results_table.py"))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in ("only", "reuse", "train", "out_root", "json", "readme"):
            if name in flags.FLAGS:
                delattr(flags.FLAGS, name)


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
        f"--json={tmp_path / 'table.json'}",
    ])
    results_table.main([])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| MoCo v2 | yes | 0.8610 | 0.8000 |" in text
    assert "| Triplet, batch-hard (views) | yes | 0.8500 | 0.8000 | 0.7000 |" in text  # kept from its earlier run
    assert "Siamese" not in text
    assert set(json.loads((tmp_path / "table.json").read_text())["rows"]) == {"moco", "triplet"}
