"""The method registry: one entry per method, read by `kssl pretrain`, the examples, the results table and
the zoo builder.

An entry (`MethodSpec`) says, in plain Python:
  - which class it is (`class_name`, `cls`) and how to build it for a dataset: its encoder
    (`encoder(data, options)`, default a convnet for the images) and the method with its augmentation
    (`build(encoder, data, options, batch_size, seed)`);
  - its recipe at the standard budget (`recipe`: epochs, batch, learning rate, weight decay, and every
    option with its default: method arguments and build options such as `widths` or `blur_prob`). The
    recipes are the examples' defaults, the ones that measured README's tables;
  - what data it needs (`data`: images / colour_images / text / speech; `batches`: unlabelled, labelled,
    indexed (PIRL), exemplar ids, token dicts, word windows or waveform crops) and the dataset it trains
    on by default and in tests (`dataset`, `test_dataset`: tiny, generated, offline);
  - what transfers and how it is probed (`transfer(model, data, options)`, `probe`), and how its
    random-init baseline is made (`baseline`: by default a copy of the encoder taken as soon as it is
    built, i.e. the very weights training starts from);
  - what its preset must carry besides the weights (`assets`: a vocabulary, frame settings).

Adding a method is one file plus one entry here, e.g. for a `kssl/methods/byol.py`:

    def _byol(encoder, data, options, batch_size, seed):
        return _methods().BYOL(encoder, augment=views(data, options, seed), **_take(options, "tau_base"))

    _image("byol", "BYOL", "BYOL", _byol, {"tau_base": 0.99}, "examples/byol_fashion_mnist.py")

Then `kssl pretrain byol` (with a `--tau_base` flag), `tools/bench/results_table.py --only byol` and
`tools/train_zoo.py --entry byol_convnet_fmnist` know it.

    >>> from kssl.methods import registry
    >>> spec = registry.get("simclr")
    >>> spec.recipe.epochs, spec.recipe.batch_size, spec.recipe.options["temperature"]
    (2, 128, 0.2)
    >>> "cpc_audio" in registry.names() and registry.get("mlm").data
    'text'
"""

import dataclasses
import importlib

from kssl.checks import check_choice
from kssl.data.synthetic import SYNTHETIC_TOPICS, synthetic_images, synthetic_text  # noqa: F401  (SYNTHETIC_TOPICS: cli, examples)

DATA_KINDS = ("images", "colour_images", "text", "speech")
PROBES = ("images", "sentences", "words", "speech")

# The standard budget of README's Fashion-MNIST results table (kssl.training.STANDARD_BUDGET).
IMAGE_BUDGET = {"epochs": 2, "batch_size": 128, "learning_rate": 2e-3, "weight_decay": 1e-4}
# What every Fashion-MNIST example shares: the convnet encoder and the SimCLR-style views' crop scale.
IMAGE_OPTIONS = {"backbone": "convnet", "widths": (32, 64, 128), "convs_per_stage": 1, "width": 64,
                 "crop_scale_min": 0.25}

# The ViT of `--backbone vit` (kssl.backbones.vit): 4x4 patches, 7x7 tokens on Fashion-MNIST.
VIT_OPTIONS = {"patch_size": 4, "vit_dim": 128, "vit_depth": 4, "vit_heads": 4, "vit_pooling": "cls"}

# Tiny, offline datasets for tests and smoke runs (generated here, deterministic).
SYNTHETIC_DATASETS = {"synthetic": "images", "synthetic_rgb": "colour_images", "synthetic_text": "text",
                      "tones": "speech"}
DATASETS = {"fashion_mnist": "images", "openclipart": "colour_images", "corpus": "text", "espeak": "speech",
            "fillets": "speech", **SYNTHETIC_DATASETS}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a method is trained at the standard budget. `options` holds every knob with its default:
    the method's constructor arguments and its build options (encoder widths, views, data settings)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 1e-4
    global_clipnorm: float = None
    seed: int = 0
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One registry entry (see the module docstring)."""

    name: str
    class_name: str
    title: str
    data: str
    build: object                # (encoder, data, options, batch_size, seed) -> the method
    recipe: Recipe
    encoder: object = None       # (data, options) -> the encoder; default: `image_encoder` for the images
    dataset: str = "fashion_mnist"
    test_dataset: str = "synthetic"
    batches: object = None       # (model, data, options, batch_size, seed) -> tf.data.Dataset; default unlabelled
    transfer: object = None      # (model, data, options) -> the encoder probes see; default model.encoder
    baseline: object = None      # (encoder, data, options) -> random-init baseline, taken as soon as the encoder
                                 #   is built (default: a copy); a zero-argument callable defers building it
    random_init: object = None   # (model, data, options) -> the baseline instead, taken after the method is built
    fit: object = None           # (model, batches, epochs, recipe-like kwargs) -> (history, seconds); default pretrain
    assets: object = None        # (data, options) -> {filename: text} that travels with the preset
    probe: str = "images"        # what `kssl eval` runs: images (linear/kNN), sentences, words or speech
    example: str = None          # examples/<script>.py
    rows: dict = None            # results-table rows: key -> (label, extra example flags, self-supervised)

    @property
    def cls(self):
        """The method class (imported on use)."""
        return getattr(importlib.import_module("kssl.methods"), self.class_name)

    @property
    def options(self):
        return dict(self.recipe.options)

    def with_options(self, **overrides):
        """The recipe's options with `overrides` (a KeyError names unknown ones)."""
        options = self.options
        unknown = sorted(set(overrides) - set(options))
        if unknown:
            raise KeyError(f"{self.name} has no option(s) {unknown}; its options are {sorted(options)}.")
        options.update(overrides)
        return options


REGISTRY = {}


def register(spec):
    check_choice("data", spec.data, DATA_KINDS)
    check_choice("probe", spec.probe, PROBES)
    REGISTRY[spec.name] = spec
    return spec


def names():
    return list(REGISTRY)


def get(name):
    """The entry registered under `name`, e.g. "simclr" (a ValueError suggests the closest name)."""
    return REGISTRY[check_choice("method", name, REGISTRY)]


# ---- data -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class ImageData:
    """`data` (a `kssl.datasets.Dataset`: its full train split and test split, for probes) and `train`
    (the split a method trains on: all of `data.train` or `train_examples` of it)."""

    name: str
    data: object
    train: object

    @property
    def image_shape(self):
        return self.data.image_shape


@dataclasses.dataclass
class TextData:
    """Documents (lists of sentences) to train on and held out. `corpus_train` is the whole training
    split when `train` is a subset of it (a WordPiece vocabulary is learnt on all of it, as README's MLM
    run did); `token_lists` are word lists to train word vectors on (default: the words of `train`)."""

    name: str
    train: list
    held_out: list
    corpus_train: list = None
    token_lists: list = None
    vocabulary: list = None   # the WordPiece vocabulary, once made (or given)
    words: object = None      # the word2vec `WordVocabulary`, once made

    def sentences(self):
        documents = self.train if self.corpus_train is None else self.corpus_train
        return [s for document in documents for s in document]

    def tokens(self):
        if self.token_lists is None:
            from kssl.data.text import words

            self.token_lists = [words(s) for document in self.train for s in document]
        return self.token_lists


@dataclasses.dataclass
class SpeechData:
    name: str
    clips: object
    train: object
    test: object


def datasets_for(spec):
    """The dataset names `spec` can train on (an image method takes grey or colour images)."""
    kinds = ("images", "colour_images") if spec.data == "images" else (spec.data,)
    return sorted(name for name, kind in DATASETS.items() if kind in kinds)


def load_data(spec, dataset=None, options=None, train_examples=0, seed=0):
    """The data `spec` trains on: ImageData, TextData or SpeechData. `dataset` defaults to the entry's."""
    import numpy as np

    options = spec.options if options is None else options
    dataset = check_choice("dataset", dataset or spec.dataset, DATASETS)
    kind = DATASETS[dataset]
    if dataset not in datasets_for(spec):
        raise ValueError(f"{spec.name} trains on {spec.data.replace('_', ' ')}; `dataset` {dataset!r} holds "
                         f"{kind.replace('_', ' ')}. Choose one of {datasets_for(spec)}.")
    if kind in ("images", "colour_images"):
        import kssl

        if dataset in SYNTHETIC_DATASETS:
            data = synthetic_images(dataset, seed=seed)
        elif dataset == "openclipart":
            data = kssl.datasets.load(dataset, image_size=options.get("image_size", 32), seed=seed)
        else:
            data = kssl.datasets.load(dataset)
        train = data.train.take(train_examples, seed=seed) if train_examples else data.train
        return ImageData(dataset, data, train)
    if kind == "text":
        if dataset == "synthetic_text":
            documents, _ = synthetic_text(seed=seed)
            held_out, _ = synthetic_text(documents=20, seed=seed + 1)
        else:
            import kssl

            corpus = kssl.datasets.text_corpus()
            documents, held_out = corpus.train, corpus.held_out
        corpus_train = documents
        if train_examples:
            pick = np.random.default_rng(seed).permutation(len(documents))[:train_examples]
            documents = [documents[i] for i in sorted(pick)]
        return TextData(dataset, documents, held_out, corpus_train=corpus_train)
    from kssl.data import audio

    if dataset == "fillets":
        clips = audio.fillets_clips(max_per_speaker=options["max_per_speaker"], seed=seed)
    else:
        clips = audio.espeak_clips(audio.SPEAKERS[: options["speakers"] or None],
                                   audio.SENTENCES[: options["sentences"] or None], seed=seed, verbose=False,
                                   engine=audio.ToneEngine() if dataset == "tones" else None)
    train, test = clips.split(options["test_fraction"], seed=seed)
    if train_examples and train_examples < len(train):
        train = train.subset(np.random.default_rng(seed).permutation(len(train))[:train_examples])
    return SpeechData(dataset, clips, train, test)


# ---- shared builders ------------------------------------------------------------------------------
def image_encoder(shape, options, name="convnet"):
    """The encoder of an image method: `options["backbone"]` ("convnet": `widths`, `convs_per_stage`; a
    ResNet: `width`) for images or tiles of `shape`."""
    from kssl import backbones

    if options["backbone"] == "convnet":
        return backbones.convnet(shape, widths=[int(w) for w in options["widths"]],
                                 convs_per_stage=options["convs_per_stage"], name=name)
    if options["backbone"] == "vit":  # `--backbone vit` works for every image method; VIT_OPTIONS unless given
        o = {**VIT_OPTIONS, **options}
        return backbones.vit(shape, patch_size=o["patch_size"], hidden_dim=o["vit_dim"], depth=o["vit_depth"],
                             num_heads=o["vit_heads"], pooling=o["vit_pooling"], name="vit")
    return backbones.get(options["backbone"], shape, width=options["width"])


def views(data, options, seed, **kwargs):
    """SimCLR-style views for the dataset (grey images: brightness/contrast instead of colour jitter;
    no blur unless asked)."""
    import kssl

    shape = data.image_shape
    kwargs.setdefault("blur_prob", options.get("blur_prob", 0.0))
    grey = shape[-1] == 1
    return kssl.augment.simclr_views(shape[0], channels=shape[-1], crop_scale=(options["crop_scale_min"], 1.0),
                                     grayscale_policy="brightness_contrast" if grey else None, seed=seed, **kwargs)


def copy_model(encoder):
    """A copy of `encoder` with its current weights (a random-init baseline when taken before training)."""
    import keras

    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    return copy


def _take(options, *keys):
    return {k: options[k] for k in keys}


def _trim(size, batch_size):
    """A queue size rounded down to a multiple of the batch (tiny smoke runs use small batches)."""
    return size - size % batch_size


def unlabelled_batches(model, data, options, batch_size, seed):
    return data.train.unlabelled(batch_size, seed=seed)


def labelled_batches(model, data, options, batch_size, seed):
    return data.train.labelled(batch_size, shuffle=True, seed=seed, drop_remainder=True)


def _pairs_batches(model, data, options, batch_size, seed):
    """Views as pairs (no labels), or same-class pairs from (images, labels) batches."""
    if options["pairs"] == "labels":
        return labelled_batches(model, data, options, batch_size, seed)
    return unlabelled_batches(model, data, options, batch_size, seed)


def default_encoder(data, options):
    return image_encoder(data.image_shape, options)


def transfer_encoder(spec, model, data, options):
    """What `spec`'s probes evaluate: `spec.transfer(...)`, or `model.encoder`."""
    return model.encoder if spec.transfer is None else spec.transfer(model, data, options)


# ---- the entries: contrastive and metric learning -----------------------------------------------
def _methods():
    return importlib.import_module("kssl.methods")


def _simclr(encoder, data, o, batch_size, seed):
    return _methods().SimCLR(encoder, augment=views(data, o, seed), **_take(o, "projection_dim", "temperature"))


def _moco(encoder, data, o, batch_size, seed):
    return _methods().MoCo(encoder, augment=views(data, o, seed), seed=seed, queue_size=_trim(o["queue_size"], batch_size),
                           **_take(o, "version", "projection_dim", "momentum"))


def _byol(encoder, data, o, batch_size, seed):
    return _methods().BYOL(encoder, augment=views(data, o, seed),
                           **_take(o, "projection_dim", "hidden_dim", "predictor_hidden_dim", "tau_base"))


def _simsiam(encoder, data, o, batch_size, seed):
    return _methods().SimSiam(encoder, augment=views(data, o, seed),
                              **_take(o, "projection_dim", "hidden_dim", "predictor_hidden_dim"))


def _nnclr(encoder, data, o, batch_size, seed):
    return _methods().NNCLR(encoder, augment=views(data, o, seed), seed=seed, queue_size=_trim(o["queue_size"], batch_size),
                            **_take(o, "projection_dim", "temperature"))


def _moco_v3(encoder, data, o, batch_size, seed):
    return _methods().MoCoV3(encoder, augment=views(data, o, seed), **_take(o, "projection_dim", "momentum", "temperature"))


def _barlow_twins(encoder, data, o, batch_size, seed):
    return _methods().BarlowTwins(encoder, augment=views(data, o, seed),
                                  **_take(o, "projection_dim", "hidden_dim", "lambda_"))


def _vicreg(encoder, data, o, batch_size, seed):
    return _methods().VICReg(encoder, augment=views(data, o, seed),
                             **_take(o, "projection_dim", "hidden_dim", "invariance_weight", "variance_weight",
                                     "covariance_weight"))


def _siamese(encoder, data, o, batch_size, seed):
    return _methods().Siamese(encoder, augment=views(data, o, seed), **_take(o, "embedding_dim", "margin", "pairs"))


def _triplet(encoder, data, o, batch_size, seed):
    return _methods().Triplet(encoder, augment=views(data, o, seed),
                              **_take(o, "embedding_dim", "margin", "mining", "distance", "pairs"))


# ---- reconstruction -------------------------------------------------------------------------------
def _denoising(encoder, data, o, batch_size, seed):
    return _methods().DenoisingAutoencoder(encoder, seed=seed, **_take(o, "corruption", "noise_level", "loss", "bottleneck"))


def _grey_encoder(data, o):
    size = data.image_shape[0]
    return image_encoder((size, size, 1), o)  # the L channel of Lab


def _colorization(encoder, data, o, batch_size, seed):
    import numpy as np

    import kssl

    class_weights = None
    if o["head"] == "classification" and o["rebalance"]:
        ab = np.asarray(kssl.color.rgb_to_lab(data.train.float_images()))[..., 1:]
        class_weights = kssl.color.rebalancing_weights(kssl.color.bin_prior(ab, kssl.color.ab_bins()))
    return kssl.methods.Colorization(encoder, head=o["head"], class_weights=class_weights)


def _colorization_baseline(encoder, data, o):
    initial = copy_model(encoder)
    return lambda: _methods().Colorization.rgb_encoder_of(initial)


def _inpainting(encoder, data, o, batch_size, seed):
    return _methods().ContextEncoder(encoder, seed=seed,
                                     **_take(o, "mask", "mask_size", "mask_count", "mask_coverage", "adversarial"))


def _split_brain_encoders(data, o):
    return image_encoder(data.image_shape, o, name="top"), image_encoder(data.image_shape, o, name="bottom")


def _split_brain(encoder, data, o, batch_size, seed):
    return _methods().SplitBrain(*encoder, split=o["split"])


# ---- pretext classification -----------------------------------------------------------------------
def _rotation(encoder, data, o, batch_size, seed):
    import keras

    augment = keras.layers.RandomFlip("horizontal", seed=seed) if o["flip"] else None
    return _methods().RotationPrediction(encoder, augment=augment)


def _upsample(data, o):
    import keras

    height, width = data.image_shape[:2]
    return keras.layers.Resizing(height * o["scale"], width * o["scale"]) if o["scale"] != 1 else None


def _tile_encoder(key):
    def encoder(data, o):
        return image_encoder((o[key], o[key], data.image_shape[-1]), o)

    return encoder


def _whole_image(model, data, o):
    import kssl

    return kssl.pretext.whole_image_encoder(model.encoder, data.image_shape, o["scale"])


def _whole_image_baseline(encoder, data, o):
    import kssl

    return kssl.pretext.whole_image_encoder(encoder, data.image_shape, o["scale"])  # a copy


def _jigsaw(encoder, data, o, batch_size, seed):
    return _methods().Jigsaw(encoder, augment=_upsample(data, o), seed=seed,
                             **_take(o, "tile_size", "gap", "jitter", "num_permutations"))


def _relative_patch(encoder, data, o, batch_size, seed):
    return _methods().RelativePatchPosition(encoder, augment=_upsample(data, o), chromatic_guard="none", seed=seed,
                                            **_take(o, "patch_size", "gap", "jitter", "pairs_per_image"))


def _exemplar_count(data, o):
    return min(o["exemplars"], len(data.train))


def _exemplar(encoder, data, o, batch_size, seed):
    import keras

    augment = keras.Sequential([views(data, o, seed),
                                keras.layers.RandomRotation(20 / 360, fill_mode="constant", seed=seed)],
                               name="exemplar_views")
    return _methods().Exemplar(encoder, num_exemplars=_exemplar_count(data, o), augment=augment,
                               **_take(o, "views", "head_layers"))


def _exemplar_batches(model, data, o, batch_size, seed):
    """(augmented images, exemplar id) batches: `exemplars` seed images, cycled to the training-set size
    so that an epoch has as many examples as the other methods'."""
    import numpy as np

    import kssl

    count = _exemplar_count(data, o)
    seeds = data.train.take(count, seed=seed + 1).images
    ids = np.arange(len(data.train)) % count
    return kssl.datasets.Split(seeds[ids], ids).labelled(batch_size, shuffle=True, seed=seed, drop_remainder=True)


def _multi_crop(data, o, seed):
    """The multi-crop views of SwAV and DINO: 2 large crops and `num_small` small ones."""
    import kssl

    shape = data.image_shape
    return kssl.augment.multi_crop_views(
        shape[0], o["small_size"], num_small=o["num_small"], channels=shape[-1],
        large_scale=(o["crop_scale_min"], 1.0), small_scale=(0.08, o["small_scale_max"]),
        grayscale_policy="brightness_contrast" if shape[-1] == 1 else None, blur_prob=0.0, seed=seed,
    )


# ---- clustering -----------------------------------------------------------------------------------
def _swav(encoder, data, o, batch_size, seed):
    return _methods().SwAV(encoder, augment=_multi_crop(data, o, seed), queue_size=_trim(o["queue_size"], batch_size),
                           **_take(o, "num_prototypes", "projection_dim", "temperature", "epsilon"))


def _pirl(encoder, data, o, batch_size, seed):
    check_choice("memory_init", o["memory_init"], ("random", "encoder"))
    return _methods().PIRL(encoder, memory_bank_size=len(data.train), num_negatives=min(o["num_negatives"], len(data.train)),
                           jitter=0, augment=views(data, o, seed), seed=seed,
                           **_take(o, "projection_dim", "temperature", "jigsaw_weight", "memory_momentum", "tile_size", "gap"))


def _pirl_batches(model, data, o, batch_size, seed):
    from kssl.methods.pirl import indexed_batches

    if o["memory_init"] == "encoder":  # before fit: a resumed run restores its own bank over this one
        model.initialize_memory_bank(data.train)
    return indexed_batches(data.train, batch_size, seed=seed, memory_bank_size=model.memory_bank_size)


def _dino(encoder, data, o, batch_size, seed):
    return _methods().DINO(encoder, augment=_multi_crop(data, o, seed), **_take(
        o, "output_dim", "hidden_dim", "bottleneck_dim", "student_temperature", "teacher_temperature",
        "warmup_teacher_temperature", "warmup_teacher_epochs", "center_momentum", "momentum_base",
        "freeze_last_layer_epochs"))


# ---- masked image modelling -----------------------------------------------------------------------
def _mae(encoder, data, o, batch_size, seed):
    import keras

    import kssl

    height, width = data.image_shape[:2]
    augment = keras.Sequential([kssl.augment.RandomResizedCrop(height, width, scale=(o["crop_scale_min"], 1.0), seed=seed),
                                keras.layers.RandomFlip("horizontal", seed=seed)], name="mae_view")
    return kssl.methods.MAE(encoder, augment=augment, seed=seed,
                            **_take(o, "mask_ratio", "decoder_dim", "decoder_depth", "decoder_heads", "norm_pix_loss"))


# ---- predictive coding ----------------------------------------------------------------------------
def _cpc(encoder, data, o, batch_size, seed):
    return _methods().CPC(encoder, image_shape=data.image_shape,
                          **_take(o, "patch_size", "patch_stride", "prediction_steps", "context_dim", "context_layers"))


def _cpc_baseline(encoder, data, o):
    initial = copy_model(encoder)

    def build():
        from kssl.methods import cpc

        return cpc.patch_grid_encoder(initial, data.image_shape, o["patch_size"], o["patch_stride"])

    return build


def _audio_encoder(data, o):
    from kssl.backbones.audio import audio_encoder

    return audio_encoder(width=o["width"])


def _cpc_audio(encoder, data, o, batch_size, seed):
    return _methods().CPCAudio(encoder, **_take(o, "prediction_steps", "context_dim", "negatives"))


def _cpc_audio_batches(model, data, o, batch_size, seed):
    import tensorflow as tf

    from kssl.training.tuning import without_autotune

    # Crops are cut a batch at a time from their indices (Clips.crop_reader): the shuffled indices give the
    # batches that shuffling the materialised crops with the same seed gave, without their gigabytes in memory.
    window, count = o["window"], len(data.train) * o["crops_per_clip"]
    read = data.train.crop_reader(window, o["crops_per_clip"], seed=seed)

    def load(indices):
        crops = tf.numpy_function(read, [indices], tf.float32, stateful=False)
        return tf.ensure_shape(crops, (batch_size, window))[..., None]

    return without_autotune(tf.data.Dataset.range(count).shuffle(count, seed=seed)
                            .batch(batch_size, drop_remainder=True).map(load).prefetch(2))


def _cpc_audio_random_init(model, data, o):
    """The whole network (encoder and context) at its initial weights, as the speech probes read both:
    the weights now, the network built when asked (after training, as the example always did)."""
    initial = model.get_weights()

    def build():
        twin = _cpc_audio(_audio_encoder(data, o), data, o, 1, 0)
        twin.set_weights(initial)
        return twin

    return build


def _speech_assets(data, o):
    import json

    from kssl.data import audio

    return {"frames.json": json.dumps({"sample_rate": audio.SAMPLE_RATE, "hop": audio.HOP, "window": o["window"],
                                       "input": "float32 waveforms in [-1, 1] shaped (batch, samples, 1)"}, indent=2)}


# ---- language -------------------------------------------------------------------------------------
def word_piece_vocabulary(data, o):
    """The WordPiece vocabulary of `data`'s training sentences (or `o["vocabulary_file"]`'s)."""
    from kssl.data.language import word_piece_vocabulary as make

    if o.get("vocabulary_file"):
        with open(o["vocabulary_file"], encoding="utf-8") as f:
            return f.read().split("\n")[:-1]
    return make(data.sentences(), o["vocabulary_size"], min_count=20 if data.name == "corpus" else 1)


def _vocabulary(data, o):
    if data.vocabulary is None:
        data.vocabulary = word_piece_vocabulary(data, o)
    return data.vocabulary


def _bert_encoder(data, o):
    from kssl.backbones.text import bert_encoder

    return bert_encoder(len(_vocabulary(data, o)), num_layers=o["num_layers"], hidden_dim=o["hidden_dim"],
                num_heads=max(o["hidden_dim"] // 64, 1), intermediate_dim=4 * o["hidden_dim"],
                max_sequence_length=o["sequence_length"])


def _mlm(encoder, data, o, batch_size, seed):
    return _methods().MaskedLM(encoder, next_sentence=o["next_sentence"])


def mlm_preprocessor(data, o):
    from kssl.data.language import MLMPreprocessor

    return MLMPreprocessor(_vocabulary(data, o), sequence_length=o["sequence_length"])


def _mlm_batches(model, data, o, batch_size, seed):
    return mlm_preprocessor(data, o).dataset(data.train, batch_size=batch_size, next_sentence=o["next_sentence"],
                                             seed=seed)


def _mlm_assets(data, o):
    import json

    return {"vocabulary.txt": "".join(t + "\n" for t in _vocabulary(data, o)),
            "preprocessor.json": json.dumps({"sequence_length": o["sequence_length"], "vocabulary": "vocabulary.txt",
                                             "lowercase": True}, indent=2)}


def word_vocabulary(data, o):
    """The `WordVocabulary` of `data`'s training sentences (computed once)."""
    from kssl.data.language import WordVocabulary

    if data.words is None:
        data.words = WordVocabulary(data.tokens(), min_count=o["min_count"])
    return data.words


def _no_encoder(data, o):
    return None  # the method builds its own (word2vec: the input vectors)


def _word2vec_optimizer(o):
    """The `optimizer` option, checked: one reading for the model's `update` and for its fit."""
    return check_choice("optimizer", o.get("optimizer", "hogwild_sgd"), ("hogwild_sgd", "rowwise_adagrad", "lazy_adam"))


def _word2vec(encoder, data, o, batch_size, seed):
    update = "hogwild" if _word2vec_optimizer(o) == "hogwild_sgd" else "minibatch"
    return _methods().Word2Vec(word_vocabulary(data, o).counts, seed=seed, update=update,
                               **_take(o, "embedding_dim", "mode", "negatives"))


def _word2vec_batches(model, data, o, batch_size, seed):
    from kssl.data.language import Word2VecData

    return Word2VecData(data.tokens(), word_vocabulary(data, o), mode=o["mode"], window=o["window"],
                        sample=o["sample"], batch_size=batch_size, seed=seed)


WORD2VEC_STEPS_PER_CALL = 50  # steps per call of the compiled train function: Keras' per-call cost, paid once per 50


def _word2vec_fit(model, batches, epochs, learning_rate, verbose="auto", steps_per_epoch=None, options=None, **_):
    """word2vec's optimiser (README's numbers), the `optimizer` option:
    - "hogwild_sgd" (the recipe): word2vec's own update, `Word2Vec(update="hogwild")`: SGD one example after
      another in kssl's C++ kernel, Hogwild over the CPU's threads, the learning rate decayed linearly to 1e-4
      (gensim's alpha 0.025 -> min_alpha 0.0001).
    - "rowwise_adagrad": `RowwiseAdagrad` (one accumulator per row; a step moves only the rows of its batch),
      constant learning rate (0.2 in docs/results/language.md), with the step XLA-compiled: on this CPU XLA runs
      word2vec's gathers and scatters ~3x faster than TensorFlow's kernels. Better WS353 / SimLex than
      "hogwild_sgd", ~3x slower.
    - "lazy_adam": `LazyAdam` (Adam on the batch's rows) with cosine decay to 0, not compiled (its `tf.unique`
      has no XLA kernel): the earlier recipe, ~3x slower than "rowwise_adagrad".
    No weight decay, no backup (a `keras.utils.PyDataset` of windows redrawn each epoch). Plain SGD on
    mini-batches (the mean gradient of 4 096 examples) lost 0.21 WS353 rho: "hogwild_sgd" steps per example."""
    import time

    import keras

    from kssl.training.optimizers import LazyAdam, RowwiseAdagrad

    name = _word2vec_optimizer(options or {})
    steps = steps_per_epoch or len(batches)
    # Keras rounds a given `steps_per_epoch` up to a multiple of the steps per call: take a divisor of it then
    # (an epoch of the whole PyDataset ends where the data does)
    per_call = min(WORD2VEC_STEPS_PER_CALL, steps)
    if steps_per_epoch:
        per_call = next(d for d in range(per_call, 0, -1) if steps % d == 0)
    if name == "hogwild_sgd":
        schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, epochs * steps, 1e-4)
        model.compile(optimizer=keras.optimizers.SGD(schedule), steps_per_execution=per_call)
    elif name == "rowwise_adagrad":
        model.compile(optimizer=RowwiseAdagrad(learning_rate), jit_compile=True, steps_per_execution=per_call)
    else:
        model.compile(optimizer=LazyAdam(keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps)))
    start = time.time()
    history = model.fit(batches, epochs=epochs, verbose=verbose, steps_per_epoch=steps_per_epoch)
    return history, time.time() - start


def _word2vec_assets(data, o):
    return {"words.txt": "".join(w + "\n" for w in word_vocabulary(data, o).words)}


def _none(*_):
    return None


# ---- the registry (in the order of README's results table) ----------------------------------------
def _image(name, class_name, title, build, options, example, rows=None, **kwargs):
    recipe = Recipe(**IMAGE_BUDGET, options={**IMAGE_OPTIONS, **options})
    return register(MethodSpec(name, class_name, title, "images", build, recipe, example=example,
                               rows=rows or {name: (title, [], True)}, **kwargs))


_FM = "examples/{}_fashion_mnist.py".format

_image("simclr", "SimCLR", "SimCLR", _simclr, {"projection_dim": 64, "temperature": 0.2, "blur_prob": 0.0},
       _FM("simclr"), rows={"simclr": ("SimCLR", ["--raw_pixels"], True)})
_image("moco", "MoCo", "MoCo v2", _moco, {"version": 2, "queue_size": 4096, "momentum": 0.99, "projection_dim": 64,
                                          "blur_prob": 0.0}, _FM("moco"))
_image("nnclr", "NNCLR", "NNCLR", _nnclr, {"projection_dim": 64, "queue_size": 8192, "temperature": 0.1,
                                          "blur_prob": 0.0}, _FM("nnclr"))
_image("moco_v3", "MoCoV3", "MoCo v3", _moco_v3, {"projection_dim": 64, "momentum": 0.99, "temperature": 0.2,
                                                 "blur_prob": 0.0}, _FM("moco_v3"))
_image("byol", "BYOL", "BYOL", _byol, {"projection_dim": 64, "hidden_dim": 256, "predictor_hidden_dim": 256,
                                      "tau_base": 0.99, "blur_prob": 0.0}, _FM("byol"))
_image("simsiam", "SimSiam", "SimSiam", _simsiam, {"projection_dim": 128, "hidden_dim": 256, "predictor_hidden_dim": 32,
                                                   "blur_prob": 0.0}, _FM("simsiam"))
_image("barlow_twins", "BarlowTwins", "Barlow Twins", _barlow_twins,
       {"projection_dim": 512, "hidden_dim": 512, "lambda_": 5e-3, "blur_prob": 0.0}, _FM("barlow_twins"))
_image("vicreg", "VICReg", "VICReg", _vicreg,
       {"projection_dim": 512, "hidden_dim": 512, "invariance_weight": 25.0, "variance_weight": 25.0,
        "covariance_weight": 1.0, "blur_prob": 0.0}, _FM("vicreg"))
_image("siamese", "Siamese", "Siamese, margin loss (views)", _siamese,
       {"pairs": "views", "margin": 1.0, "embedding_dim": 64}, _FM("siamese"), batches=_pairs_batches,
       rows={"siamese": ("Siamese, margin loss (views)", [], True),
             "siamese_labels": ("Siamese, margin loss (labels)", ["--pairs", "labels"], False)})
# batch_all on views: batch-hard's hardest negative of a 256-view batch is mostly another garment of the
# same class, and pushing it away cost class structure (README measured 0.8275 against random init 0.8448).
_image("triplet", "Triplet", "Triplet, batch-all (views)", _triplet,
       {"pairs": "views", "mining": "batch_all", "distance": "squared_euclidean", "margin": 0.2, "embedding_dim": 64},
       _FM("triplet"), batches=_pairs_batches,
       rows={"triplet": ("Triplet, batch-all (views)", [], True),
             "triplet_labels": ("Triplet, semi-hard (labels)", ["--pairs", "labels", "--mining", "semi_hard"], False)})
_image("rotation", "RotationPrediction", "Rotation prediction", _rotation, {"flip": True}, _FM("rotation"))
_image("jigsaw", "Jigsaw", "Jigsaw", _jigsaw,
       {"scale": 2, "tile_size": 14, "gap": 2, "jitter": 2, "num_permutations": 100}, _FM("jigsaw"),
       encoder=_tile_encoder("tile_size"), transfer=_whole_image, baseline=_whole_image_baseline)
_image("relative_patch", "RelativePatchPosition", "Relative patch position", _relative_patch,
       {"scale": 2, "patch_size": 14, "gap": 2, "jitter": 2, "pairs_per_image": 8}, _FM("relative_patch"),
       encoder=_tile_encoder("patch_size"), transfer=_whole_image, baseline=_whole_image_baseline)
# 2000 exemplars (each seen 60 times in 2 epochs, not 15 as with 8000) and a 2-layer head (the features
# before a nonlinear head keep more than the softmax needs, as SimCLR found): README measured 0.7573 with
# 8000 and a linear head, 0.8452 with 1000 and a linear head, 0.8578 with 2000 and a 2-layer head.
_image("exemplar", "Exemplar", "Exemplar", _exemplar, {"crop_scale_min": 0.2, "exemplars": 2000, "views": 2, "head_layers": 2},
       _FM("exemplar"), batches=_exemplar_batches)
# bottleneck "pooled": decoding the spatial map let pixel detail bypass the pooled features that transfer
# (README measured 0.8367 against random init 0.8448 that way).
_image("denoising", "DenoisingAutoencoder", "Denoising autoencoder", _denoising,
       {"corruption": "masking", "noise_level": 0.5, "loss": "mse", "bottleneck": "pooled"}, _FM("denoising"))
register(MethodSpec(
    "colorization", "Colorization", "Colorization (Lab, ab-bin classification)", "colour_images", _colorization,
    Recipe(**IMAGE_BUDGET, options={**IMAGE_OPTIONS, "head": "classification", "rebalance": True, "image_size": 32}),
    encoder=_grey_encoder, dataset="openclipart", test_dataset="synthetic_rgb",
    transfer=lambda model, data, o: model.rgb_encoder(), baseline=_colorization_baseline,
    example="examples/colorization_openclipart.py",
))
_image("inpainting", "ContextEncoder", "Context encoder (inpainting)", _inpainting,
       {"mask": "random_blocks", "mask_size": 10, "mask_count": 3, "mask_coverage": 0.25, "adversarial": False},
       _FM("inpainting"))
_image("split_brain", "SplitBrain", "Split-brain autoencoder", _split_brain,
       {"widths": (16, 32, 64), "split": "top_bottom"}, _FM("split_brain"),  # 64 + 64 = 128-d features
       encoder=_split_brain_encoders, baseline=_none, random_init=lambda model, data, o: copy_model(model.encoder))
_image("swav", "SwAV", "SwAV (2x28 + 2x14 multi-crop)", _swav,
       {"num_prototypes": 100, "projection_dim": 64, "num_small": 2, "small_size": 14, "small_scale_max": 0.25,
        "temperature": 0.1, "epsilon": 0.05, "queue_size": 0}, _FM("swav"))
_image("dino", "DINO", "DINO (2x28 + 2x16 multi-crop)", _dino,
       {"output_dim": 1024, "hidden_dim": 256, "bottleneck_dim": 64, "num_small": 2, "small_size": 16,
        "small_scale_max": 0.25, "student_temperature": 0.1, "teacher_temperature": 0.07,
        "warmup_teacher_temperature": 0.04, "warmup_teacher_epochs": 1.0, "center_momentum": 0.9,
        "momentum_base": 0.99, "freeze_last_layer_epochs": 1.0}, _FM("dino"))
_image("mae", "MAE", "MAE (ViT, 75 % of 4x4 patches masked)", _mae,
       {"backbone": "vit", **VIT_OPTIONS, "crop_scale_min": 0.2, "mask_ratio": 0.75, "decoder_dim": 64,
        "decoder_depth": 2, "decoder_heads": 4, "norm_pix_loss": True}, _FM("mae"))
_image("pirl", "PIRL", "PIRL (jigsaw invariance, memory bank)", _pirl,
       {"projection_dim": 128, "num_negatives": 4096, "temperature": 0.07, "jigsaw_weight": 0.5, "memory_momentum": 0.5,
        "tile_size": 8, "gap": 1, "memory_init": "encoder"}, _FM("pirl"), batches=_pirl_batches)
_image("cpc", "CPC", "CPC (6x6 patch rows)", _cpc,
       {"patch_size": 8, "patch_stride": 4, "prediction_steps": 3, "context_dim": 128, "context_layers": 2},
       "examples/cpc_images.py", encoder=_tile_encoder("patch_size"), transfer=lambda model, data, o: model.image_encoder(),
       baseline=_cpc_baseline)
register(MethodSpec(
    "cpc_audio", "CPCAudio", "CPC on raw speech", "speech", _cpc_audio,
    Recipe(epochs=10, batch_size=16, learning_rate=3e-4, options={
        "window": 16000, "crops_per_clip": 4, "width": 128, "context_dim": 128, "prediction_steps": 12,
        "negatives": "sequence", "speakers": 0, "sentences": 0, "max_per_speaker": 150, "test_fraction": 0.25, "probe_frames": 30000}),
    encoder=_audio_encoder, dataset="espeak", test_dataset="tones", batches=_cpc_audio_batches, baseline=_none,
    random_init=_cpc_audio_random_init, assets=_speech_assets, probe="speech", example="examples/cpc_audio.py",
))
register(MethodSpec(
    "mlm", "MaskedLM", "Masked language model (+ next sentence)", "text", _mlm,
    Recipe(epochs=1, batch_size=64, learning_rate=1e-3, weight_decay=0.01, global_clipnorm=1.0, options={
        "vocabulary_size": 8000, "sequence_length": 64, "num_layers": 2, "hidden_dim": 128, "next_sentence": True,
        "vocabulary_file": ""}),
    encoder=_bert_encoder, dataset="corpus", test_dataset="synthetic_text", batches=_mlm_batches, assets=_mlm_assets,
    probe="sentences", example="examples/mlm_corpus.py",
))
register(MethodSpec(
    "word2vec", "Word2Vec", "word2vec (negative sampling)", "text", _word2vec,
    # hogwild_sgd (docs/results/language.md, "2026-12-03 (late)"): full corpus, 5 epochs, analogy / WS353 / SimLex
    # 0.199 / 0.567 / 0.266 at 0.05 (word2vec.c's CBOW default), 0.157 / 0.483 / 0.213 at 0.025 (gensim's);
    # batches of 65 536 windows ran 38 s of fit against 41 s at 16 384 and 55 s at 4 096 (the kernel does one
    # example at a time whatever the batch: a bigger one only pays Keras' and the input pipeline's per-step cost
    # fewer times), same vectors to the noise (0.197 / 0.558 / 0.262; 0.195 / 0.568 / 0.264).
    # RowwiseAdagrad (`--optimizer rowwise_adagrad --learning_rate 0.2 --batch_size 4096`): analogy / WS353 /
    # SimLex 0.151 / 0.625 / 0.318 at a constant 0.2, 0.150 / 0.602 / 0.308 at 0.1, 0.126 / 0.611 / 0.276 at 0.4,
    # 0.134 / 0.590 / 0.289 with cosine decay from 0.2; batches of 16 384 were worse (10 % of the corpus).
    Recipe(epochs=5, batch_size=65536, learning_rate=0.05, weight_decay=0.0, options={
        "mode": "cbow", "embedding_dim": 100, "window": 5, "min_count": 5, "sample": 1e-3, "negatives": 5,
        "optimizer": "hogwild_sgd"}),
    encoder=_no_encoder, dataset="corpus", test_dataset="synthetic_text", batches=_word2vec_batches, fit=_word2vec_fit,
    assets=_word2vec_assets, probe="words", baseline=_none, example="examples/word2vec_corpus.py",
))


# ---- one training run, shared by `kssl pretrain` and the examples -------------------------------------
@dataclasses.dataclass
class Run:
    """What `train` returns: the trained model, its data and options, the encoders to probe, the history."""

    spec: MethodSpec
    model: object
    data: object
    options: dict
    random_init: object
    history: object
    seconds: float
    settings: dict

    def baseline(self):
        """The random-init baseline (None when the entry has none); built now if the entry deferred it."""
        import keras

        deferred = callable(self.random_init) and not isinstance(self.random_init, keras.Model)
        return self.random_init() if deferred else self.random_init

    def encoder(self):
        """The trained encoder the probes evaluate (e.g. the whole-image encoder of a tile encoder)."""
        return transfer_encoder(self.spec, self.model, self.data, self.options)

    def save(self, out, metadata=None, card=None):
        """The preset: the model, the assets its input pipeline needs, and how it was trained."""
        import kssl

        assets = self.spec.assets(self.data, self.options) if self.spec.assets else None
        info = {"data": self.data.name, "registry_name": self.spec.name, "probe": self.spec.probe,
                "options": _jsonable(self.options), "training": self.settings,
                "history": {k: [float(v) for v in vs] for k, vs in self.history.history.items()}}
        info.update(metadata or {})
        return kssl.zoo.save(self.model, out, metadata=info, card=card, assets=assets)


def _jsonable(options):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def build(spec, data, options, batch_size, seed=0):
    """(model, random-init baseline): `spec`'s encoder for `data`, its baseline taken at once (or deferred,
    see `Run.baseline`), then the method. Call after `keras.utils.set_random_seed` for reproducible weights."""
    encoder = (spec.encoder or default_encoder)(data, options)
    random_init = None if encoder is None else (spec.baseline or (lambda e, d, o: copy_model(e)))(encoder, data, options)
    model = spec.build(encoder, data, options, batch_size, seed)
    if spec.random_init is not None:
        random_init = spec.random_init(model, data, options)
    return model, random_init


def train(spec, data, options=None, epochs=None, batch_size=None, learning_rate=None, weight_decay=None, seed=0,
          out=None, steps_per_epoch=None, verbose="auto", strategy=None, jit_compile="auto", validation=False,
          keep_checkpoint=False):
    """Builds `spec`'s model for `data` (from `load_data`), snapshots its random-init baseline, and trains
    it with the recipe (overridden by the arguments given) through `kssl.training.pretrain` (AdamW, cosine,
    BackupAndRestore in OUT/backup) or the entry's own `fit`. Returns a `Run`.

    `steps_per_epoch` caps the steps of each epoch (quick runs); `strategy` a tf.distribute strategy whose
    scope builds and compiles the model; `keep_checkpoint` keeps OUT/backup after success (`kssl pretrain`
    continues a finished run from it)."""
    import contextlib

    import keras

    import kssl

    options = spec.options if options is None else options
    r = spec.recipe
    epochs, batch_size = epochs or r.epochs, batch_size or r.batch_size
    learning_rate = learning_rate or r.learning_rate
    weight_decay = r.weight_decay if weight_decay is None else weight_decay
    keras.utils.set_random_seed(seed)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model, random_init = build(spec, data, options, batch_size, seed)
        batches = (spec.batches or unlabelled_batches)(model, data, options, batch_size, seed)
        if spec.fit is not None:
            history, seconds = spec.fit(model, batches, epochs, learning_rate=learning_rate, verbose=verbose,
                                        steps_per_epoch=steps_per_epoch, options=options)
        else:
            if steps_per_epoch:
                batches = batches.take(steps_per_epoch)
            extra = {}
            if validation and spec.batches is None and isinstance(data, ImageData):  # plain image batches only
                extra["validation_data"] = data.data.test.unlabelled(batch_size, shuffle=False)
            history, seconds = kssl.training.pretrain(
                model, batches, epochs, learning_rate=learning_rate, weight_decay=weight_decay, out=out,
                verbose=verbose, global_clipnorm=r.global_clipnorm, jit_compile=jit_compile,
                keep_checkpoint=keep_checkpoint, **extra)
    settings = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                "weight_decay": weight_decay, "seed": seed, "steps_per_epoch": steps_per_epoch,
                "train_seconds": round(seconds, 1)}
    return Run(spec, model, data, options, random_init, history, seconds, settings)


__all__ = ["DATASETS", "ImageData", "MethodSpec", "REGISTRY", "Recipe", "Run", "SpeechData", "TextData", "build",
           "datasets_for", "get", "image_encoder", "load_data", "names", "register", "train", "transfer_encoder", "views"]
