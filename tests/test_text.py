"""Language data and pretext targets: the corpus loader on a tiny generated corpus, BERT's 80/10/10
masking and NSP pairs, word2vec's negatives / windows / subsampling, and the word evaluations."""

import gzip
import json
import os
import shutil
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import chisquare

import kssl
from kssl.data import language
from kssl.data import text

GCIDE = """00-database-short
   A tiny dictionary

Cat \\Cat\\, n. [AS. cat.]
   A small domesticated carnivore. It purrs when content.
   [1913 Webster]

Dog \\Dog\\, n. [AS. docga.]
   1. A domesticated carnivore that barks loudly. --Bailey.
   [1913 Webster]
"""


def tiny_corpus_tree(root):
    os.makedirs(root / "gcide")
    with gzip.open(root / "gcide" / "gcide.dict.dz", "wt") as f:
        f.write(GCIDE)
    os.makedirs(root / "fortunes")
    fortunes = [f"Fortune number {i} says good things come. Wait for them patiently." for i in range(40)]
    (root / "fortunes" / "wisdom").write_text("\n%\n".join(fortunes + ["#### |||| ####"]) + "\n%\n")
    return root


def test_text_corpus_reads_cleans_splits_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    root = tiny_corpus_tree(tmp_path / "data")
    corpus = kssl.datasets.text_corpus(path=root, sources=("gcide", "fortunes"), held_out_fraction=0.25, verbose=False)
    documents = corpus.train + corpus.held_out
    assert ["A small domesticated carnivore.", "It purrs when content."] in documents
    assert ["A domesticated carnivore that barks loudly."] in documents  # numbering, citation, brackets gone
    assert len(documents) == 2 + 40  # ASCII art and the database header dropped
    assert all(len(d) == 2 for d, s in zip(documents, corpus.train_sources + corpus.held_out_sources) if s == "fortunes")
    for split, sources in ((corpus.train, corpus.train_sources), (corpus.held_out, corpus.held_out_sources)):
        assert all(text.is_held_out(s, d, 0.25) == (split is corpus.held_out) for d, s in zip(split, sources))
    assert 0 < len(corpus.held_out) < len(documents) / 2
    assert len(os.listdir(tmp_path / "cache")) == 1
    # The second call reads the cache (the readers are not called again), with the same split.
    monkeypatch.setitem(text._READERS, "gcide", lambda directory: pytest.fail("cache not used"))
    again = kssl.datasets.text_corpus(path=root, sources=("gcide", "fortunes"), held_out_fraction=0.25, verbose=False)
    assert again.train == corpus.train and again.held_out == corpus.held_out


def test_a_source_unpacked_into_the_cache_is_found(tmp_path, monkeypatch):
    # `make data-text` unpacks r-cran-janeaustenr's .deb into cache_dir("text", "austen") instead of installing R
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KSSL_DATA_DIR", raising=False)
    tiny_corpus_tree(tmp_path / "cache" / "text")
    assert text._source_dir("fortunes", None) == str(tmp_path / "cache" / "text" / "fortunes")
    monkeypatch.setenv("KSSL_DATA_DIR", str(tmp_path / "data"))
    tiny_corpus_tree(tmp_path / "data" / "text")  # $KSSL_DATA_DIR comes first
    assert text._source_dir("fortunes", None) == str(tmp_path / "data" / "text" / "fortunes")


def test_missing_source_names_the_install_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        kssl.datasets.text_corpus(path=tmp_path, sources=("wordnet",), verbose=False)


def test_split_sentences_and_words():
    assert text.split_sentences('He said "Go." Then Mr. Smith left! Did he? Yes.') == [
        'He said "Go."', "Then Mr. Smith left!", "Did he?", "Yes."]
    assert text.words("Don't PANIC, it's 42.") == ["don't", "panic", "it's", "42"]


VOCABULARY = list(language.SPECIAL_TOKENS) + [f"w{i}" for i in range(45)]


def test_masking_is_80_10_10_on_15_percent_and_never_touches_special_tokens():
    rng = np.random.default_rng(0)
    sentences = [" ".join(f"w{i}" for i in rng.integers(0, 45, rng.integers(5, 30))) for _ in range(3000)]
    pre = language.MLMPreprocessor(VOCABULARY, sequence_length=32)
    keras.utils.set_random_seed(0)
    x, y = pre(tf.constant(sentences))
    masked = {k: v.numpy() for k, v in {**x, **y}.items()}
    original = pre.features(tf.constant(sentences))["token_ids"].numpy()
    weights = masked["mask_weights"].astype(bool)
    rows = np.broadcast_to(np.arange(len(sentences))[:, None], weights.shape)[weights]
    positions = masked["mask_positions"][weights]
    before, after = original[rows, positions], masked["token_ids"][rows, positions]
    special = [pre.pad_id, pre.cls_id, pre.sep_id]
    assert not np.isin(before, special).any()
    selectable = (~np.isin(original, special)).sum()
    assert abs(len(before) / selectable - 0.15) < 0.01
    is_mask = after == pre.mask_id
    unchanged = after == before
    n = len(before)  # ~ 15% of ~50k tokens
    assert n > 5000
    # Random replacements are uniform over the vocabulary, so 1/V of them land on [MASK] or the original.
    chance = 0.1 / len(VOCABULARY)
    for observed, expected in ((is_mask.mean(), 0.8 + chance), (unchanged.mean(), 0.1 + chance),
                               ((~is_mask & ~unchanged).mean(), 0.1 - 2 * chance)):
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n), (observed, expected)
    # Positions that were not selected are untouched.
    untouched = np.ones_like(original, bool)
    untouched[rows, positions] = False
    np.testing.assert_array_equal(masked["token_ids"][untouched], original[untouched])


def test_next_sentence_pairs_are_balanced_and_correctly_labelled():
    documents = [[f"d{d} s{s}" for s in range(5)] for d in range(400)]
    first, second, labels = language.next_sentence_pairs(documents, seed=0)
    labels = np.asarray(labels)
    assert len(first) == 400 * 4
    assert abs(labels.mean() - 0.5) < 4 * np.sqrt(0.25 / len(labels))
    for a, b, label in zip(first, second, labels):
        (da, sa), (db, sb) = [tuple(int(t[1:]) for t in x.split()) for x in (a, b)]
        if label == 1:
            assert (db, sb) == (da, sa + 1)
        else:
            assert db != da


def test_negative_samples_follow_unigram_to_the_three_quarters():
    counts = np.array([0, 5000, 1200, 300, 80, 20, 5, 1])
    model = kssl.methods.Word2Vec(counts, embedding_dim=4, table_size=100_000, seed=1)
    draws = keras.ops.convert_to_numpy(model.sample_negatives((200_000,)))
    observed = np.bincount(draws, minlength=len(counts))
    assert observed[0] == 0  # padding is never a negative
    expected = language.negative_distribution(counts)[1:] * len(draws)
    assert chisquare(observed[1:], expected).pvalue > 1e-3
    # ...and not the plain unigram distribution.
    assert chisquare(observed[1:], counts[1:] / counts.sum() * len(draws)).pvalue < 1e-6


def test_skipgram_pairs_and_cbow_windows_respect_the_window_and_sentences():
    sentence_ids = np.repeat(np.arange(50), 12).astype("int32")
    ids = np.arange(len(sentence_ids), dtype="int32") + 1  # id = position + 1
    centres, contexts = language.skipgram_pairs(ids, sentence_ids, window=3, rng=np.random.default_rng(0))
    distance = np.abs(centres - contexts)
    assert distance.min() == 1 and distance.max() == 3
    assert (sentence_ids[centres - 1] == sentence_ids[contexts - 1]).all()
    # Dynamic window: P(distance d used) = (window - d + 1) / window.
    share = np.bincount(distance, minlength=4)[1:] / np.bincount(distance, minlength=4)[1]
    np.testing.assert_allclose(share, [1, 2 / 3, 1 / 3], atol=0.05)
    context, centre = language.cbow_windows(ids, sentence_ids, window=3, rng=np.random.default_rng(0))
    assert context.shape[1] == 6
    gap = np.abs(context - centre[:, None])[context > 0]
    assert gap.max() <= 3 and gap.min() >= 1
    rows = np.nonzero(context > 0)[0]
    assert (sentence_ids[context[context > 0] - 1] == sentence_ids[centre[rows] - 1]).all()


def test_cbow_batches_cut_per_batch_are_the_windows_of_every_word_with_a_neighbour():
    # 40 sentences of 1..7 distinct words: word w<s>_<i> sits at position i of sentence s.
    sentences = [[f"w{s}_{i}" for i in range(s % 7 + 1)] for s in range(40)]
    vocab = language.WordVocabulary(sentences, min_count=1)
    data = language.Word2VecData(sentences, vocab, mode="cbow", window=3, batch_size=8, sample=0, seed=1)
    with_neighbour = sum(len(s) for s in sentences if len(s) > 1)  # one-word sentences give no window
    assert len(data) == with_neighbour // 8
    place = {vocab.index[w]: (s, i) for s, sentence in enumerate(sentences) for i, w in enumerate(sentence)}
    centres = []
    for b in range(len(data)):
        x, y = data[b]
        assert x["inputs"].shape == (8, 6) and x["inputs"].dtype == np.int32
        for context, centre in zip(x["inputs"], y):
            (s, i), words = place[int(centre)], [place[int(c)] for c in context if c > 0]
            assert words and all(ws == s and 1 <= abs(wi - i) <= 3 for ws, wi in words)
            centres.append(int(centre))
    assert len(set(centres)) == len(centres)  # each word once per epoch
    data.on_epoch_end()  # a new epoch: a new order (and new dynamic windows)
    assert [int(c) for c in data[0][1]] != centres[:8]


def test_subsampling_keeps_rare_words_and_drops_frequent_ones():
    keep = language.keep_probabilities([0, 900_000, 1000, 10], sample=1e-3)
    assert keep[0] == 0 and keep[3] == 1.0 and keep[2] == 1.0
    f = 900_000 / 901_010
    assert keep[1] == pytest.approx((np.sqrt(f / 1e-3) + 1) * 1e-3 / f)


def test_word2vec_learns_cooccurrence_and_nearest_neighbours(tmp_path):
    rng = np.random.default_rng(0)
    animals, vehicles = ["cat", "dog", "cow", "pig"], ["car", "bus", "van", "cab"]
    sentences = [list(rng.choice(group, 6)) for group in (animals, vehicles) for _ in range(150)]
    vocab = language.WordVocabulary(sentences, min_count=1)
    keras.utils.set_random_seed(0)
    model = kssl.methods.Word2Vec(vocab.counts, embedding_dim=8, mode="skipgram", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(language.Word2VecData(sentences, vocab, window=2, batch_size=64, sample=0), epochs=3, verbose=0)
    neighbours = [w for w, _ in model.nearest("cat", vocab.words, k=3)]
    assert set(neighbours) == {"dog", "cow", "pig"}
    # The config round-trips, the encoder word2vec built included: a clone takes the weights and agrees.
    clone = kssl.methods.Word2Vec.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.mode == "skipgram"
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.vectors(), model.vectors())
    assert [w for w, _ in clone.nearest("cat", vocab.words, k=3)] == neighbours
    model.save(str(tmp_path / "word2vec.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "word2vec.keras"))
    as_json = lambda config: json.loads(json.dumps(config))  # noqa: E731  (tuples come back as lists)
    assert type(loaded) is kssl.methods.Word2Vec and as_json(loaded.get_config()) == as_json(model.get_config())
    np.testing.assert_array_equal(loaded.vectors(), model.vectors())


def test_mlm_metrics_and_config_round_trip():
    pre = language.MLMPreprocessor(VOCABULARY, sequence_length=16)
    documents = [[" ".join(f"w{(d + s + k) % 45}" for k in range(6)) for s in range(4)] for d in range(20)]
    encoder = kssl.backbones.bert_encoder(len(VOCABULARY), num_layers=1, hidden_dim=16, intermediate_dim=32,
                                          max_sequence_length=16)
    model = kssl.methods.MaskedLM(encoder, next_sentence=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.evaluate(pre.dataset(documents, batch_size=8), verbose=0, return_dict=True)
    # An untrained model is near chance: perplexity close to the vocabulary size, accuracy near 1/V.
    assert 0.3 * len(VOCABULARY) < logs["perplexity"] < 3 * len(VOCABULARY)
    assert logs["masked_accuracy"] < 0.2 and abs(logs["next_sentence_accuracy"] - 0.5) < 0.3  # IsNext half the time
    clone = kssl.methods.MaskedLM.from_config(model.get_config())
    assert clone.next_sentence and clone.vocabulary_size == len(VOCABULARY)
    assert clone.get_config() == model.get_config()
    # Targets reach the loss one way, as Keras' y: the inputs carry none of them.
    x, y = next(iter(pre.dataset(documents, batch_size=8)))
    assert set(x) == set(model.input_keys) and set(y) == {"mask_ids", "mask_weights", "next_sentence_labels"}
    with pytest.raises(ValueError, match="the targets `y` must be a dict"):
        model.compute_loss(x, None, model(x))
    assert kssl.backbones.mean_pooled(encoder)(pre.features(tf.constant(["w1 w2", "w3"]))).shape == (2, 16)


def test_fixed_held_out_masks_are_identical_across_passes_and_builds():
    pre = language.MLMPreprocessor(VOCABULARY, sequence_length=16)
    documents = [[" ".join(f"w{(d * 7 + s + k) % 45}" for k in range(8)) for s in range(4)] for d in range(30)]

    def passes(ds):
        return [{k: v.numpy() for k, v in {**x, **y}.items()} for x, y in ds]

    held_out = pre.fixed_dataset(documents, batch_size=8, batches=5, seed=1)
    first, second = passes(held_out), passes(held_out)
    keras.utils.set_random_seed(123)  # whatever ran in between
    rebuilt = passes(pre.fixed_dataset(documents, batch_size=8, batches=5, seed=1))
    assert len(first) == 5
    for a, b, c in zip(first, second, rebuilt):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
            np.testing.assert_array_equal(a[key], c[key])
    # Real masks (not a degenerate constant): selections present, and another seed draws others.
    assert all(batch["mask_weights"].sum() > 0 for batch in first)
    other = passes(pre.fixed_dataset(documents, batch_size=8, batches=5, seed=2))
    assert any((a["mask_positions"] != b["mask_positions"]).any() for a, b in zip(first, other))


def test_word_similarity_and_analogy_known_answers():
    words = ["man", "woman", "king", "queen", "apple", "pear"]
    vectors = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1], [0, 0.1, 0, 1]])
    pairs = [("apple", "pear", 9.0), ("man", "woman", 5.0), ("king", "apple", 0.5), ("man", "dragon", 3.0)]
    result = kssl.eval.word_similarity(vectors, words, pairs=pairs)
    assert result == {"spearman": pytest.approx(1.0), "pairs": 3, "oov_pairs": 1}
    reversed_scores = [(a, b, -s) for a, b, s in pairs]
    assert kssl.eval.word_similarity(vectors, words, pairs=reversed_scores)["spearman"] == pytest.approx(-1.0)
    questions = [("man", "woman", "king", "queen"), ("woman", "man", "queen", "king"),
                 ("man", "king", "woman", "apple"), ("man", "woman", "dragon", "queen")]
    assert kssl.eval.analogy(vectors, words, questions=questions) == {"accuracy": 2 / 3, "questions": 3, "skipped": 1}
    # restrict_vocab: queen (row 3) is not a candidate in the first 3 rows, so its questions are skipped.
    with pytest.raises(ValueError, match="None of the 2 questions"):
        kssl.eval.analogy(vectors, words, questions=questions[:2], restrict_vocab=3)


def test_word_sets_come_from_the_gensim_wheel():
    try:
        data = kssl.datasets.wheel_file("gensim", "gensim/test/test_data/wordsim353.tsv")
    except FileNotFoundError:
        pytest.skip("gensim wheel not downloaded (make data-text)")
    assert len([line for line in data.decode().splitlines() if line and not line.startswith("#")]) == 353


@pytest.mark.parametrize("call, message", [
    (lambda: kssl.datasets.text_corpus(sources=("gutenberg",)), "`sources` must be a non-empty subset"),
    (lambda: kssl.datasets.text_corpus(held_out_fraction=0.9), "`held_out_fraction` must be a number in \\[0, 0.5\\]"),
    (lambda: language.MLMPreprocessor(VOCABULARY, sequence_length=2), "`sequence_length` must be an integer >= 4"),
    (lambda: language.MLMPreprocessor(VOCABULARY, mask_selection_rate=0), "`mask_selection_rate` must be a number"),
    (lambda: language.MLMPreprocessor(VOCABULARY, mask_token_rate=0.95), "`mask_token_rate` and `random_token_rate`"),
    (lambda: language.MLMPreprocessor(["a", "b"] + VOCABULARY), "`vocabulary` must start with the special tokens"),
    (lambda: language.next_sentence_pairs([["one", "two"]]), "`documents` must hold at least 2 documents"),
    (lambda: language.WordVocabulary([["a"]], min_count=0), "`min_count` must be an integer >= 1"),
    (lambda: language.Word2VecData([["a", "b"]], language.WordVocabulary([["a", "b"]], min_count=1), mode="glove"),
     "`mode` must be one of"),
    (lambda: language.Word2VecData([["a", "b"]], language.WordVocabulary([["a", "b"]], min_count=1), window=0),
     "`window` must be an integer >= 1"),
    (lambda: kssl.methods.Word2Vec([0, 3, 2], mode="glove"), "`mode` must be one of"),
    (lambda: kssl.methods.Word2Vec([0, 3, 2], negatives=0), "`negatives` must be an integer >= 1"),
    (lambda: kssl.methods.Word2Vec([[1, 2]]), "`counts` must be a 1-D array"),
    (lambda: kssl.methods.Word2Vec([0, 3, 2], embedding_dim=0), "`embedding_dim` must be an integer >= 1"),
    (lambda: kssl.methods.Word2Vec([0, 3, 2])(np.zeros((2, 3))), "`x` must be a dict with keys"),
    (lambda: kssl.methods.MaskedLM(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])), "`encoder` must be a keras-hub"),
    (lambda: kssl.eval.word_similarity(np.zeros((2, 3)), ["a"], pairs=[]), "`vectors` must be a 2-D array"),
    (lambda: kssl.eval.analogy(np.zeros((1, 3)), ["a"], questions=[], restrict_vocab=0), "`restrict_vocab` must be"),
    (lambda: kssl.datasets.rotten_tomatoes(test_fraction=1.5), "`test_fraction` must be a number in \\(0, 1\\)"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_word_piece_vocabulary_learns_frequent_words_after_the_special_tokens():
    sentences = ["The cat sat on the mat.", "The dog sat on the log.", "Cats and dogs sat."] * 30
    vocabulary = language.word_piece_vocabulary(sentences, vocabulary_size=60, min_count=5)
    assert vocabulary[:5] == list(language.SPECIAL_TOKENS)
    assert {"the", "sat", "on", "."} <= set(vocabulary) and len(vocabulary) <= 60
    tokens = language.MLMPreprocessor(vocabulary, sequence_length=8).tokenizer(tf.constant(["the cat sat"]))
    assert "[UNK]" not in [vocabulary[i] for i in tokens[0]]


# ---- the Debian readers on hand-written files in the packages' formats (tests/fixtures/text) -------------
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "text")


def test_wordnet_reader_on_data_files(tmp_path):
    # data.{noun,verb,adj,adv}: licence lines start with two spaces (one holds a "|"), then one synset per
    # line whose gloss follows "|": definitions and quoted examples separated by ";".
    documents = text._read_wordnet(os.path.join(FIXTURES, "wordnet"))
    assert documents == [
        ["That which is perceived or known to have its own distinct existence."],
        ["An entity that has physical existence.", "Stones and trees are physical entities."],
        ["Feline mammal usually having thick soft fur.", "The cat sat on the mat.", "Cats purr when content."],
        ["Draw air into, and expel out of, the lungs.", "I can breathe better now."],
        ["(usually followed by `to') having the necessary means or skill to do something."],
        ["Without musical accompaniment.", "They performed a cappella."],
        ["With speed!"],
    ]  # "x" (one word) gives no document; noun, verb, adj, adv in that order
    shutil.copytree(os.path.join(FIXTURES, "wordnet"), tmp_path / "wordnet")
    corpus = kssl.datasets.text_corpus(path=tmp_path, sources=("wordnet",), cache=False, verbose=False)
    assert sorted(map(tuple, corpus.train + corpus.held_out)) == sorted(map(tuple, documents))


def test_kjv_reader_runs_the_bible_program_and_reads_chapters(tmp_path, monkeypatch):
    # bible.data is in the `bible` program's own compressed format: the reader runs the program. A stand-in
    # prints the fixture (the program's output format) and records its arguments.
    (tmp_path / "kjv").mkdir()
    (tmp_path / "kjv" / "bible.data").write_bytes(b"")
    program = tmp_path / "bin" / "bible"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\ncat "{FIXTURES}/kjv/bible_output.txt"\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    corpus = kssl.datasets.text_corpus(path=tmp_path, sources=("kjv",), held_out_fraction=0, cache=False,
                                       verbose=False)
    assert (tmp_path / "args").read_text().split() == ["-p", str(tmp_path / "kjv"), "-l100000", "Gen1:1-Rev22:21"]
    assert corpus.train == [  # one document per chapter; "Amen." (one word) dropped
        ["In the first days the maker shaped the sea and the dry land.",
         "And the land was bare; and the waters covered the deep places.", "And a wind moved over the waters.",
         "And he said, Let there be day: and there was day."],
        ["Thus the sea and the land were finished.", "And on the next day he rested from the work which he had made."],
        ["He that speaketh these words saith, I come soon.", "Grace be with you all."],
    ]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="apt-get install bible-kjv"):
        text._read_kjv(str(tmp_path / "kjv"))


def _r_serialize(value):
    """R's XDR serialisation (version 3, as `saveRDS` writes): a character vector, an integer vector, a
    logical vector, or a dict as a named list. Enough to write a janeaustenr-style lazy-load database."""
    import struct

    def i(n):
        return struct.pack(">i", n)

    def chars(s):
        b = s.encode("utf-8")
        return i(0x00040009) + i(len(b)) + b  # CHARSXP, ASCII

    def item(v):
        if isinstance(v, dict):
            body = b"".join(item(x) for x in v.values())
            names = i(16) + i(len(v)) + b"".join(chars(k) for k in v)
            # VECSXP with attributes, then the attribute pairlist: (names = ...), NILVALUE
            return i(19 | 0x200) + i(len(v)) + body + i(2 | 0x400) + i(1) + chars("names") + names + i(254)
        if isinstance(v, bool):
            return i(10) + i(1) + i(int(v))
        if all(isinstance(x, str) for x in v):
            return i(16) + i(len(v)) + b"".join(chars(x) for x in v)
        return i(13) + i(len(v)) + b"".join(i(int(x)) for x in v)

    return b"X\n" + i(3) + i(0x040201) + i(0x030500) + i(5) + b"UTF-8" + item(value)


def test_austen_reader_on_an_r_lazy_load_database(tmp_path):
    # janeaustenr's data/Rdata.rdb holds each novel as a zlib stream (after a 4-byte length) of an R
    # character vector of lines; Rdata.rdx (gzip) is a named list mapping each name to (offset, length).
    pytest.importorskip("rdata")
    novels = {
        "emma": ["EMMA", "", "By Jane Austen", "", "VOLUME I", "", "CHAPTER I", "",
                 "Emma Woodhouse, handsome, clever, and rich, had lived nearly",
                 "twenty-one years. She was _very_ happy.", "", "CHAPTER II", "",
                 "Mr. Weston was a native of Highbury. He was born there.", "", "Chapter 3", "One line only."],
        "persuasion": ["PERSUASION", "", "Chapter 1", "", "Sir Walter Elliot never took up any book",
                       "but the Baronetage. There he found occupation."],
    }
    database, variables = b"", {}
    for name, lines in novels.items():
        blob = _r_serialize(lines)
        record = len(blob).to_bytes(4, "big") + zlib.compress(blob)
        variables[name] = [len(database), len(record)]
        database += record
    directory = tmp_path / "austen"
    directory.mkdir()
    (directory / "Rdata.rdb").write_bytes(database)
    (directory / "Rdata.rdx").write_bytes(gzip.compress(_r_serialize(
        {"variables": variables, "references": {}, "compressed": True})))
    documents = text._read_austen(str(directory))
    assert documents == [
        ["Emma Woodhouse, handsome, clever, and rich, had lived nearly twenty-one years.", "She was very happy."],
        ["Mr. Weston was a native of Highbury.", "He was born there."],
        ["Sir Walter Elliot never took up any book but the Baronetage.", "There he found occupation."],
    ]  # title pages and the one-sentence "Chapter 3" give no document; underscores (italics) dropped


def test_readme_word2vec_rows_are_the_committed_benchmark_runs():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {}
    for name in ("word2vec_vs_gensim.json", "word2vec_vs_gensim_adagrad.json"):
        with open(os.path.join(root, "docs", "results", name)) as f:
            runs[name] = json.load(f)
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    scores = lambda row: " / ".join(f"{row[k]:.3f}" for k in ("analogy", "ws353", "simlex"))  # noqa: E731
    bench = runs["word2vec_vs_gensim.json"]  # the recipe: Hogwild SGD
    kssl_row, gensim_row, same_lr = bench["kssl Word2Vec"], bench["gensim 4.4.0"], bench["gensim 4.4.0, alpha 0.05"]
    assert bench["run"]["optimizer"] == "hogwild_sgd" and bench["run"]["learning_rate"] == 0.05
    assert (f"| {scores(kssl_row)} | gensim 4.4 Word2Vec, same settings: {scores(gensim_row)}; gensim at kssl's lr "
            f"(alpha 0.05): {scores(same_lr)} |") in readme
    ratio = kssl_row["train_seconds"] / gensim_row["train_seconds"]
    assert f"| {kssl_row['train_seconds']:.0f} s ({kssl_row['fit_seconds']:.0f} s of `fit`" in readme
    assert f"gensim {gensim_row['train_seconds']:.0f} s ({ratio:.1f}x faster); at alpha 0.05 " \
           f"{same_lr['train_seconds']:.0f} s" in readme
    assert f"**It takes {ratio:.1f}x gensim's time**" in readme
    with open(os.path.join(root, "docs", "results", "word2vec_vs_gensim_skipgram.json")) as f:
        bench = json.load(f)
    kssl_row, gensim_row = bench["kssl Word2Vec"], bench["gensim 4.4.0"]
    assert bench["run"]["mode"] == "skipgram" and bench["run"]["optimizer"] == "hogwild_sgd"
    assert (f"| {scores(kssl_row)} in {kssl_row['train_seconds']:.0f} s ({kssl_row['fit_seconds']:.0f} s of `fit`) | "
            f"gensim (alpha 0.025, its default) {scores(gensim_row)} in {gensim_row['train_seconds']:.0f} s") in readme
    bench = runs["word2vec_vs_gensim_adagrad.json"]
    kssl_row, gensim_row = bench["kssl Word2Vec"], bench["gensim 4.4.0"]
    assert bench["run"]["optimizer"] == "rowwise_adagrad"
    assert (f"| {scores(kssl_row)} in {kssl_row['train_seconds']:.0f} s ({kssl_row['fit_seconds']:.0f} s of `fit`) | "
            f"gensim {scores(gensim_row)} in {gensim_row['train_seconds']:.0f} s, same run |") in readme


@pytest.mark.parametrize("optimizer", ["hogwild_sgd", "rowwise_adagrad", "lazy_adam"])
def test_word2vec_recipe_optimizers(optimizer):
    from kssl.methods import registry
    from kssl.training.optimizers import LazyAdam, RowwiseAdagrad

    spec = registry.get("word2vec")
    data = registry.load_data(spec, "synthetic_text")
    options = {**spec.recipe.options, "embedding_dim": 4, "min_count": 1, "optimizer": optimizer}
    run = registry.train(spec, data, options, epochs=2, batch_size=32, steps_per_epoch=3, verbose=0)
    compiled = optimizer == "rowwise_adagrad"  # RowwiseAdagrad's step is XLA-compiled; LazyAdam's tf.unique and the
    # Hogwild kernel are not
    expected = {"hogwild_sgd": keras.optimizers.SGD, "rowwise_adagrad": RowwiseAdagrad, "lazy_adam": LazyAdam}
    assert type(run.model.optimizer) is expected[optimizer]
    assert run.model.update == ("hogwild" if optimizer == "hogwild_sgd" else "minibatch")
    assert run.model.jit_compile is compiled and int(run.model.optimizer.iterations) == 2 * 3  # exactly the steps asked
    with pytest.raises(ValueError, match="`optimizer`"):
        registry.train(spec, data, {**options, "optimizer": "sgd"}, epochs=1, batch_size=32, steps_per_epoch=1, verbose=0)
