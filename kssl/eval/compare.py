"""Side-by-side evaluation of several encoders, and the Markdown table the README and examples print."""

import time

from kssl.eval.protocols import evaluate


def compare(encoders, train, test, **evaluate_kwargs):
    """Linear-probe and kNN accuracy of each encoder in `encoders` (name -> encoder, or None for raw
    pixels), all under the same protocol (`kssl.eval.evaluate`).

    Returns:
        {name: {"linear", "knn", "probe_converged", "eval_seconds"}} in the order given.
    """
    rows = {}
    for name, encoder in encoders.items():
        start = time.time()
        result = evaluate(encoder, train, test, **evaluate_kwargs)
        rows[name] = {"linear": result["linear"], "knn": result["knn"],
                      "probe_converged": result["linear_details"]["converged"],
                      "eval_seconds": round(time.time() - start, 1)}
    return rows


def markdown_table(rows, columns=("linear", "knn"), first="features"):
    """`rows` ({name: {column: value}}) as a Markdown table; floats are printed with 4 decimals.

    Example:
    >>> import kssl
    >>> print(kssl.eval.markdown_table({"simclr": {"linear": 0.86931, "knn": 0.8141}}))
    | features | linear | knn |
    |---|---|---|
    | simclr | 0.8693 | 0.8141 |
    """
    def cell(value):
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(row.get(column, "")) for column in columns) + " |")
    return "\n".join(lines)
