"""Evaluation protocols: linear probe, kNN and Recall@K on frozen features, fine-tuning on a fraction of labels."""

from kssl.eval.compare import compare, markdown_table
from kssl.eval.features import extract
from kssl.eval.finetune import finetune, label_subset
from kssl.eval.knn import knn, knn_predict
from kssl.eval.linear import linear_probe, linear_probe_features
from kssl.eval.protocols import evaluate
from kssl.eval.retrieval import recall_at_k, recall_at_k_features

__all__ = [
    "compare", "evaluate", "extract", "finetune", "knn", "knn_predict", "label_subset", "linear_probe",
    "linear_probe_features", "markdown_table", "recall_at_k", "recall_at_k_features",
]
