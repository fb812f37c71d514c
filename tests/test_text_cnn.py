"""Kim's (2014) word CNN: `kssl.backbones.word_cnn`, the word-id preprocessor `kssl.data.language.WordIds`,
the word2vec-initialised embedding `kssl.eval.text.word_embeddings`, the fine-tune `finetune_pooled`, and
tools/bench/text_labels.py's CNN rows on the toy corpus."""

import json
import os

import keras
import numpy as np
import pytest

import kssl
from kssl.data.language import WordIds
from kssl.data.text import LabelledText
from kssl.eval import text
from test_text_labels import parse, text_labels, toy_preset  # noqa: F401  (the tool's fixture)


def test_word_cnn_shapes_and_layers():
    encoder = kssl.backbones.word_cnn(30, embedding_dim=6, widths=(2, 3, 4), filters=5, sequence_length=8)
    assert encoder.output_shape == (None, 15)
    assert encoder(np.zeros((3, 8), "int32")).shape == (3, 15)
    assert [encoder.get_layer(f"conv_{w}").kernel.shape for w in (2, 3, 4)] == [(2, 6, 5), (3, 6, 5), (4, 6, 5)]
    single = kssl.backbones.word_cnn(30, embedding_dim=6, widths=[3], filters=5)
    assert single(np.zeros((2, 11), "int32")).shape == (2, 5)  # any length >= the widest filter


def test_word_cnn_max_pools_over_positions():
    # one filter of width 1 on a 1-d embedding holding each id's value: the feature is the largest id
    encoder = kssl.backbones.word_cnn(10, embedding_dim=1, widths=(1,), filters=1, embeddings=np.arange(10.0)[:, None])
    encoder.get_layer("conv_1").set_weights([np.ones((1, 1, 1)), np.zeros(1)])
    np.testing.assert_allclose(encoder(np.array([[2, 7, 3, 0], [1, 1, 4, 0]])).numpy()[:, 0], [7, 4])


@pytest.mark.parametrize("kwargs, arg", [
    ({"vocabulary_size": 0}, "vocabulary_size"), ({"embedding_dim": 2.5}, "embedding_dim"), ({"filters": -1}, "filters"),
    ({"widths": ()}, "widths"), ({"widths": "345"}, "widths"), ({"widths": (3, 0)}, "widths"),
    ({"sequence_length": 4}, "sequence_length"), ({"embeddings": np.zeros((20, 4))}, "embeddings")])
def test_word_cnn_refuses_bad_arguments_by_name(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        kssl.backbones.word_cnn(**{"vocabulary_size": 20, "embedding_dim": 8, **kwargs})


def test_word_ids_config_round_trip():
    pre = WordIds(["<pad>", "the", "film"], sequence_length=6)
    again = WordIds.from_config(pre.get_config())
    assert again.get_config() == {"vocabulary": ["the", "film"], "sequence_length": 6}
    np.testing.assert_array_equal(again(["The film!", "no film"]), pre(["The film!", "no film"]))


def test_word_ids_pad_unknown_and_cut():
    pre = WordIds(["<pad>", "the", "film", "isn't"], sequence_length=5)
    ids = pre(["The film isn't THE film at all", "zzz film", ""])
    assert ids.dtype == np.int32 and ids.shape == (3, 5) and pre.vocabulary_size == 5
    assert ids.tolist() == [[2, 3, 4, 2, 3], [1, 3, 0, 0, 0], [0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="`sequence_length`"):
        WordIds(["a"], sequence_length=0)
    with pytest.raises(ValueError, match="`vocabulary`"):
        WordIds(["a", "a"])
    with pytest.raises(ValueError, match="`texts`"):
        pre("one string")


def test_word2vec_init_copies_the_vectors_into_the_encoder():
    rng = np.random.default_rng(0)
    words = ["<pad>", "good", "bad", "film"]
    vectors = rng.standard_normal((4, 6)).astype("float32")
    pre = WordIds(["<pad>", "bad", "new", "good"])  # another order, and a word without a vector
    table = text.word_embeddings(pre, vectors, words, seed=3)
    encoder = kssl.backbones.word_cnn(pre.vocabulary_size, 6, widths=(2,), filters=3, embeddings=table)
    embedded = encoder.get_layer("embedding")(pre(["good bad", "new unknown"])).numpy()
    np.testing.assert_array_equal(embedded[0, :2], vectors[[1, 2]])  # each word's own vector
    np.testing.assert_array_equal(embedded[0, 2:], 0.0)  # padding
    # the control: the same draws where nothing is copied, random rows of the vectors' scale elsewhere
    control = text.word_embeddings(pre, vectors, words, copy=False, seed=3)
    np.testing.assert_array_equal(control[[0, 1, 3]], table[[0, 1, 3]])  # padding, unknown, "new"
    assert not np.allclose(control[[2, 4]], table[[2, 4]])
    a = np.sqrt(3) * vectors[1:].std()
    assert np.abs(control).max() <= a and np.abs(control[1:]).max() > 0.5 * a
    with pytest.raises(ValueError, match="`vectors`"):
        text.word_embeddings(pre, vectors[:3], words)


def test_finetune_pooled_learns_a_keyword_and_reports_validation():
    rng = np.random.default_rng(0)
    vocabulary = ["<pad>"] + [f"w{i}" for i in range(20)] + ["great", "awful"]
    texts = [" ".join(rng.choice(vocabulary[1:21], 6)) + (" great" if i % 2 else " awful") for i in range(120)]
    data = LabelledText(texts, np.arange(120) % 2)
    train, test = LabelledText(texts[:80], data.labels[:80]), LabelledText(texts[80:], data.labels[80:])
    pre = WordIds(vocabulary, sequence_length=8)
    encoder = kssl.backbones.word_cnn(pre.vocabulary_size, 8, widths=(1, 2), filters=8, sequence_length=8)
    result = text.finetune_pooled(encoder, pre, train, test, 15, learning_rate=1e-2, batch_size=16, validation=test,
                                  verbose=0)
    assert result["accuracy"] == 1.0 and len(result["validation_accuracy"]) == 15
    assert result["validation_accuracy"][-1] == result["accuracy"]
    with pytest.raises(ValueError, match="`dropout`"):
        text.finetune_pooled(encoder, pre, train, test, 1, dropout=1.0)
    keras.backend.clear_session()


def test_tool_cnn_rows_on_the_toy_corpus(text_labels, tmp_path, monkeypatch):  # noqa: F811
    toy_preset(tmp_path / "mlm")
    toy_preset(tmp_path / "w2v", "word2vec")
    out = tmp_path / "labels.json"
    argv = ["text_labels", f"--mlm_preset={tmp_path / 'mlm'}", f"--word2vec={tmp_path / 'w2v'}", "--corpus=synthetic_text",
            "--rows=tfidf,word2vec_cnn,cnn_random", "--fractions=0.25,1", "--cnn_epochs=1", "--cnn_min_steps=3",
            "--cnn_batch_size=16", "--cnn_sequence_length=12", f"--out={tmp_path / 'work'}", f"--json={out}"]
    parse(argv)
    text_labels.main([])
    stored = json.loads(out.read_text())
    train_size = stored["train_sentences"]
    for row in ("word2vec_cnn", "cnn_random"):
        small = stored["rows"][row]["0.25"]["cells"]["0"]
        assert small["steps"] >= 3 and small["epochs"] == text.finetune_epochs(round(train_size * 0.25), 1, 3, 16)
        assert stored["rows"][row]["1.0"]["cells"]["0"]["epochs"] == 1
    assert stored["cnn_recipe"]["epochs"] == 1 and stored["recipe"]["preset"] == os.path.abspath(tmp_path / "mlm")
    # another CNN recipe: only the CNN rows are measured again, the other rows' cells are kept
    measured = []
    monkeypatch.setattr(text_labels, "cell", lambda row, *a: measured.append(row) or {"accuracy": 0.5})
    parse([a if a != "--cnn_epochs=1" else "--cnn_epochs=2" for a in argv] + ["--reuse"])
    text_labels.main([])
    assert sorted(set(measured)) == ["cnn_random", "word2vec_cnn"] and len(measured) == 4
    assert json.loads(out.read_text())["rows"]["tfidf"] == stored["rows"]["tfidf"]
    # a JSON written before the CNN rows existed (no "cnn_recipe"): its cells are kept, the CNN rows measured
    old = {k: v for k, v in stored.items() if k != "cnn_recipe"}
    old["rows"] = {"tfidf": stored["rows"]["tfidf"]}
    out.write_text(json.dumps(old))
    measured.clear()
    parse(argv + ["--reuse"])
    text_labels.main([])
    assert sorted(set(measured)) == ["cnn_random", "word2vec_cnn"]
    assert json.loads(out.read_text())["rows"]["tfidf"] == stored["rows"]["tfidf"]
    keras.backend.clear_session()
