"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.core import check_choice
from kssl.methods.moco import MoCo
from kssl.methods.siamese import Siamese
from kssl.methods.simclr import SimCLR
from kssl.methods.triplet import Triplet

METHODS = {"simclr": SimCLR, "moco": MoCo, "siamese": Siamese, "triplet": Triplet}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    return METHODS[check_choice("method", name, METHODS)]
