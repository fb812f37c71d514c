"""The label-fraction protocol (`kssl.eval.text.label_fraction_indices` / `finetune_epochs`) and
tools/bench/text_labels.py on a toy masked-LM preset."""

import json
import os

import keras
import numpy as np
import pytest
from absl import flags

from helpers import load_tool
from kssl.data.text import LabelledText
from kssl.eval import text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAG_NAMES = ("mlm_preset", "word2vec", "corpus", "rows", "fractions", "seeds", "full_seed", "finetune_epochs", "min_steps",
              "finetune_learning_rate", "finetune_warmup", "finetune_batch_size", "adapt_epochs",
              "adapt_learning_rate", "adapt_batch_size", "cnn_epochs", "cnn_min_steps", "cnn_learning_rate", "cnn_batch_size",
              "cnn_sequence_length", "cnn_dropout", "cnn_max_norm", "out", "json", "reuse", "measure")


def test_label_fractions_are_stratified_nested_and_seeded():
    labels = np.array([0] * 700 + [1] * 300 + [2] * 5)
    small, medium = text.label_fraction_indices(labels, 0.01, seed=3), text.label_fraction_indices(labels, 0.1, seed=3)
    assert [int((labels[small] == c).sum()) for c in range(3)] == [7, 3, 1]  # round(1 % of 5) is 0: one kept
    assert [int((labels[medium] == c).sum()) for c in range(3)] == [70, 30, 1]
    assert set(small) <= set(medium) and list(medium) == sorted(medium)  # nested, in the split's order
    np.testing.assert_array_equal(small, text.label_fraction_indices(labels, 0.01, seed=3))
    assert set(small) != set(text.label_fraction_indices(labels, 0.01, seed=4))
    np.testing.assert_array_equal(text.label_fraction_indices(labels, 1, seed=3), np.arange(len(labels)))


def test_label_fraction_subset_keeps_texts_and_labels_together():
    train = LabelledText([f"sentence {i} label {i % 2}" for i in range(60)], np.arange(60) % 2)
    subset = text.label_fraction_subset(train, 0.25, seed=0)
    assert len(subset.texts) == 16 and subset.labels.sum() == 8
    assert all(t.endswith(f"label {y}") for t, y in zip(subset.texts, subset.labels))
    whole = text.label_fraction_subset(train, 1.0)
    assert whole.texts == train.texts and np.array_equal(whole.labels, train.labels)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, "half", None])
def test_bad_fraction_is_refused_by_name(fraction):
    with pytest.raises(ValueError, match="`fraction`"):
        text.label_fraction_indices([0, 1, 0, 1], fraction)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="`labels`"):
        text.label_fraction_indices([], 0.5)
    with pytest.raises(ValueError, match="`train` has 2 texts but 3 labels"):
        text.label_fraction_subset(LabelledText(["a", "b"], np.array([0, 1, 0])), 0.5)


def test_tfidf_with_appended_features_uses_them():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 2
    texts = [f"word{i} film" for i in range(200)]  # no n-gram seen twice but "film": TF-IDF knows nothing
    train, test = LabelledText(texts[:100], labels[:100]), LabelledText(texts[100:], labels[100:])
    features = labels[:, None] + 0.1 * rng.standard_normal((200, 3))  # features that carry the label
    assert text.tfidf_baseline(train, test) == 0.5
    assert text.tfidf_baseline(train, test, features[:100], features[100:]) == 1.0
    with pytest.raises(ValueError, match="together"):
        text.tfidf_baseline(train, test, features[:100])
    with pytest.raises(ValueError, match="`test_features` must be a 2-D array with one row per text"):
        text.tfidf_baseline(train, test, features[:100], features[:5])


def test_finetune_epochs_reach_the_minimum_steps():
    assert text.finetune_epochs(10246, 2, min_steps=300) == 2  # 321 steps an epoch already
    assert text.finetune_epochs(1025, 2, min_steps=300) == 10  # 33 steps an epoch
    assert text.finetune_epochs(102, 2, min_steps=300, batch_size=32) == 75  # 4 steps an epoch
    assert text.finetune_epochs(102, 2) == 2
    with pytest.raises(ValueError, match="`min_steps`"):
        text.finetune_epochs(102, 2, min_steps=-1)
    with pytest.raises(ValueError, match="`examples`"):
        text.finetune_epochs(0, 2)


@pytest.fixture
def text_labels():
    yield from load_tool(os.path.join(ROOT, "tools", "bench", "text_labels.py"), FLAG_NAMES)


def parse(argv):
    flags.FLAGS.unparse_flags()  # flags not in `argv` back to their defaults
    flags.FLAGS(argv)


def toy_preset(directory, method="mlm"):
    from kssl.methods import registry

    spec = registry.get(method)
    options = {**spec.options, **({"vocabulary_size": 120, "num_layers": 1, "hidden_dim": 16, "sequence_length": 24}
                                  if method == "mlm" else {"embedding_dim": 8, "min_count": 1})}
    data = registry.load_data(spec, "synthetic_text", options)
    run = registry.train(spec, data, options, epochs=1, batch_size=8 if method == "mlm" else 64, steps_per_epoch=2,
                         verbose=0)
    run.save(str(directory))
    return run


def test_random_init_row_is_the_pretraining_start(text_labels, tmp_path):
    run = toy_preset(tmp_path / "mlm")
    rebuilt = text_labels.random_init_encoder(str(tmp_path / "mlm"))
    for start, again, trained in zip(run.random_init.get_weights(), rebuilt.get_weights(),
                                     run.model.encoder.get_weights()):
        np.testing.assert_array_equal(start, again)
    assert any(not np.array_equal(a, b) for a, b in zip(rebuilt.get_weights(), run.model.encoder.get_weights()))


def test_tool_on_the_toy_corpus_writes_every_cell_and_reuses_them(text_labels, tmp_path, capsys, monkeypatch):
    toy_preset(tmp_path / "mlm")
    toy_preset(tmp_path / "w2v", "word2vec")
    out = tmp_path / "labels.json"
    argv = ["text_labels", f"--mlm_preset={tmp_path / 'mlm'}", f"--word2vec={tmp_path / 'w2v'}", "--corpus=synthetic_text",
            "--rows=tfidf,word2vec,tfidf_word2vec,mlm_adapted", "--fractions=0.25,1", "--finetune_epochs=1",
            "--min_steps=3", "--finetune_batch_size=16", "--adapt_epochs=1", "--adapt_batch_size=16",
            f"--out={tmp_path / 'work'}", f"--json={out}"]
    parse(argv)
    text_labels.main([])
    stored = json.loads(out.read_text())
    train_size = stored["train_sentences"]
    for row in ("tfidf", "word2vec", "tfidf_word2vec", "mlm_adapted"):
        assert stored["rows"][row]["1.0"]["examples"] == train_size
        assert stored["rows"][row]["0.25"]["examples"] == round(train_size * 0.25)
    small = stored["rows"]["mlm_adapted"]["0.25"]["cells"]["0"]
    assert small["steps"] >= 3 and small["epochs"] == text.finetune_epochs(round(train_size * 0.25), 1, 3, 16)
    assert stored["adaptation"]["sentences"] == train_size and os.path.exists(tmp_path / "work" / "mlm_adapted")
    table = capsys.readouterr().out
    assert "| TF-IDF (1-2 grams) + logistic regression | " in table and "not run" not in table
    # --reuse: nothing is measured again (a cell that ran would fail here)
    monkeypatch.setattr(text_labels, "cell", lambda *a: pytest.fail("a stored cell was measured again"))
    parse(argv + ["--reuse"])
    text_labels.main([])
    again = json.loads(out.read_text())
    assert again["rows"] == stored["rows"] and len(again["commands"]) == 2
    # --nomeasure: a cell not stored (another seed) is left out of the table, not measured
    parse(argv + ["--reuse", "--nomeasure", "--seeds=0,1"])
    text_labels.main([])
    assert "± " not in capsys.readouterr().out.split("| Rotten Tomatoes")[-1]
    # another word2vec preset: only its two rows are measured again
    measured = []
    monkeypatch.setattr(text_labels, "cell", lambda row, *a: measured.append(row) or {"accuracy": 0.5})
    parse([a if not a.startswith("--word2vec=") else f"--word2vec={tmp_path / 'mlm'}" for a in argv] + ["--reuse"])
    text_labels.main([])
    assert sorted(set(measured)) == ["tfidf_word2vec", "word2vec"] and len(measured) == 4
    # the adapted preset in OUT is loaded, not adapted again, while the preset and settings are the same
    monkeypatch.setattr(text_labels, "adapt", lambda *a: pytest.fail("adapted again"))
    encoders = text_labels.Encoders(*[None] * 3)
    assert encoders.get("mlm_adapted").count_params() > 0 and encoders.info["adaptation"] == stored["adaptation"]


def test_tool_refuses_bad_flags(text_labels, tmp_path):
    parse(["text_labels", f"--mlm_preset={tmp_path}", "--rows=tfidf,bert", f"--json={tmp_path / 'j.json'}"])
    with pytest.raises(ValueError, match="`--rows` must be one of"):
        text_labels.main([])
    parse(["text_labels", f"--mlm_preset={tmp_path}", "--fractions=0.01,2", f"--json={tmp_path / 'j.json'}"])
    with pytest.raises(ValueError, match="`fraction`"):
        text_labels.main([])
    parse(["text_labels", f"--mlm_preset={tmp_path}", "--rows=word2vec", f"--json={tmp_path / 'j.json'}"])
    with pytest.raises(ValueError, match="`--word2vec`"):
        text_labels.main([])
    keras.backend.clear_session()


def test_readme_row_is_the_committed_label_curve():
    import json
    import os

    import numpy as np

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "results", "mlm_labels.json")) as f:
        rows = json.load(f)["rows"]
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    mean = lambda row, fraction: np.mean([c["accuracy"] for c in rows[row][fraction]["cells"].values()])  # noqa: E731
    curve = lambda row: [f"{mean(row, f):.3f}" for f in ("0.01", "0.1", "1.0")]  # noqa: E731
    assert f"| {' / '.join(curve('mlm'))}; " in readme
    a, b, c = curve("random_init")
    assert f"random init {a} / {b} / {c};" in readme and len(rows["random_init"]["0.1"]["cells"]) == 3
    assert all(len(rows[row]["1.0"]["cells"]) == 3 for row in ("mlm", "random_init", "mlm_adapted"))
    a, b, c = curve("tfidf_word2vec")
    assert f"TF-IDF + word2vec **{a} / {b}** / {c} |" in readme
    a, b, c = curve("tfidf")
    assert f"| TF-IDF + logistic regression {a} / {b} / **{c}** |" in readme
    a, b, c = curve("word2vec_cnn")
    assert f"| word2vec CNN {a} / {b} / **{c}**; " in readme and len(rows["word2vec_cnn"]["1.0"]["cells"]) == 3
    a, b, c = curve("cnn_random")
    assert f"; random embedding {a} / {b} / {c} |" in readme
    a, b, c = curve("tfidf")
    assert f"| TF-IDF + logistic regression {a} / {b} / {c} |" in readme  # the CNN row's baseline column
