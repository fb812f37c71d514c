"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.methods.moco import MoCo
from kssl.methods.simclr import SimCLR

METHODS = {"simclr": SimCLR, "moco": MoCo}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    if name not in METHODS:
        raise ValueError(f"`method` must be one of {sorted(METHODS)}; got {name!r}.")
    return METHODS[name]
