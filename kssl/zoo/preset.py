"""Presets: a directory per trained model, in the keras-hub manner.

    config.json        the SelfSupervisedModel (class + config, encoder and heads included)
    model.weights.h5   its weights
    metadata.json      versions, method, backbone, input shape, data, parameter count, metrics
    README.md          the model card (optional)
    assets/            what the input pipeline needs (optional): a text method's vocabulary, an audio
                       method's frame settings; plain text files listed in metadata.json's "assets"

`save` writes each file to a temporary name and renames it, so an interrupted save never leaves a
half-written file under a final name. `load` deserialises in Keras safe mode (no Lambda, no code
from the preset) and checks the versions the preset was saved with.
"""

import json
import os
import platform

import keras

import kssl
from kssl.training.files import save_weights_atomic, write_text_atomic

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
ASSETS_DIR = "assets"
REPORT_DIR = "report"  # where `kssl eval report` wrote before reports went to out/reports/
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
FEATURE_STATISTICS = "feature_statistics"  # metadata: the encoder's per-feature mean and std on its data


def _version_tuple(version):
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def _input_shape(encoder):
    """The encoder's input shape without the batch axis (a dict of them for dict inputs), JSON-able."""
    shape = encoder.input_shape
    if isinstance(shape, dict):
        return {name: list(s[1:]) for name, s in shape.items()}
    if isinstance(shape, list):
        return [list(s[1:]) for s in shape]
    return list(shape[1:])


def _check_asset_name(name):
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"asset names must be plain file names (no directories, no leading dot); got {name!r}.")
    return name


def save(model, directory, metadata=None, card=None, assets=None):
    """Saves a `kssl.SelfSupervisedModel` as a preset directory.

    Args:
        model: the trained model.
        directory: created if missing; an earlier preset in it is replaced whole: its files, and the model
            card, assets and report that no longer describe the model (other files are left alone).
        metadata: extra JSON-able facts (e.g. {"data": "fashion_mnist", "metrics": {...}}).
        card: model card text (Markdown) for README.md.
        assets: {file name: text} the model's input pipeline needs (e.g. {"vocabulary.txt": ...}), written
            to `assets/` and listed in the metadata; read them back with `read_asset`.

    Returns:
        The metadata dict written.

    Example: see `kssl.zoo.load`.
    """
    if not isinstance(model, kssl.SelfSupervisedModel):
        raise TypeError(f"`model` must be a kssl.SelfSupervisedModel; got {type(model).__name__}.")
    os.makedirs(directory, exist_ok=True)
    import tensorflow as tf

    info = {
        "kssl_version": kssl.__version__,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "python_version": platform.python_version(),
        "method": type(model).__name__,
        "backbone": model.encoder.name,
        "input_shape": _input_shape(model.encoder),
        "feature_dim": getattr(model, "feature_dim", None),
        "encoder_parameters": int(model.encoder.count_params()),
        "parameters": int(model.count_params()),
    }
    info.update(metadata or {})
    assets = {_check_asset_name(name): text for name, text in (assets or {}).items()}
    if assets:
        info["assets"] = sorted(assets)
    config = keras.saving.serialize_keras_object(model)
    write_text_atomic(os.path.join(directory, CONFIG_FILE), json.dumps(config, indent=2))
    save_weights_atomic(model, os.path.join(directory, WEIGHTS_FILE))
    write_text_atomic(os.path.join(directory, METADATA_FILE), json.dumps(info, indent=2, sort_keys=True))
    if card is not None:
        write_text_atomic(os.path.join(directory, CARD_FILE), card)
    if assets:
        os.makedirs(os.path.join(directory, ASSETS_DIR), exist_ok=True)
        for name, text in assets.items():
            write_text_atomic(os.path.join(directory, ASSETS_DIR, name), text)
    _remove_stale(directory, card is not None, assets)
    return info


def _remove_stale(directory, has_card, assets):
    """What an earlier preset in `directory` left that does not describe the model just saved: its model
    card, its assets, and a report written inside it (by `kssl eval report` before reports went to out/).
    Removed after the new files are in place."""
    import shutil

    if not has_card and os.path.isfile(os.path.join(directory, CARD_FILE)):
        os.remove(os.path.join(directory, CARD_FILE))
    assets_dir = os.path.join(directory, ASSETS_DIR)
    if os.path.isdir(assets_dir):
        for name in os.listdir(assets_dir):
            if name not in assets and os.path.isfile(os.path.join(assets_dir, name)):
                os.remove(os.path.join(assets_dir, name))
        if not os.listdir(assets_dir):
            os.rmdir(assets_dir)
    if os.path.isfile(os.path.join(directory, REPORT_DIR, "report.md")):
        shutil.rmtree(os.path.join(directory, REPORT_DIR))


def read_asset(directory, name):
    """The text of asset `name` of a preset (see `save`); a FileNotFoundError lists the preset's assets."""
    listed = read_metadata(directory).get("assets", [])
    path = os.path.join(directory, ASSETS_DIR, _check_asset_name(name))
    if name not in listed or not os.path.isfile(path) or os.path.islink(path):
        raise FileNotFoundError(f"preset {directory!r} has no asset {name!r}; it has {listed}.")
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_metadata(directory):
    """The preset's metadata.json as a dict; a missing or damaged file is an error that names its path."""
    path = os.path.join(directory, METADATA_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory!r} is not a preset directory: it has no {METADATA_FILE}.")
    try:
        with open(path, encoding="utf-8") as f:
            metadata = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}): the preset is damaged; save or download it "
                         "again.") from error
    if not isinstance(metadata, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(metadata).__name__}: the preset is damaged.")
    return metadata


def check_versions(metadata):
    """Refuses a preset saved by a newer kssl or another Keras major version, saying what to upgrade."""
    saved_kssl = metadata.get("kssl_version", "0")
    if _version_tuple(saved_kssl) > _version_tuple(kssl.__version__):
        raise RuntimeError(
            f"This preset was saved by kssl {saved_kssl}; you have kssl {kssl.__version__}. "
            f"Upgrade: pip install 'kssl>={saved_kssl}'."
        )
    saved_keras = metadata.get("keras_version", "0")
    if _version_tuple(saved_keras)[:1] != _version_tuple(keras.__version__)[:1]:
        raise RuntimeError(
            f"This preset was saved with Keras {saved_keras}; you have Keras {keras.__version__}. "
            f"Install a matching major version: pip install 'keras>={saved_keras}'."
        )


# Objects a preset may never ask for, safe mode or not: they carry Python code.
_CODE_CLASSES = {"Lambda", "__lambda__", "function", "__function__", "TFOpLambda"}


def check_config(config, source="config"):
    """Refuses a model config that asks for code: a Lambda layer or a function, or a class from a module
    outside keras and kssl that this process has not registered itself. Keras' safe mode refuses
    most of these too; this check is the explicit allowlist, made before Keras sees the config."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{source} must be a serialized Keras object (a JSON object with a class_name).")
    registered = keras.saving.get_custom_objects()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        class_name = node.get("class_name")
        if "class_name" in node and not isinstance(class_name, str):
            raise ValueError(f"{source}: `class_name` must be a string; got {class_name!r}.")
        if class_name in _CODE_CLASSES:
            raise ValueError(f"{source} asks for a {class_name!r} object, which carries code; kssl refuses to load it.")
        module = node.get("module")
        if isinstance(class_name, str) and isinstance(module, str):
            trusted = module == "keras" or module.startswith(("keras.", "kssl"))
            if not trusted and node.get("registered_name") not in registered:
                raise ValueError(
                    f"{source} asks for {class_name!r} from module {module!r}, which is neither keras nor kssl "
                    "nor registered in this process (keras.saving.register_keras_serializable); refusing it."
                )
        stack.extend(node.values())


def _mentions_module(config, package):
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and module.split(".")[0] == package:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def standardized(encoder, statistics):
    """`encoder` followed by a `keras.layers.Normalization` with the preset's feature statistics: features
    of mean 0 and standard deviation 1 on the data they were measured on, as a linear probe sees them. A
    feature constant on that data (std 0) is divided by a small floor instead.

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.convnet((8, 8, 1), widths=(4,))
    >>> standardized(encoder, {"mean": [0.0] * 4, "std": [1.0] * 4}).output_shape
    (None, 4)
    """
    import numpy as np

    mean, std = np.asarray(statistics["mean"], "float32"), np.asarray(statistics["std"], "float32")
    if mean.shape != std.shape or mean.shape != tuple(encoder.output_shape[1:]):
        raise ValueError(f"the feature statistics have {mean.shape} values but the encoder outputs "
                         f"{encoder.output_shape[1:]}: they were measured on another encoder.")
    std = np.maximum(std, 1e-3 * float(std.max(initial=0.0)) + 1e-12)
    inputs = keras.Input(encoder.input_shape[1:], name="images")
    outputs = keras.layers.Normalization(mean=mean, variance=std ** 2, name="feature_standardization")(encoder(inputs))
    return keras.Model(inputs, outputs, name=f"{encoder.name}_standardized")


def load(directory, include_head=False, trainable=True, standardize=None):
    """Loads a preset directory.

    Args:
        directory: a directory written by `kssl.zoo.save`.
        include_head: return the whole `SelfSupervisedModel` (heads and all) instead of its encoder.
        trainable: False freezes the returned encoder.
        standardize: end the encoder with a `keras.layers.Normalization` holding the preset's feature
            statistics (`kssl.eval.add_feature_statistics`), so that `keras.Sequential([encoder, Dense(10)])`
            trains on standardised features. None (default): when the preset carries them; True: refuse a
            preset without them; False: the raw features (kNN and other protocols on cosine similarity).

    Returns:
        The encoder (a plain `keras.Model`), or the full model with `include_head=True`.
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"`directory` {directory!r} is not a preset directory.")
    missing = [f for f in PRESET_FILES if not os.path.isfile(os.path.join(directory, f))]
    if missing:
        raise FileNotFoundError(f"`directory` {directory!r} is not a complete preset: missing {missing}.")
    for name in PRESET_FILES:  # a preset's files are its own: no symlink out of the directory
        if os.path.islink(os.path.join(directory, name)):
            raise ValueError(f"{directory}/{name} is a symbolic link; a preset's files must be plain files in it.")
    metadata = read_metadata(directory)
    check_versions(metadata)
    statistics = metadata.get(FEATURE_STATISTICS)
    if standardize and not statistics:
        raise ValueError(f"preset {directory!r} carries no feature statistics to standardize with; add them with "
                         "kssl.eval.add_feature_statistics(preset, data.train), or pass standardize=False.")
    config_path = os.path.join(directory, CONFIG_FILE)
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path} is not valid JSON ({error}).") from error
    if _mentions_module(config, "keras_hub"):  # a keras-hub backbone (MaskedLM): register its classes
        import keras_hub  # noqa: F401  (an installed dependency, not code from the preset)
    check_config(config, config_path)
    kssl._ensure_loaded()  # every kssl class registered with Keras (the `kssl` command imports lazily)
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:  # Keras raises many types for a config it cannot build
        raise ValueError(f"{config_path} does not describe a model kssl can load safely "
                         f"({type(error).__name__}: {str(error)[:300]}).") from error
    if not isinstance(model, kssl.SelfSupervisedModel):
        raise ValueError(f"{config_path} does not describe a kssl.SelfSupervisedModel.")
    weights = os.path.join(directory, WEIGHTS_FILE)
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py's OSError for a truncated file, Keras' ValueError for other shapes
        raise ValueError(f"{weights} cannot be read into the model {CONFIG_FILE} describes ({type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}): the preset is damaged; save or download it "
                         "again.") from error
    if include_head:
        return model
    model.encoder.trainable = trainable
    if statistics and standardize is not False:
        encoder = standardized(model.encoder, statistics)
        encoder.trainable = trainable
        return encoder
    return model.encoder
