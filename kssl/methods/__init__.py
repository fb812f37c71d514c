"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.methods.moco import MoCo
from kssl.methods.siamese import Siamese
from kssl.methods.simclr import SimCLR
from kssl.methods.triplet import Triplet

METHODS = {"simclr": SimCLR, "moco": MoCo, "siamese": Siamese, "triplet": Triplet}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    if name not in METHODS:
        raise ValueError(f"`method` must be one of {sorted(METHODS)}; got {name!r}.")
    return METHODS[name]
