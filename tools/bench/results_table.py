"""Trains every image method at one budget, evaluates each with the same protocol, and writes the
README's results table (between its `results-table` markers) and a JSON file.

    python tools/bench/results_table.py                      # everything: several hours on a 2-core CPU
    python tools/bench/results_table.py --reuse              # reuse runs whose results.json has this budget
    python tools/bench/results_table.py --only moco,simclr --reuse
    python tools/bench/results_table.py --notrain                   # the table from the stored runs only

Rows that are neither run now nor reusable from OUT_ROOT come from the committed `--stored` JSON
(docs/results/results_table.json, the last regeneration's rows), so regenerating one row on a fresh
clone keeps the others; the JSON is rewritten with every row of the new table.

The rows are the method registry's (`kssl.methods.registry`, each entry's `rows`): adding a method
there adds its row here. Each row is one examples/*.py script run with the standard budget
(kssl.training.STANDARD_BUDGET, the registry's image recipe:
2 epochs of the 60k Fashion-MNIST training images, batch 128, AdamW 2e-3 cosine, seed 0; the convnet
encoder), writing OUT_ROOT/<key>/results.json, so any row can be reproduced alone with the command
shown in its row. Slow by nature (5-15 min per method here, most of it the probe and kNN over 60k
training features), so it is not part of `make test`.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags


def recipes():
    """key -> (row label, example script and its row-specific flags, self-supervised?), from the method
    registry (`kssl.methods.registry`: each entry's `rows`, in the registry's order); the script's defaults
    are the entry's recipe."""
    from kssl.methods import registry

    return {key: (label, [spec.example, *flags_], ssl) for spec in registry.REGISTRY.values()
            for key, (label, flags_, ssl) in (spec.rows or {}).items()}


RECIPES = recipes()

flags.DEFINE_list("only", [], "Keys of RECIPES to run (default: all); the other rows come from earlier runs.")
flags.DEFINE_bool("reuse", False, "Reuse OUT_ROOT/<key>/results.json when it was made with this budget.")
flags.DEFINE_bool("train", True, "Train rows that have no reusable run (--notrain: the table from stored runs only).")
flags.DEFINE_string("out_root", "out", "Each run writes OUT_ROOT/<key>/.")
flags.DEFINE_string("json", "docs/results/results_table.json", "Where to write all rows as JSON.")
flags.DEFINE_string("stored", "docs/results/results_table.json",
                    "Rows measured earlier (a --json file of this script): used for keys with no run in OUT_ROOT "
                    "('' to use none).")
flags.DEFINE_string("readme", "README.md", "README whose results-table block is rewritten ('' to skip).")
FLAGS = flags.FLAGS

START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"


def budget():
    from kssl.training import STANDARD_BUDGET

    return STANDARD_BUDGET


def command(key):
    b = budget()
    return RECIPES[key][1] + [f"--epochs={b['epochs']}", f"--batch_size={b['batch_size']}",
                              f"--learning_rate={b['learning_rate']}", f"--seed={b['seed']}",
                              f"--out={os.path.join(FLAGS.out_root, key)}"]


def matches_budget(results):
    run, b = results.get("run", {}), budget()
    return (run.get("epochs") == b["epochs"] and run.get("batch_size") == b["batch_size"]
            and run.get("seed", 0) == b["seed"] and run.get("train_examples") == 60000)


def reusable(key):
    """OUT_ROOT/<key>/results.json if it exists and was made with this budget, else None."""
    path = os.path.join(FLAGS.out_root, key, "results.json")
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
        if matches_budget(results):
            return results
    return None


def stored_rows():
    """{key: results} of the --stored JSON, only rows made with this budget; {} when there is none."""
    if not FLAGS.stored or not os.path.exists(FLAGS.stored):
        return {}
    with open(FLAGS.stored) as f:
        rows = json.load(f).get("rows", {})
    return {key: results for key, results in rows.items() if key in RECIPES and matches_budget(results)}


def run(key):
    path = os.path.join(FLAGS.out_root, key, "results.json")
    if FLAGS.reuse and (results := reusable(key)):
        print(f"{key}: reusing {path}")
        return results
    print(f"{key}: {' '.join(command(key))}", flush=True)
    start = time.time()
    subprocess.run([sys.executable] + command(key), check=True)
    with open(path) as f:
        results = json.load(f)
    results["run"]["wall_seconds"] = round(time.time() - start, 1)
    return results


def table(rows):
    lines = ["| method | self-supervised | linear | kNN | Recall@1 | random-init linear / kNN | train time | command |",
             "|---|---|---|---|---|---|---|---|"]
    for key, results in rows.items():
        label, args, ssl = RECIPES[key]
        method_row = results[key]
        recall = method_row.get("recall@1")
        cmd = "python " + " ".join(args) + (f" --out {FLAGS.out_root}/{key}")
        lines.append(
            f"| {label} | {'yes' if ssl else 'no: uses labels'} | {method_row['linear']:.4f} | {method_row['knn']:.4f} | "
            f"{'' if recall is None else f'{recall:.4f}'} | {results['random_init']['linear']:.4f} / "
            f"{results['random_init']['knn']:.4f} | {results['run']['train_seconds']:.0f} s | `{cmd}` |"
        )
    baseline = next((r for r in rows.values() if "raw_pixels" in r), None)
    if baseline:
        lines.append(f"| raw pixels (no training) | - | {baseline['raw_pixels']['linear']:.4f} | "
                     f"{baseline['raw_pixels']['knn']:.4f} | | | | `python examples/simclr_fashion_mnist.py --raw_pixels` |")
    return "\n".join(lines)


def main(argv):
    del argv
    keys = FLAGS.only or list(RECIPES)
    unknown = sorted(set(keys) - set(RECIPES))
    if unknown:
        raise SystemExit(f"--only: unknown keys {unknown}; choose from {sorted(RECIPES)}")
    rows, stored = {}, stored_rows()
    for key in RECIPES:  # rows not asked for are kept from earlier runs of the same budget
        results = (run(key) if key in keys and FLAGS.train else reusable(key)) or stored.get(key)
        if results:
            rows[key] = results
    text = table(rows)
    print("\n" + text)
    from kssl.training.files import replace_block, write_text_atomic

    os.makedirs(os.path.dirname(FLAGS.json) or ".", exist_ok=True)
    write_text_atomic(FLAGS.json, json.dumps({"budget": budget(), "rows": rows}, indent=2))
    if FLAGS.readme:
        replace_block(FLAGS.readme, START, END, text)
        print(f"rewrote the results table in {FLAGS.readme}")


if __name__ == "__main__":
    app.run(main)
