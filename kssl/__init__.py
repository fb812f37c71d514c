"""kssl: self-supervised learning for Keras 3."""

__version__ = "0.1.0"

from kssl import augment, backbones, clustering, color, corrupt, distribute, files, heads, losses, pretext  # noqa: E402
from kssl.core import SelfSupervisedModel  # noqa: E402
from kssl import methods, datasets, eval, training, zoo  # noqa: E402,A004

__all__ = [
    "SelfSupervisedModel", "augment", "backbones", "clustering", "color", "corrupt", "datasets", "distribute", "eval", "heads",
    "losses", "methods", "pretext", "training", "zoo", "__version__",
]
