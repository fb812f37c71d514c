"""kssl: self-supervised learning for Keras 3."""

import os as _os

__version__ = "0.1.0"

# Hide TensorFlow's C++ INFO lines (CUDA probing, CPU features) unless the user asked for them.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from kssl import augment, backbones, distribute, heads, losses  # noqa: E402
from kssl.core import SelfSupervisedModel  # noqa: E402
from kssl import methods, datasets, eval, zoo  # noqa: E402,A004

__all__ = [
    "SelfSupervisedModel", "augment", "backbones", "datasets", "distribute", "eval", "heads",
    "losses", "methods", "zoo", "__version__",
]
