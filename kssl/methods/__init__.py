"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.methods.exemplar import Exemplar
from kssl.methods.jigsaw import Jigsaw
from kssl.methods.relative_patch import RelativePatchPosition
from kssl.methods.rotation import RotationPrediction
from kssl.methods.simclr import SimCLR

METHODS = {
    "simclr": SimCLR,
    "rotation": RotationPrediction,
    "jigsaw": Jigsaw,
    "relative_patch": RelativePatchPosition,
    "exemplar": Exemplar,
}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    if name not in METHODS:
        raise ValueError(f"`method` must be one of {sorted(METHODS)}; got {name!r}.")
    return METHODS[name]
