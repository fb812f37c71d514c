"""`write_report`: the whole evaluation suite for one preset, as a Markdown page with PNG plots.

    kssl eval report out/demo --dataset fashion_mnist          # writes out/reports/demo/report.md

Sections: linear probe and kNN at 1% / 10% / 100% of the labels (the preset's encoder next to the
same architecture freshly initialised), alignment and uniformity on the method's own augmented pairs,
a t-SNE of test embeddings, the training curves recorded in the preset's metadata.
"""

import json
import os

import numpy as np

from kssl.eval.features import extract
from kssl.eval.geometry import alignment_uniformity
from kssl.eval.plots import fraction_plot, history_plot, tsne_plot
from kssl.eval.protocols import label_fractions


def write_report(preset, dataset=None, out=None, fractions=(0.01, 0.1, 1.0), tsne_count=2000, seed=0):
    """Evaluates a preset directory and writes `report.md`, `report.json` and PNGs to `out` (default:
    PRESET/report; `kssl eval report` passes out/reports/NAME, never a preset's own directory). Returns the
    results dict.

    Args:
        preset: a preset directory (`kssl.zoo.save`).
        dataset: dataset name; default: the one recorded in the preset's metadata.
        fractions: label fractions of the linear/kNN table and plot.
        tsne_count: test points in the t-SNE plot.
    """
    import keras

    from kssl import zoo
    from kssl.data import images as datasets

    metadata = zoo.read_metadata(preset)
    dataset = dataset or metadata.get("data")
    if not dataset:
        raise ValueError("`dataset` must be given: the preset's metadata does not record its data.")
    out = out or os.path.join(preset, "report")
    os.makedirs(out, exist_ok=True)
    model = zoo.load(preset, include_head=True)
    encoder = model.encoder
    encoder.trainable = False
    keras.utils.set_random_seed(seed)
    random_init = keras.models.clone_model(encoder)  # same architecture, fresh initial weights
    data = datasets.load(dataset)
    name = metadata.get("method", type(model).__name__).lower()

    results = {"preset": preset, "dataset": dataset, "method": name, "fractions": {}, "geometry": {}}
    for label, candidate in ((name, encoder), ("random_init", random_init)):
        results["fractions"][label] = label_fractions(candidate, data.train, data.test, fractions=fractions, seed=seed)
    augment = model.augment[0] if isinstance(model.augment, list) else model.augment
    if augment is not None:
        for label, candidate in ((name, encoder), ("random_init", random_init)):
            results["geometry"][label] = alignment_uniformity(candidate, data.test, augment, seed=seed)

    plots = {"fractions": fraction_plot(
        {label: {f: row["linear"] for f, row in curve.items()} for label, curve in results["fractions"].items()},
        os.path.join(out, "label_fractions.png"), title=f"linear probe on {dataset} test"),
        "tsne": tsne_plot(extract(encoder, data.test), data.test.labels, os.path.join(out, "tsne.png"),
                          class_names=data.class_names, count=tsne_count, seed=seed,
                          title=f"t-SNE of {name} features, {dataset} test")}
    if metadata.get("history"):
        plots["history"] = history_plot(metadata["history"], os.path.join(out, "history.png"), title=f"{name} pretraining")
    results["plots"] = {key: os.path.basename(path) for key, path in plots.items()}

    from kssl.training.files import write_text_atomic

    write_text_atomic(os.path.join(out, "report.json"), json.dumps(_jsonable(results), indent=2))
    write_text_atomic(os.path.join(out, "report.md"), _markdown(results, metadata))
    return results


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _command(metadata):
    """The command that trained the preset (older `kssl pretrain` presets store it as `pretrain_command` only)."""
    return metadata.get("command") or metadata.get("pretrain_command")


def _markdown(results, metadata):
    fractions = sorted(next(iter(results["fractions"].values())))
    head = " | ".join(f"{100 * f:g}% linear | {100 * f:g}% kNN" for f in fractions)
    lines = [f"# Evaluation report: {results['method']} on {results['dataset']}", "",
             f"Preset: `{results['preset']}`" + (f", trained with `{_command(metadata)}`" if _command(metadata) else ""),
             "", "## Test accuracy against the fraction of training labels", "",
             f"| encoder | {head} |", "|---|" + "---|---|" * len(fractions)]
    for label, curve in results["fractions"].items():
        cells = " | ".join(f"{curve[f]['linear']:.4f} | {curve[f]['knn']:.4f}" for f in fractions)
        lines.append(f"| {label} | {cells} |")
    examples = ", ".join(f"{100 * f:g}%: {results['fractions'][results['method']][f]['examples']}" for f in fractions)
    lines += ["", f"Labelled examples per fraction (class-balanced, seed fixed): {examples}.", "",
              f"![accuracy against label fraction]({results['plots']['fractions']})", ""]
    if results["geometry"]:
        lines += ["## Alignment and uniformity (Wang & Isola, 2020; lower is better for both)", "",
                  "| encoder | alignment | uniformity |", "|---|---|---|"]
        for label, row in results["geometry"].items():
            lines.append(f"| {label} | {row['alignment']:.4f} | {row['uniformity']:.4f} |")
        lines += ["", "Positive pairs: two views of the same test image from the method's own augmentation.", ""]
    lines += ["## t-SNE of the test set", "", f"![t-SNE]({results['plots']['tsne']})", ""]
    if "history" in results["plots"]:
        lines += ["## Pretraining curves", "", f"![training curves]({results['plots']['history']})", ""]
    return "\n".join(lines)
