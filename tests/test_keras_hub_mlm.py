"""kssl's masked LM on keras-hub's own BERT preprocessing and task: MLMPreprocessor is keras-hub's
BertMaskedLMPreprocessor (+ NSP labels), `MaskedLM.to_keras_hub` is a BertMaskedLM with the same logits, and
`kssl export keras-hub` writes a preset keras-hub loads by itself, vocabulary included."""

import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import kssl
from kssl import cli
from kssl.data import language
from kssl.eval import text
from test_text_labels import toy_preset

VOCABULARY = list(language.SPECIAL_TOKENS) + ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "."]


def tiny_model(pre, next_sentence=True):
    keras.utils.set_random_seed(0)
    encoder = kssl.backbones.bert_encoder(len(VOCABULARY), num_layers=1, hidden_dim=16, intermediate_dim=32,
                                          max_sequence_length=pre.sequence_length)
    model = kssl.methods.MaskedLM(encoder, next_sentence=next_sentence)
    # a head that is not at its initial values: the copy must carry trained weights
    model.mlm_head.set_weights([w + np.random.default_rng(i).normal(0, 0.1, w.shape).astype(w.dtype)
                                for i, w in enumerate(model.mlm_head.get_weights())])
    return model


def test_preprocessor_is_keras_hubs_and_packs_both_segments_of_a_pair():
    pre = language.MLMPreprocessor(VOCABULARY, sequence_length=16)
    assert isinstance(pre.masked_lm_preprocessor, keras_hub.models.BertMaskedLMPreprocessor)
    assert isinstance(pre.tokenizer, keras_hub.models.BertTokenizer)
    x, y = pre(tf.constant(["the cat sat.", "a dog"]), tf.constant(["a dog ran.", "the mat"]), tf.constant([1, 0]))
    segments = x["segment_ids"].numpy()
    tokens = pre.features(tf.constant(["the cat sat."]))["token_ids"].numpy()[0]
    # [CLS] the cat sat . [SEP] a dog ran . [SEP]: the second sentence is there, in segment 1
    assert segments[0].tolist()[:11] == [0] * 6 + [1] * 5
    assert (x["padding_mask"].numpy()[0].sum(), tokens[:6].tolist()) == (11, [2, 5, 6, 7, 13, 3])
    assert y["next_sentence_labels"].numpy().tolist() == [1, 0]
    assert set(y) == {"mask_ids", "mask_weights", "next_sentence_labels"}


def test_to_keras_hub_gives_this_models_logits():
    pre = language.MLMPreprocessor(VOCABULARY, sequence_length=16)
    model = tiny_model(pre)
    task = model.to_keras_hub(pre)
    assert isinstance(task, keras_hub.models.BertMaskedLM) and task.backbone is model.encoder
    assert task.preprocessor is pre.masked_lm_preprocessor
    x, _ = pre(tf.constant(["the cat sat on the mat.", "a dog ran."]))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(task(x)),
                                  keras.ops.convert_to_numpy(model(x)["token_logits"]))
    assert model.to_keras_hub().preprocessor is None
    with pytest.raises(TypeError, match="`preprocessor` must be a kssl MLMPreprocessor"):
        model.to_keras_hub(pre.tokenizer)


def test_export_writes_a_keras_hub_preset_that_loads_without_kssl(tmp_path, capsys):
    run = toy_preset(tmp_path / "mlm")
    out = tmp_path / "exported" / "bert"
    assert cli.main(["export", "keras-hub", str(tmp_path / "mlm"), str(out)]) == 0
    assert "BertMaskedLM.from_preset" in capsys.readouterr().out
    assert not [f for f in os.listdir(out.parent) if ".partial-" in f]
    task = keras_hub.models.BertMaskedLM.from_preset(str(out))
    pre = text.preprocessor_from_preset(str(tmp_path / "mlm"))
    assert task.preprocessor.tokenizer.get_vocabulary() == pre.vocabulary  # the vocabulary travels with it
    assert task.preprocessor.sequence_length == pre.sequence_length
    sentences = tf.constant(["the first sentence of the toy corpus", "another one"])
    x, _ = pre(sentences)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(task(x)),
                               keras.ops.convert_to_numpy(run.model(x)["token_logits"]), rtol=1e-5, atol=1e-5)
    # keras-hub's own preprocessor from the preset tokenizes as kssl's does
    np.testing.assert_array_equal(
        keras_hub.models.BertTextClassifierPreprocessor(task.preprocessor.tokenizer,
                                                        sequence_length=pre.sequence_length)(sentences)["token_ids"],
        pre.features(sentences)["token_ids"])
    # exporting again replaces the keras-hub preset in OUT
    assert cli.main(["export", "keras-hub", str(tmp_path / "mlm"), str(out)]) == 0


def test_export_refuses_other_methods_and_a_directory_that_is_not_a_keras_hub_preset(tmp_path, capsys):
    toy_preset(tmp_path / "w2v", "word2vec")
    with pytest.raises(SystemExit) as error:
        cli.main(["export", "keras-hub", str(tmp_path / "w2v"), str(tmp_path / "out")])
    assert error.value.code == 2 and "holds a Word2Vec preset; only a MaskedLM" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    toy_preset(tmp_path / "mlm")
    with pytest.raises(SystemExit) as error:
        cli.main(["export", "keras-hub", str(tmp_path / "mlm"), str(tmp_path / "mine")])
    assert error.value.code == 2 and "exists and is not a keras-hub preset" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    # nor a kssl preset, the source itself included (its metadata.json is kssl's)
    with pytest.raises(SystemExit) as error:
        cli.main(["export", "keras-hub", str(tmp_path / "mlm"), str(tmp_path / "mlm")])
    assert error.value.code == 2 and "exists and is not a keras-hub preset" in capsys.readouterr().err
    assert kssl.zoo.load(str(tmp_path / "mlm")) is not None
