"""kssl: self-supervised learning for Keras 3.

The package is laid out by role (data, layers, ops, backbones, training, methods, eval, zoo); the names a
user types stay short: `kssl.datasets`, `kssl.augment`, `kssl.backbones`, `kssl.methods`, `kssl.eval`,
`kssl.zoo`, `kssl.training`, `kssl.losses`.

`import kssl` loads the whole package, so that every kssl class is registered with Keras (a bare
`import kssl; keras.saving.load_model("simclr.keras")` works). Inside the `kssl` command only (the console
script, or `python -m kssl.cli`) it is lazy: TensorFlow is not imported until a command needs it, so
`kssl --help` answers at once; there the first use of any name below loads the whole package, as the
eager import does.
"""

import importlib.abc
import importlib.util
import os
import sys

__version__ = "0.1.0"

__all__ = [
    "SelfSupervisedModel", "audio", "augment", "backbones", "clustering", "color", "corrupt", "data", "datasets",
    "distribute", "eval", "files", "heads", "language", "layers", "losses", "methods", "momentum", "ops",
    "pretext", "text", "training", "zoo", "__version__",
]
# The short names are also importable (`from kssl.augment import SimCLRAugmentation`), as before the
# package was laid out by role.
_ALIASES = {
    "datasets": "kssl.data.images", "text": "kssl.data.text", "audio": "kssl.data.audio",
    "language": "kssl.data.language", "augment": "kssl.layers.augment", "color": "kssl.layers.color",
    "corrupt": "kssl.layers.corrupt", "heads": "kssl.layers.heads", "momentum": "kssl.layers.momentum",
    "clustering": "kssl.ops.clustering", "pretext": "kssl.ops.pretext", "distribute": "kssl.training.distribute",
    "files": "kssl.training.files",
}
_state = {"loading": False, "loaded": False}


def _load():
    """The whole package, in its floors' order (what `import kssl` did eagerly)."""
    _state["loading"] = True
    try:
        from kssl import losses  # noqa: F401
        from kssl.data import audio, language, text  # noqa: F401
        from kssl.data import images as datasets  # noqa: F401
        from kssl.layers import augment, color, corrupt, heads, momentum  # noqa: F401
        from kssl.ops import clustering, pretext  # noqa: F401
        from kssl.training import distribute, files  # noqa: F401
        from kssl.core import SelfSupervisedModel
        from kssl import backbones, data, eval, layers, methods, ops, training, zoo  # noqa: F401,A004

        namespace = globals()
        namespace["SelfSupervisedModel"] = SelfSupervisedModel
        for name, module in _ALIASES.items():
            namespace[name] = sys.modules[module]
            sys.modules.setdefault(f"{__name__}.{name}", sys.modules[module])
        _state["loaded"] = True
    finally:
        _state["loading"] = False


def _ensure_loaded():
    """Loads the whole package if it is not (inside the `kssl` command): what deserialising a kssl model needs."""
    if not _state["loaded"] and not _state["loading"]:
        _load()


def __getattr__(name):
    if name in __all__ and not _state["loading"] and not _state["loaded"]:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'kssl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec):
        if not _state["loaded"]:
            _load()
        return sys.modules[_ALIASES[spec.name.split(".", 1)[1]]]

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds `kssl.augment` & co. (`_ALIASES`) before the package is loaded: they are modules of other names."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == __name__ and name in _ALIASES:
            return importlib.util.spec_from_loader(fullname, _AliasLoader())
        return None


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def _is_the_kssl_command():
    """True in the `kssl` console script and in `python -m kssl.cli`."""
    if sys.argv and os.path.basename(sys.argv[0]) in ("kssl", "kssl.exe", "kssl-script.py"):
        return True
    argv = list(getattr(sys, "orig_argv", sys.argv))
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "kssl.cli"


if not _is_the_kssl_command():
    _load()
