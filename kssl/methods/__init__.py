"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file, and the registry
(`kssl.methods.registry`: name -> class, how to build it for a dataset, its recipe, its data and probes)."""

from kssl.checks import check_choice
from kssl.methods import cpc
from kssl.methods.barlow_twins import BarlowTwins
from kssl.methods.byol import BYOL
from kssl.methods.colorization import Colorization
from kssl.methods.cpc import CPC, CPCAudio
from kssl.methods.denoising import DenoisingAutoencoder
from kssl.methods.dino import DINO
from kssl.methods.exemplar import Exemplar
from kssl.methods.inpainting import ContextEncoder
from kssl.methods.jigsaw import Jigsaw
from kssl.methods.mae import MAE
from kssl.methods.moco import MoCo
from kssl.methods.moco_v3 import MoCoV3
from kssl.methods.nnclr import NNCLR
from kssl.methods.pirl import PIRL
from kssl.methods.relative_patch import RelativePatchPosition
from kssl.methods.rotation import RotationPrediction
from kssl.methods.siamese import Siamese
from kssl.methods.simclr import SimCLR
from kssl.methods.simsiam import SimSiam
from kssl.methods.split_brain import SplitBrain
from kssl.methods.swav import SwAV
from kssl.methods.triplet import Triplet
from kssl.methods.vicreg import VICReg
from kssl.methods import mlm  # noqa: E402  (language: token inputs, kssl.language pipelines)
from kssl.methods.mlm import MaskedLM  # noqa: E402
from kssl.methods.word2vec import Word2Vec  # noqa: E402

from kssl.methods import registry  # noqa: E402

# name -> class, in the registry's order (README's results table, then colour, speech and language methods)
METHODS = {name: globals()[spec.class_name] for name, spec in registry.REGISTRY.items()}


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    return METHODS[check_choice("method", name, METHODS)]
