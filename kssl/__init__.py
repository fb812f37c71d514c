"""kssl: self-supervised learning for Keras 3.

The package is laid out by role (data, layers, ops, backbones, training, methods, eval, zoo); the names a
user types stay short: `kssl.datasets`, `kssl.augment`, `kssl.backbones`, `kssl.methods`, `kssl.eval`,
`kssl.zoo`, `kssl.training`, `kssl.losses`.
"""

import sys

__version__ = "0.1.0"

from kssl import losses  # noqa: E402
from kssl.data import audio, language, text  # noqa: E402
from kssl.data import images as datasets  # noqa: E402
from kssl.layers import augment, color, corrupt, heads, momentum  # noqa: E402
from kssl.ops import clustering, pretext  # noqa: E402
from kssl.training import distribute, files  # noqa: E402
from kssl.core import SelfSupervisedModel  # noqa: E402
from kssl import backbones, data, eval, layers, methods, ops, training, zoo  # noqa: E402,A004

# The short names are also importable (`from kssl.augment import SimCLRAugmentation`), as before the
# package was laid out by role.
for _name, _module in {
    "datasets": datasets, "text": text, "audio": audio, "language": language, "augment": augment,
    "color": color, "corrupt": corrupt, "heads": heads, "momentum": momentum, "clustering": clustering,
    "pretext": pretext, "distribute": distribute, "files": files,
}.items():
    sys.modules.setdefault(f"{__name__}.{_name}", _module)
del _name, _module

__all__ = [
    "SelfSupervisedModel", "audio", "augment", "backbones", "clustering", "color", "corrupt", "data", "datasets",
    "distribute", "eval", "files", "heads", "language", "layers", "losses", "methods", "momentum", "ops",
    "pretext", "text", "training", "zoo", "__version__",
]
