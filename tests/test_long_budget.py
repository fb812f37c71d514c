"""tools/bench/long_budget.py: its commands, load sampling, table and README rewrite, on stored results."""

import json
import os
import time

import pytest
from absl import flags

from helpers import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAG_NAMES = ("methods", "epochs", "reuse", "train", "out_root", "json", "stored", "standard", "throughput", "readme")


@pytest.fixture
def long_budget():
    yield from load_tool(os.path.join(ROOT, "tools", "bench", "long_budget.py"), FLAG_NAMES)


def write_run(path, linear, epochs, load=None):
    os.makedirs(path, exist_ok=True)
    results = {os.path.basename(path): {"linear": linear, "knn": 0.81},
               "run": {"epochs": epochs, "batch_size": 128, "train_examples": 60000, "train_seconds": 612.4}}
    if load:
        results["load"] = load
    with open(os.path.join(path, "results.json"), "w") as f:
        json.dump(results, f)
    return results


def test_table_from_stored_runs_with_the_short_budget_and_throughput(long_budget, tmp_path):
    write_run(tmp_path / "runs" / "moco", 0.8683, 10, {"mean": 2.1, "max": 2.6})
    write_run(tmp_path / "runs" / "byol", 0.5, 3)  # another budget: not this column
    standard = {"moco": {"moco": {"linear": 0.8596, "knn": 0.7965}, "random_init": {"linear": 0.8448, "knn": 0.7758},
                         "run": {"epochs": 2}}}
    (tmp_path / "standard.json").write_text(json.dumps({"rows": standard}))
    (tmp_path / "speed.json").write_text(json.dumps({"rows": [
        {"method": "moco", "images_per_second": 1367.2, "ratio": 0.7098, "step_bytes": 75492864}]}))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{long_budget.START}\nold\n{long_budget.END}\noutro\n")
    flags.FLAGS(["long_budget", "--notrain", "--methods=moco,byol", f"--out_root={tmp_path / 'runs'}",
                 f"--json={tmp_path / 'long.json'}", "--stored=", f"--standard={tmp_path / 'standard.json'}",
                 f"--throughput={tmp_path / 'speed.json'}", f"--readme={readme}"])
    long_budget.main([])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert ("| MoCo v2 | 0.8683 | 0.8100 | 0.8596 / 0.7965 | 0.8448 / 0.7758 | 612 s | 2.1 / 2.6 | 1367 | 0.71x | "
            "72 MiB | `python examples/moco_fashion_mnist.py --epochs 10 --out " in text)
    assert "BYOL" not in text
    assert set(json.loads((tmp_path / "long.json").read_text())["rows"]) == {"moco"}


def test_commands_are_the_examples_at_the_standard_batch_and_seed(long_budget):
    flags.FLAGS(["long_budget", "--epochs=7", "--out_root=o"])
    assert long_budget.command("swav") == ["examples/swav_fashion_mnist.py", "--epochs=7", "--batch_size=128",
                                           "--learning_rate=0.002", "--seed=0", "--norandom_init", "--out=o/swav"]
    with pytest.raises(SystemExit, match="'word2vec' is not an image method"):
        long_budget.spec("word2vec")


def test_load_sampler_samples_while_the_block_runs(long_budget):
    with long_budget.LoadSampler(every=0.05) as load:
        time.sleep(0.3)
    summary = load.summary()
    assert summary["samples"] >= 3 and summary["cpus"] == os.cpu_count()
    assert 0 <= summary["mean"] <= summary["max"]


def test_the_committed_json_gives_the_readme_table(long_budget, tmp_path, monkeypatch):
    """docs/results/long_budget.json is what README's long-budget table was written from."""
    monkeypatch.chdir(tmp_path)  # no ./out/long: every row comes from the committed JSON
    readme = tmp_path / "README.md"
    readme.write_text(f"{long_budget.START}\n{long_budget.END}\n")
    results = os.path.join(ROOT, "docs", "results")
    flags.FLAGS(["long_budget", "--notrain", f"--readme={readme}", f"--json={tmp_path / 'long.json'}",
                 f"--stored={os.path.join(results, 'long_budget.json')}",
                 f"--standard={os.path.join(results, 'results_table.json')}",
                 f"--throughput={os.path.join(results, 'methods_long_bench.json')}"])
    long_budget.main([])
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        committed = f.read().split(long_budget.START)[1].split(long_budget.END)[0]
    assert readme.read_text().split(long_budget.START)[1].split(long_budget.END)[0] == committed
