"""Evaluation protocols for frozen encoders: linear probe and kNN."""

from kssl.eval.features import extract
from kssl.eval.knn import knn, knn_predict
from kssl.eval.linear import linear_probe

__all__ = ["extract", "knn", "knn_predict", "linear_probe"]
