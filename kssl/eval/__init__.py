"""Evaluation protocols (the seeds'): linear probe, kNN, Recall@K and label fractions on frozen features,
fine-tuning on a fraction of labels, transfer, layer-wise probes, alignment/uniformity, and plots; the
text (`kssl.eval.text`) and speech (`kssl.eval.audio`) probes; result tables (`kssl.eval.results`)."""

from kssl.eval import audio, results, text  # noqa: F401
from kssl.eval.compare import compare, markdown_table
from kssl.eval.features import add_feature_statistics, extract, feature_statistics, layer_encoder
from kssl.eval.finetune import finetune, label_subset, label_subset_index
from kssl.eval.geometry import alignment, alignment_uniformity, uniformity
from kssl.eval.images import image_grid, write_png
from kssl.eval.knn import knn, knn_predict
from kssl.eval.linear import linear_probe, linear_probe_features
from kssl.eval.plots import fraction_plot, history_plot, tsne_plot, umap_plot
from kssl.eval.protocols import adapt_images, evaluate, label_fractions, transfer
from kssl.eval.report import write_report
from kssl.eval.retrieval import recall_at_k, recall_at_k_features

__all__ = [
    "adapt_images", "add_feature_statistics", "alignment", "alignment_uniformity", "compare", "evaluate", "extract",
    "feature_statistics", "finetune",
    "fraction_plot", "history_plot", "image_grid", "knn", "knn_predict", "label_fractions", "label_subset",
    "label_subset_index", "layer_encoder", "linear_probe", "linear_probe_features", "markdown_table",
    "recall_at_k", "recall_at_k_features", "transfer", "tsne_plot", "umap_plot", "uniformity", "write_png", "write_report",
]
from kssl.eval.words import analogy, word_similarity  # noqa: E402  (word vectors: kssl/eval/words.py)

__all__ += ["analogy", "word_similarity"]
