"""The kssl model zoo: presets (local directories) and the Hub registry.

    kssl.zoo.save(model, "out/simclr")          # a preset directory (text/audio: + assets/)
    kssl.zoo.load("out/simclr")                 # its encoder
    kssl.zoo.load("simclr_fmnist")              # a registry name: cached or downloaded, then verified
    kssl.zoo.list()                             # registry names
"""

import os

from kssl.zoo import hub
from kssl.zoo.preset import (  # noqa: F401
    ASSETS_DIR, CARD_FILE, CONFIG_FILE, FEATURE_STATISTICS, METADATA_FILE, PRESET_FILES, WEIGHTS_FILE,
    check_versions, read_asset, read_metadata, save, standardized,
)
from kssl.zoo import preset as _preset


def list():  # noqa: A001 - the zoo's own name for it
    """Names in the registry, sorted."""
    return sorted(hub.registry())


def load(name, revision=None, include_head=False, trainable=True, standardize=None):
    """Loads a preset's encoder (or the whole model with `include_head=True`).

    Args:
        name: a preset directory, or a registry name (see `kssl.zoo.list()`), fetched from the cache or
            downloaded at its pinned revision, and checksum-verified before anything is deserialised.
        revision: the pinned commit (default); any other is refused, having no checksums to verify.
        include_head: return the whole `SelfSupervisedModel`.
        trainable: False freezes the returned encoder.
        standardize: end the encoder with the preset's feature standardisation (None: when the preset
            carries feature statistics; see `kssl.zoo.preset.load`).

    Example:
    >>> import kssl, tempfile
    >>> model = kssl.methods.SimCLR(kssl.backbones.convnet((28, 28, 1), widths=(8,)), projection_dim=8)
    >>> directory = tempfile.mkdtemp()
    >>> kssl.zoo.save(model, directory)["method"]
    'SimCLR'
    >>> kssl.zoo.load(directory).output_shape
    (None, 8)
    """
    name = os.fspath(name)
    if os.path.isdir(name):
        directory = name
    elif os.sep in name or name.startswith("."):
        raise FileNotFoundError(f"`name` {name!r} looks like a path but is not a preset directory.")
    else:
        directory = hub.fetch(name, revision)
    return _preset.load(directory, include_head=include_head, trainable=trainable, standardize=standardize)
