"""The long-budget comparison: the methods people compare, each trained for more epochs than the standard
budget, one training at a time, with the machine's load recorded during each; writes README's
long-budget table (between its `long-budget` markers) and a JSON file.

    python tools/bench/long_budget.py                 # trains all seven, one after another (95 min on 2 cores)
    python tools/bench/long_budget.py --reuse         # keeps runs whose results.json has this budget
    python tools/bench/long_budget.py --notrain       # the table from the stored runs only

Each row is the method's examples/*.py script (the registry's recipe) with `--epochs EPOCHS` and the
standard batch, learning rate and seed, so any row can be reproduced alone with the command in its row.
Next to it the table shows the standard-budget row (docs/results/results_table.json), the random init of
the same network, and the images/s, ratio to a supervised step and step memory that `tools/bench/methods.py`
measured for all seven in one run (docs/results/methods_long_bench.json): throughput is compared within one
run, because identical runs here differ by 20-30 %.

Train time is only comparable between rows trained on an otherwise idle machine, so every run samples the
1-minute load average every 15 s while it trains and the table shows its mean and maximum; a run with a
mean load well above the cores its training uses shared the machine.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import LoadSampler  # noqa: E402

METHODS = ["simclr", "moco", "byol", "barlow_twins", "vicreg", "swav", "dino"]

flags.DEFINE_list("methods", METHODS, "Registry names to train and show, in table order.")
flags.DEFINE_integer("epochs", 10, "Pretraining epochs of every row (the standard budget is 2).")
flags.DEFINE_bool("reuse", False, "Reuse OUT_ROOT/<method>/results.json when it was made with this budget.")
flags.DEFINE_bool("train", True, "Train rows that have no reusable run (--notrain: the table from stored runs only).")
flags.DEFINE_string("out_root", "out/long", "Each run writes OUT_ROOT/<method>/.")
flags.DEFINE_string("json", "docs/results/long_budget.json", "Where to write all rows as JSON.")
flags.DEFINE_string("stored", "docs/results/long_budget.json",
                    "Rows measured earlier (a --json file of this script), used for methods with no run in OUT_ROOT.")
flags.DEFINE_string("standard", "docs/results/results_table.json", "The standard-budget rows (results_table.py's JSON).")
flags.DEFINE_string("throughput", "docs/results/methods_long_bench.json", "tools/bench/methods.py's JSON for these methods.")
flags.DEFINE_string("readme", "README.md", "README whose long-budget block is rewritten ('' to skip).")
FLAGS = flags.FLAGS

START, END = "<!-- long-budget:start -->", "<!-- long-budget:end -->"


def spec(name):
    from kssl.methods import registry

    if name not in registry.REGISTRY or registry.REGISTRY[name].data != "images":
        raise SystemExit(f"--methods: {name!r} is not an image method of the registry")
    return registry.REGISTRY[name]


def command(name):
    from kssl.training import STANDARD_BUDGET as b

    return [spec(name).example, f"--epochs={FLAGS.epochs}", f"--batch_size={b['batch_size']}",
            f"--learning_rate={b['learning_rate']}", f"--seed={b['seed']}", "--norandom_init",
            f"--out={os.path.join(FLAGS.out_root, name)}"]


def matches_budget(results):
    run = results.get("run", {})
    return run.get("epochs") == FLAGS.epochs and run.get("train_examples") == 60000


def train(name):
    path = os.path.join(FLAGS.out_root, name, "results.json")
    print(f"{name}: {' '.join(command(name))}", flush=True)
    start = time.time()
    with LoadSampler() as load:
        subprocess.run([sys.executable] + command(name), check=True)
    with open(path) as f:
        results = json.load(f)
    results["run"]["wall_seconds"] = round(time.time() - start, 1)
    results["load"] = load.summary()
    from kssl.training.files import write_text_atomic

    write_text_atomic(path, json.dumps(results, indent=2))  # the load stays with the run, for --reuse
    return results


def stored(path, keep):
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = json.load(f).get("rows", {})
    return {key: results for key, results in rows.items() if keep(results)}


def throughput():
    if not os.path.exists(FLAGS.throughput):
        return {}
    with open(FLAGS.throughput) as f:
        return {row["method"]: row for row in json.load(f)["rows"]}


def pair(row):
    return f"{row['linear']:.4f} / {row['knn']:.4f}"


def table(rows, standard, speed):
    from kssl.training import STANDARD_BUDGET

    lines = [f"| method | linear, {FLAGS.epochs} epochs | kNN, {FLAGS.epochs} epochs | "
             f"linear / kNN, {STANDARD_BUDGET['epochs']} epochs | "
             "random-init linear / kNN | train time | load (mean / max) | images/s | vs supervised step | "
             "step memory | command |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, results in rows.items():
        row, short, bench = results[name], standard.get(name), speed.get(name)
        load = results.get("load")
        cmd = "python " + " ".join([spec(name).example, f"--epochs {FLAGS.epochs}", f"--out {FLAGS.out_root}/{name}"])
        cells = [spec(name).title, f"{row['linear']:.4f}", f"{row['knn']:.4f}",
                 pair(short[name]) if short else "not run", pair(short["random_init"]) if short else "",
                 f"{results['run']['train_seconds']:.0f} s",
                 f"{load['mean']:.1f} / {load['max']:.1f}" if load else "not recorded",
                 f"{bench['images_per_second']:.0f}" if bench else "", f"{bench['ratio']:.2f}x" if bench else "",
                 f"{bench['step_bytes'] / 2**20:.0f} MiB" if bench else "", f"`{cmd}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    del argv
    for name in FLAGS.methods:
        spec(name)
    from kssl.training import STANDARD_BUDGET
    from kssl.training.files import replace_block, write_text_atomic

    os.makedirs(os.path.dirname(FLAGS.json) or ".", exist_ok=True)  # the JSON is rewritten after every trained row
    earlier = stored(FLAGS.stored, matches_budget)
    rows = {}
    for name in FLAGS.methods:
        path = os.path.join(FLAGS.out_root, name, "results.json")
        reusable = None
        if os.path.exists(path):
            with open(path) as f:
                reusable = json.load(f)
            reusable = reusable if matches_budget(reusable) else None
        if FLAGS.train and not (FLAGS.reuse and reusable):
            rows[name] = train(name)
            # written after every row, so an interrupted sweep keeps what it measured
            write_text_atomic(FLAGS.json, json.dumps({"epochs": FLAGS.epochs, "rows": {**earlier, **rows}}, indent=2))
        elif reusable or name in earlier:
            rows[name] = reusable or earlier[name]
    standard = stored(FLAGS.standard, lambda results: results.get("run", {}).get("epochs") == STANDARD_BUDGET["epochs"])
    text = table(rows, standard, throughput())
    print("\n" + text)
    write_text_atomic(FLAGS.json, json.dumps({"epochs": FLAGS.epochs, "rows": rows}, indent=2))
    if FLAGS.readme:
        replace_block(FLAGS.readme, START, END, text)
        print(f"rewrote the long-budget table in {FLAGS.readme}")


if __name__ == "__main__":
    app.run(main)
