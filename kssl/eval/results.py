"""Result tables of training runs: the same protocol for every encoder compared, printed as Markdown and
written as `results.json` (one row per encoder, plus the run's settings), the file
`tools/bench/results_table.py` reads.

    from kssl.eval import results
    rows = results.image_rows({"random_init": baseline, "simclr": encoder}, data.train, data.test, raw_pixels=True)
    results.write("out/simclr", rows, run={"epochs": 2, ...})
"""

import json
import os


def image_rows(encoders, train, test, raw_pixels=False, recall=False):
    """{name: {"linear", "knn", ...}} for each encoder (None entries are skipped), after raw pixels when
    `raw_pixels`; with `recall`, also Recall@1 on the test set (`kssl.eval.recall_at_k`)."""
    from kssl.eval.compare import compare
    from kssl.eval.retrieval import recall_at_k

    candidates = {"raw_pixels": None} if raw_pixels else {}
    candidates.update({name: encoder for name, encoder in encoders.items() if encoder is not None})
    rows = compare(candidates, train, test)
    if recall:
        for name, encoder in candidates.items():
            rows[name].update(recall_at_k(encoder, test, ks=(1,)))
    return rows


def write(out, rows, run, extra=None, columns=("linear", "knn"), title=None):
    """Prints `rows` as a Markdown table under `title` and writes OUT/results.json:
    {**rows, **extra, "run": run}. Returns the path."""
    from kssl.eval.compare import markdown_table
    from kssl.training.files import write_text_atomic

    if title:
        print(f"\n{title}")
    print(markdown_table(rows, columns))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "results.json")
    write_text_atomic(path, json.dumps({**rows, **(extra or {}), "run": run}, indent=2))
    return path


__all__ = ["image_rows", "write"]
