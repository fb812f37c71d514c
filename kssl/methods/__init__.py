"""Self-supervised methods, each a `kssl.SelfSupervisedModel` subclass in its own file."""

from kssl.checks import check_choice
from kssl.methods import cpc
from kssl.methods.colorization import Colorization
from kssl.methods.cpc import CPC, CPCAudio
from kssl.methods.denoising import DenoisingAutoencoder
from kssl.methods.exemplar import Exemplar
from kssl.methods.inpainting import ContextEncoder
from kssl.methods.jigsaw import Jigsaw
from kssl.methods.moco import MoCo
from kssl.methods.pirl import PIRL
from kssl.methods.relative_patch import RelativePatchPosition
from kssl.methods.rotation import RotationPrediction
from kssl.methods.siamese import Siamese
from kssl.methods.simclr import SimCLR
from kssl.methods.split_brain import SplitBrain
from kssl.methods.swav import SwAV
from kssl.methods.triplet import Triplet

METHODS = {
    # contrastive and metric learning
    "simclr": SimCLR,
    "moco": MoCo,
    "siamese": Siamese,
    "triplet": Triplet,
    # reconstruction
    "denoising": DenoisingAutoencoder,
    "colorization": Colorization,
    "inpainting": ContextEncoder,
    "split_brain": SplitBrain,
    # pretext classification
    "rotation": RotationPrediction,
    "jigsaw": Jigsaw,
    "relative_patch": RelativePatchPosition,
    "exemplar": Exemplar,
    # clustering
    "swav": SwAV,
    "pirl": PIRL,
    # predictive coding
    "cpc": CPC,
    "cpc_audio": CPCAudio,
}
from kssl.methods import mlm  # noqa: E402  (language: token inputs, kssl.language pipelines)
from kssl.methods.mlm import MaskedLM  # noqa: E402
from kssl.methods.word2vec import Word2Vec  # noqa: E402

METHODS.update({"mlm": MaskedLM, "word2vec": Word2Vec})


def get(name):
    """The method class registered under `name` (lower case), e.g. "simclr"."""
    return METHODS[check_choice("method", name, METHODS)]
