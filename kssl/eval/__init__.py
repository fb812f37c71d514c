"""Evaluation protocols: linear probe and kNN on frozen features, fine-tuning on a fraction of labels."""

from kssl.eval.compare import compare, markdown_table
from kssl.eval.features import extract
from kssl.eval.finetune import finetune, label_subset
from kssl.eval.images import image_grid, write_png
from kssl.eval.knn import knn, knn_predict
from kssl.eval.linear import linear_probe, linear_probe_features
from kssl.eval.protocols import evaluate

__all__ = [
    "compare", "evaluate", "extract", "finetune", "image_grid", "knn", "knn_predict", "label_subset", "linear_probe",
    "linear_probe_features", "markdown_table", "write_png",
]
