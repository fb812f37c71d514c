"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.methods.colorization import Colorization
from kssl.methods.denoising import DenoisingAutoencoder
from kssl.methods.inpainting import ContextEncoder
from kssl.methods.simclr import SimCLR
from kssl.methods.split_brain import SplitBrain

METHODS = {
    "simclr": SimCLR,
    "denoising": DenoisingAutoencoder,
    "colorization": Colorization,
    "inpainting": ContextEncoder,
    "split_brain": SplitBrain,
}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    if name not in METHODS:
        raise ValueError(f"`method` must be one of {sorted(METHODS)}; got {name!r}.")
    return METHODS[name]
