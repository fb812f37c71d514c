"""Pretext targets for the language methods, made in the input pipeline (like kssl.pretext for images).

Masked language modelling (BERT, Devlin et al. 2019):
    WordPiece tokens -> [CLS] A [SEP] B [SEP] -> select 15% of the non-special tokens; of those
    80% -> [MASK], 10% -> a random token, 10% unchanged; predict the originals.
    Next-sentence prediction: B is A's true next sentence half of the time (label 1), a random
    sentence of another document otherwise (label 0).
Tokenization, packing and masking are keras-hub's BERT preprocessors (`BertTokenizer`, `BertMaskedLMPreprocessor`,
`BertTextClassifierPreprocessor`); only the sentence pairing is written here (keras-hub has none).

word2vec (Mikolov et al. 2013): a vocabulary of words seen `min_count` times, frequent-word
subsampling (keep a word of frequency f with probability (sqrt(f/t) + 1) t/f, the C tool's and gensim's
formula), a dynamic window (each centre word draws its window b uniformly from 1..window), and a table
for negatives drawn from unigram^0.75. Written with numpy because neither Keras nor keras-hub has it
(`keras.preprocessing.sequence.skipgrams` is gone from Keras 3).
"""

import collections
import math
import random
import re

import keras
import numpy as np

from kssl.checks import check_choice, check_positive_int, check_probability
from kssl.training.tuning import without_autotune

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


# ---- masked language modelling -------------------------------------------------------------------
def word_piece_vocabulary(sentences, vocabulary_size=8000, min_count=20):
    """A lower-cased WordPiece vocabulary learnt on `sentences`; the special tokens come first ([PAD] is 0).

    The same learner as keras-hub's `compute_word_piece_vocabulary` (tensorflow-text's
    `wordpiece_tokenizer_learner_lib.learn`, with its defaults and the "##" joiner), fed word counts made
    here: BERT's pre-tokenization (lower case, accents stripped, split on spaces and punctuation), words
    seen fewer than `min_count` times dropped. keras-hub counts words with a Python loop over a
    tf.data pipeline and then learns on every distinct word, which took over 15 minutes on this corpus
    (132 k distinct words) on a shared 2-core machine; pruning rare words (18 k left at 20) takes ~4.
    """
    import collections
    import unicodedata

    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    check_positive_int("vocabulary_size", vocabulary_size, minimum=len(SPECIAL_TOKENS) + 1)
    check_positive_int("min_count", min_count)
    counts = collections.Counter()
    for sentence in sentences:
        sentence = "".join(c for c in unicodedata.normalize("NFD", sentence.lower()) if unicodedata.category(c) != "Mn")
        counts.update(re.findall(r"\w+|[^\w\s]", sentence))
    word_counts = [(w, c) for w, c in counts.items() if c >= min_count]
    vocabulary = learner.learn(word_counts, vocab_size=vocabulary_size, reserved_tokens=list(SPECIAL_TOKENS),
                               include_joiner_token=True, joiner="##")
    return vocabulary[:vocabulary_size]


def next_sentence_pairs(documents, seed=0):
    """Sentence pairs for NSP: for every sentence with a successor in its document, with probability 1/2
    the true next sentence (label 1), else a random sentence of a different document (label 0).
    Returns three lists `(first, second, labels)`. Needs at least two documents."""
    if len(documents) < 2:
        raise ValueError(f"`documents` must hold at least 2 documents for next-sentence pairs; got {len(documents)}.")
    rng = np.random.default_rng(seed)
    lengths = np.array([len(d) for d in documents])
    starts = np.concatenate([[0], np.cumsum(lengths)])
    first, second, labels = [], [], []
    for doc_index, document in enumerate(documents):
        for i in range(len(document) - 1):
            first.append(document[i])
            if rng.random() < 0.5:
                second.append(document[i + 1])
                labels.append(1)
            else:
                # A uniformly random sentence outside this document.
                flat = int(rng.integers(starts[-1] - lengths[doc_index]))
                if flat >= starts[doc_index]:
                    flat += lengths[doc_index]
                other = int(np.searchsorted(starts, flat, side="right") - 1)
                second.append(documents[other][flat - starts[other]])
                labels.append(0)
    return first, second, labels


class MLMPreprocessor:
    """Text -> masked BERT inputs, with keras-hub layers, as a `tf.data` map.

    Output: `(x, y)`, Keras' inputs and targets. `x`: `token_ids` (masked), `segment_ids`, `padding_mask`,
    `mask_positions`; `y`: `mask_ids` (the original tokens there), `mask_weights` (1 for a real selection,
    0 for padding) and `next_sentence_labels`.

    Args:
        vocabulary: WordPiece vocabulary (list of tokens, `SPECIAL_TOKENS` first).
        sequence_length: tokens per example, [CLS] and [SEP]s included.
        mask_selection_rate: fraction of selectable tokens to predict (BERT: 0.15).
        mask_token_rate, random_token_rate: of those, fraction set to [MASK] / to a random token (0.8 /
            0.1; the rest stay unchanged).
        mask_selection_length: predictions per example (static, for XLA); default
            ceil(1.25 * rate * sequence_length).
    """

    def __init__(self, vocabulary, sequence_length=64, mask_selection_rate=0.15, mask_token_rate=0.8,
                 random_token_rate=0.1, mask_selection_length=None):
        import keras_hub

        check_positive_int("sequence_length", sequence_length, minimum=4)
        check_probability("mask_selection_rate", mask_selection_rate, low_open=True, high_open=True)
        check_probability("mask_token_rate", mask_token_rate)
        check_probability("random_token_rate", random_token_rate)
        if mask_token_rate + random_token_rate > 1:
            raise ValueError("`mask_token_rate` and `random_token_rate` must be >= 0 with a sum <= 1; got "
                             f"{mask_token_rate!r} and {random_token_rate!r}.")
        self.vocabulary = list(vocabulary)
        if self.vocabulary[:len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
            raise ValueError(f"`vocabulary` must start with the special tokens {SPECIAL_TOKENS}.")
        self.sequence_length = sequence_length
        self.mask_selection_length = mask_selection_length or math.ceil(1.25 * mask_selection_rate * sequence_length)
        # keras-hub's BERT preprocessing, unchanged: BertTokenizer (WordPiece, lower case, accents stripped),
        # BertMaskedLMPreprocessor (MultiSegmentPacker + MaskedLMMaskGenerator; it never selects [CLS], [SEP],
        # [PAD] or [MASK]) and, unmasked, BertTextClassifierPreprocessor. kssl adds only the NSP labels.
        tokenizer = keras_hub.models.BertTokenizer(vocabulary=self.vocabulary, lowercase=True, strip_accents=True,
                                                   oov_token="[UNK]")
        self.masked_lm_preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
            tokenizer, sequence_length=sequence_length, mask_selection_rate=mask_selection_rate,
            mask_selection_length=self.mask_selection_length, mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate)
        self.masked_lm_preprocessor.build(None)  # makes its packer and masker
        self.classifier_preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=sequence_length)
        self.classifier_preprocessor.build(None)
        self.tokenizer = tokenizer
        self.pad_id, self.cls_id = tokenizer.pad_token_id, tokenizer.cls_token_id
        self.sep_id, self.mask_id = tokenizer.sep_token_id, tokenizer.mask_token_id

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def __call__(self, first, second=None, next_sentence_labels=None):
        """Masks a batch of texts (or text pairs): returns `(x, y)`, the model's inputs and its targets."""
        import tensorflow as tf

        # `x=` by keyword: a tuple passed positionally to the keras-hub layer loses its second segment
        x, mask_ids, mask_weights = self.masked_lm_preprocessor(x=first if second is None else (first, second))
        if next_sentence_labels is None:
            next_sentence_labels = tf.zeros(tf.shape(x["token_ids"])[:1], tf.int32)
        x = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
        y = {
            "mask_ids": mask_ids,
            "mask_weights": mask_weights,
            "next_sentence_labels": tf.cast(next_sentence_labels, tf.int32),
        }
        return x, y

    def _examples(self, documents, next_sentence, seed):
        """Unmasked examples: (first, second, label) NSP pairs, or (sentence,) tuples."""
        import tensorflow as tf

        if next_sentence:
            first, second, labels = next_sentence_pairs(documents, seed=seed)
            return tf.data.Dataset.from_tensor_slices((first, second, np.asarray(labels, "int32")))
        return tf.data.Dataset.from_tensor_slices(([s for d in documents for s in d],))

    def dataset(self, documents, batch_size=32, next_sentence=True, shuffle=True, seed=0, repeat=False):
        """A `tf.data.Dataset` of masked batches from `documents` (lists of sentences): sentence pairs
        with NSP labels (`next_sentence_pairs`) if `next_sentence`, else single sentences. Masks are
        drawn afresh each epoch, in a parallel map: not reproducible from pass to pass (for evaluation
        use `fixed_dataset`)."""
        import tensorflow as tf

        ds = self._examples(documents, next_sentence, seed)
        if shuffle:
            ds = ds.shuffle(min(len(ds), 200_000), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=True)
        return without_autotune(
            ds.map(lambda *t: self(*t), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))

    def fixed_dataset(self, documents, batch_size=32, next_sentence=True, batches=None, seed=1):
        """Masked batches with masks drawn once, for held-out evaluation: every pass over the returned
        dataset, every call with the same arguments and every run sees the same masks and pairs.

        The masker is `dataset`'s (keras-hub's `MaskedLMMaskGenerator`: 15% of the non-special tokens
        selected, 80% -> [MASK], 10% random, 10% kept), applied in corpus order (no shuffle) to the
        first `batches` full batches (None: all), and the batches are then held in memory. Called
        eagerly, keras-hub runs the layer's Python path, whose draws come from Python's `random`:
        it is seeded with `seed` here and its previous state restored afterwards, so nothing else
        (TensorFlow's or Keras' seeds, other threads' tf.data maps) changes these masks. (The Python
        path selects each token with probability 0.15; the tf.data path of `dataset` selects
        round(0.15 n) of a sequence's n tokens: the same rate and 80/10/10 split.)
        """
        import tensorflow as tf

        if batches is not None:
            check_positive_int("batches", batches)
        ds = self._examples(documents, next_sentence, seed).batch(batch_size, drop_remainder=True)
        if batches is not None:
            ds = ds.take(batches)
        state = random.getstate()
        random.seed(seed)
        try:
            masked = [self(*example) for example in ds]
        finally:
            random.setstate(state)
        if not masked:
            raise ValueError(f"`documents` give no full batch of {batch_size} examples.")
        x, y = ({k: tf.concat([batch[part][k] for batch in masked], axis=0) for k in masked[0][part]} for part in (0, 1))
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    def features(self, texts):
        """Unmasked encoder inputs for `texts` (for transfer: `token_ids`, `segment_ids`, `padding_mask`)."""
        return self.classifier_preprocessor(texts)


class WordIds:
    """Sentences -> `(n, sequence_length)` int32 word ids for a word-level encoder (Kim's CNN,
    `kssl.backbones.word_cnn`). Words are kssl's word tokens (`kssl.data.text.words`, the tokens word2vec
    trains on); id 0 is padding, id 1 any word not in `vocabulary`, id 2 + i the i-th word of `vocabulary`
    (keras' `StringLookup` with a mask token). A "<pad>" entry (word2vec's id 0) is not a word and is
    skipped. Sentences longer than `sequence_length` words keep their first `sequence_length`.

    Example:
    >>> pre = WordIds(["<pad>", "the", "film"], sequence_length=4)
    >>> pre(["The film, the FILM!", "a film"]).tolist(), pre.vocabulary_size
    ([[2, 3, 2, 3], [1, 3, 0, 0]], 4)
    >>> WordIds.from_config(pre.get_config())(["a film"]).tolist()
    [[1, 3, 0, 0]]
    """

    PAD, OOV = 0, 1
    PAD_TOKEN = "<pad>"

    def __init__(self, vocabulary, sequence_length=64):
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        if isinstance(vocabulary, str):
            raise ValueError(f"`vocabulary` must be a list of words; got one string ({vocabulary[:40]!r}).")
        self.vocabulary = [w for w in vocabulary if w != self.PAD_TOKEN]
        words_ok = all(isinstance(w, str) and w for w in self.vocabulary)
        if len(set(self.vocabulary)) != len(self.vocabulary) or not words_ok:
            raise ValueError("`vocabulary` must be distinct non-empty strings.")
        self.lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, mask_token=self.PAD_TOKEN,
                                                num_oov_indices=1)

    @property
    def vocabulary_size(self):
        """Rows of the embedding these ids index: the words, padding and the unknown word."""
        return len(self.vocabulary) + 2

    def __call__(self, texts):
        from kssl.data.text import words

        if isinstance(texts, str):
            raise ValueError(f"`texts` must be a list of sentences; got one string ({texts[:40]!r}).")
        tokens = np.full((len(texts), self.sequence_length), self.PAD_TOKEN, dtype=object)
        for row, text in enumerate(texts):
            found = words(text)[: self.sequence_length]
            tokens[row, : len(found)] = found
        return keras.ops.convert_to_numpy(self.lookup(tokens)).astype("int32")

    def get_config(self):
        return {"vocabulary": list(self.vocabulary), "sequence_length": self.sequence_length}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ---- word2vec ---------------------------------------------------------------------------------------
def _word_lists(sentences, arg="sentences"):
    """Yields the sentences of `sentences`, refusing a string where a list of words belongs (iterating a
    string gives characters: a character vocabulary, silently)."""
    fix = "split them first, e.g. [text.lower().split() for text in texts]"
    if isinstance(sentences, str):
        raise ValueError(f"`{arg}` must be sentences given as lists of words; got one string ({sentences[:40]!r}): "
                         f"{fix}.")
    for n, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise ValueError(f"`{arg}` must be sentences given as lists of words; sentence {n} is a string "
                             f"({sentence[:40]!r}): {fix}.")
        yield sentence


class WordVocabulary:
    """Words seen at least `min_count` times in `sentences` (lists of words), most frequent first; id 0
    is padding (never a word, never a negative). `counts[i]` is word i's corpus count."""

    def __init__(self, sentences, min_count=5, max_size=None):
        check_positive_int("min_count", min_count)
        counter = collections.Counter(w for s in _word_lists(sentences) for w in s)
        kept = sorted(((c, w) for w, c in counter.items() if c >= min_count), key=lambda cw: (-cw[0], cw[1]))
        if max_size is not None:
            kept = kept[:max_size]
        self.words = ["<pad>"] + [w for _, w in kept]
        self.counts = np.array([0] + [c for c, _ in kept], dtype="int64")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode(self, sentences):
        """Concatenated word ids of `sentences` (out-of-vocabulary words dropped, as in word2vec) and
        the sentence id of each."""
        ids, sentence_ids = [], []
        for n, sentence in enumerate(_word_lists(sentences)):
            encoded = [self.index[w] for w in sentence if w in self.index]
            ids.extend(encoded)
            sentence_ids.extend([n] * len(encoded))
        return np.asarray(ids, "int32"), np.asarray(sentence_ids, "int32")


def negative_distribution(counts, exponent=0.75):
    """P(w) proportional to count(w)^exponent (word2vec's unigram^0.75)."""
    weights = np.asarray(counts, "float64") ** exponent
    return weights / weights.sum()


def keep_probabilities(counts, sample=1e-3):
    """Subsampling: a word of frequency f is kept with probability min(1, (sqrt(f/sample) + 1) sample/f)."""
    counts = np.asarray(counts, "float64")
    if not sample:
        return np.ones_like(counts)
    frequency = counts / max(counts.sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(frequency / sample) + 1) * sample / frequency
    return np.where(counts > 0, np.minimum(keep, 1.0), 0.0)


def skipgram_pairs(ids, sentence_ids, window, rng):
    """(centre, context) pairs with word2vec's dynamic window: each centre draws b in 1..window and pairs
    with the words at distance <= b in the same sentence, on both sides."""
    reach = rng.integers(1, window + 1, size=len(ids))
    centres, contexts = [], []
    for distance in range(1, window + 1):
        for sign in (-1, 1):
            j = np.arange(len(ids)) + sign * distance
            ok = (j >= 0) & (j < len(ids)) & (reach >= distance)
            i = np.nonzero(ok)[0]
            i = i[sentence_ids[i] == sentence_ids[j[i]]]
            centres.append(ids[i])
            contexts.append(ids[i + sign * distance])
    return np.concatenate(centres), np.concatenate(contexts)


def cbow_windows(ids, sentence_ids, window, rng):
    """(context words padded with 0 to 2*window, centre) per centre word, with the dynamic window."""
    reach = rng.integers(1, window + 1, size=len(ids))
    context = cbow_context(ids, sentence_ids, reach, np.arange(len(ids)), window)
    has_context = (context > 0).any(axis=1)
    return context[has_context], ids[has_context]


def cbow_context(ids, sentence_ids, reach, centres, window):
    """The CBOW context of the words at positions `centres`: `(len(centres), 2 * window)` ids, the words at
    distance 1, 1, 2, 2, ... (left, right) up to each centre's dynamic `reach` inside its sentence, 0 elsewhere."""
    offsets = np.stack([-np.arange(1, window + 1), np.arange(1, window + 1)], axis=1).reshape(-1)
    j = centres[:, None] + offsets
    jj = np.clip(j, 0, len(ids) - 1)
    ok = (j >= 0) & (j < len(ids)) & (reach[centres][:, None] >= np.abs(offsets))
    ok &= sentence_ids[jj] == sentence_ids[centres][:, None]
    return np.where(ok, ids[jj], 0).astype("int32")


def has_neighbour(sentence_ids):
    """True where the next or previous word is in the same sentence (the CBOW windows that are not empty)."""
    same = sentence_ids[1:] == sentence_ids[:-1]
    out = np.zeros(len(sentence_ids), bool)
    out[1:] |= same
    out[:-1] |= same
    return out


class Word2VecData(keras.utils.PyDataset):
    """Batches for `kssl.methods.Word2Vec.fit`: each epoch subsamples the corpus afresh and draws new
    dynamic windows. Yields `(x, y)`: `x = {"inputs": (batch, C)}`, `y` the target word ids `(batch,)`, with
    C = 1 (skip-gram: the centre word predicts a context word) or 2*window (CBOW: the context predicts the
    centre).

    Example:
    >>> from kssl.data.language import WordVocabulary, Word2VecData
    >>> sentences = [["a", "b", "c", "a"], ["b", "c", "a"]] * 10
    >>> vocab = WordVocabulary(sentences, min_count=1)
    >>> x, y = Word2VecData(sentences, vocab, mode="cbow", window=2, batch_size=8, sample=0)[0]
    >>> x["inputs"].shape, y.shape
    ((8, 4), (8,))
    """

    def __init__(self, sentences, vocabulary, mode="skipgram", window=5, sample=1e-3, batch_size=1024, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.mode = check_choice("mode", mode, ("skipgram", "cbow"))
        check_positive_int("window", window)
        check_positive_int("batch_size", batch_size)
        self.window, self.batch_size, self.sample = window, batch_size, sample
        self.ids, self.sentence_ids = vocabulary.encode(sentences)
        self.keep = keep_probabilities(vocabulary.counts, sample)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self):
        kept = self.rng.random(len(self.ids)) < self.keep[self.ids]
        ids, sentence_ids = self.ids[kept], self.sentence_ids[kept]
        if self.mode == "skipgram":
            centres, contexts = skipgram_pairs(ids, sentence_ids, self.window, self.rng)
            examples = len(contexts)
        else:
            # CBOW windows are cut per batch in __getitem__ (cbow_context) from the epoch's subsampled text and
            # dynamic windows: the (words, 2 * window) matrix of a whole epoch took seconds to build and shuffle.
            self.epoch_ids, self.epoch_sentence_ids = ids, sentence_ids
            self.reach = self.rng.integers(1, self.window + 1, size=len(ids))
            centres = np.flatnonzero(has_neighbour(sentence_ids))
            examples = len(centres)
        order = self.rng.permutation(examples)
        count = len(order) // self.batch_size * self.batch_size  # full batches: static shapes
        if count == 0:
            raise ValueError(f"The corpus gives {len(order)} training examples, fewer than `batch_size` "
                             f"({self.batch_size}).")
        if self.mode == "skipgram":
            self.inputs, self.target = centres[order[:count], None], contexts[order[:count]].astype("int32")
        else:
            self.centres = centres[order[:count]]

    def __len__(self):
        return (len(self.target) if self.mode == "skipgram" else len(self.centres)) // self.batch_size

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if self.mode == "cbow":
            centres = self.centres[part]
            context = cbow_context(self.epoch_ids, self.epoch_sentence_ids, self.reach, centres, self.window)
            return {"inputs": context}, self.epoch_ids[centres].astype("int32")
        return {"inputs": self.inputs[part]}, self.target[part]
