"""Masked language modelling, optionally with next-sentence prediction (BERT; Devlin et al., 2019).

    input pipeline (kssl.data.language.MLMPreprocessor, keras-hub layers):
        [CLS] A [SEP] B [SEP]; 15% of the non-special tokens selected: 80% -> [MASK], 10% -> random, 10% kept
        x = token ids, segments, padding mask, selected positions;  y = original ids there, weights, IsNext
    encode      h = f(tokens, segments)          (a keras-hub BERT backbone; what transfers)
    predict     p(token | h at each selected position)  (MaskedLMHead, tied to the token embedding)
    loss        mean cross-entropy over selected positions
                (+ next_sentence: cross-entropy of IsNext from the [CLS] vector, B true next half the time)
"""

import numbers

import keras
from keras import ops

from kssl.core import TextModel

TARGET_KEYS = ("mask_ids", "mask_weights", "next_sentence_labels")


@keras.saving.register_keras_serializable(package="kssl")
class MaskedLM(TextModel):
    """BERT's masked-token prediction (and, with `next_sentence=True`, next-sentence prediction).

    Batches come from `kssl.data.language.MLMPreprocessor(...).dataset(...)`: `(x, y)` with `x` the token
    ids and masked positions, `y` the original ids there, their weights and the next-sentence labels.
    Metrics: `masked_accuracy`, `perplexity` (exp of the mean masked-token cross-entropy) and, with NSP,
    `next_sentence_accuracy`.

    Args:
        encoder: a keras-hub `BertBackbone` (e.g. `kssl.backbones.bert_encoder(vocabulary_size)`);
            anything with the same inputs, `sequence_output`/`pooled_output` outputs and a
            `token_embedding` works.
        next_sentence: add the NSP head and loss.
        next_sentence_weight: weight of the NSP loss.

    Example:
    >>> import numpy as np, keras, kssl
    >>> from kssl.data.language import MLMPreprocessor, SPECIAL_TOKENS
    >>> vocabulary = list(SPECIAL_TOKENS) + ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "."]
    >>> pre = MLMPreprocessor(vocabulary, sequence_length=16)
    >>> documents = [["the cat sat on the mat.", "a dog ran."], ["the dog sat.", "a cat ran on a mat."]] * 8
    >>> encoder = kssl.backbones.bert_encoder(len(vocabulary), num_layers=1, hidden_dim=16,
    ...                                       intermediate_dim=32, max_sequence_length=16)
    >>> model = kssl.methods.MaskedLM(encoder, next_sentence=True)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = model.fit(pre.dataset(documents, batch_size=4), epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss', 'masked_accuracy', 'next_sentence_accuracy', 'perplexity']

    The same network as keras-hub's own `BertMaskedLM` task (same logits; its preset loads without kssl):
    >>> task = model.to_keras_hub(pre)
    >>> x, y = pre(["the cat sat on the mat."])
    >>> bool(keras.ops.all(task(x) == model(x)["token_logits"]))
    True
    """

    input_keys = ("token_ids", "segment_ids", "padding_mask", "mask_positions")

    def __init__(self, encoder, next_sentence=False, next_sentence_weight=1.0, **kwargs):
        import keras_hub

        super().__init__(encoder, **kwargs)
        if not hasattr(encoder, "token_embedding"):
            raise TypeError("`encoder` must be a keras-hub BertBackbone (a keras.Model with `token_embedding`); "
                            f"got {type(encoder).__name__}.")
        if isinstance(next_sentence_weight, bool) or not isinstance(next_sentence_weight, numbers.Real) or not (
                0 <= next_sentence_weight < float("inf")):
            raise ValueError(f"`next_sentence_weight` must be a number >= 0; got {next_sentence_weight!r}.")
        self.next_sentence, self.next_sentence_weight = bool(next_sentence), float(next_sentence_weight)
        self.vocabulary_size = encoder.token_embedding.input_dim
        self.feature_dim = encoder.token_embedding.output_dim
        self.mlm_head = keras_hub.layers.MaskedLMHead(
            vocabulary_size=self.vocabulary_size, token_embedding=encoder.token_embedding,
            intermediate_activation="gelu", name="mlm_head")
        self.mlm_head.build((None, None, self.feature_dim), (None, None))
        if self.next_sentence:
            self.nsp_head = keras.layers.Dense(2, name="nsp_head")
            self.nsp_head.build((None, self.feature_dim))
            self.nsp_tracker = keras.metrics.SparseCategoricalAccuracy(name="next_sentence_accuracy")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="masked_accuracy")
        self.perplexity_tracker = keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")
        self.built = True

    @property
    def metrics(self):
        return super().metrics + [self.accuracy_tracker, self.perplexity_tracker] + (
            [self.nsp_tracker] if self.next_sentence else [])

    def forward(self, x, training=False):
        hidden = self.encoder({k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}, training=training)
        outputs = {"token_logits": ops.cast(self.mlm_head(hidden["sequence_output"], mask_positions=x["mask_positions"]),
                                            "float32")}
        if self.next_sentence:
            outputs["next_sentence_logits"] = ops.cast(self.nsp_head(hidden["pooled_output"]), "float32")
        return outputs

    def _targets(self, y):
        needed = TARGET_KEYS if self.next_sentence else TARGET_KEYS[:2]
        if not isinstance(y, dict) or any(k not in y for k in needed):
            got = sorted(y) if isinstance(y, dict) else type(y).__name__
            raise ValueError(f"MaskedLM: the targets `y` must be a dict with keys {list(needed)} (batches of "
                             f"kssl.data.language.MLMPreprocessor are (x, y)); got {got}.")
        return y["mask_ids"], ops.cast(y["mask_weights"], "float32")

    def ssl_loss(self, outputs, y=None):
        # Mean over the selected tokens of this replica's batch (padding selections weigh 0).
        mask_ids, weights = self._targets(y)
        token_loss = keras.losses.sparse_categorical_crossentropy(mask_ids, outputs["token_logits"], from_logits=True)
        loss = ops.sum(token_loss * weights) / ops.maximum(ops.sum(weights), 1.0)
        if self.next_sentence:
            loss = loss + self.next_sentence_weight * ops.mean(keras.losses.sparse_categorical_crossentropy(
                y["next_sentence_labels"], outputs["next_sentence_logits"], from_logits=True))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        mask_ids, weights = self._targets(y)
        self.accuracy_tracker.update_state(mask_ids, y_pred["token_logits"], sample_weight=weights)
        self.perplexity_tracker.update_state(mask_ids, y_pred["token_logits"], sample_weight=weights)
        if self.next_sentence:
            self.nsp_tracker.update_state(y["next_sentence_labels"], y_pred["next_sentence_logits"])
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def to_keras_hub(self, preprocessor=None):
        """This model as keras-hub's own task: a `keras_hub.models.BertMaskedLM` on the same backbone (shared,
        not copied) whose masked-LM head gets this model's head weights, so its logits are this model's.
        It predicts masked tokens with keras-hub's API alone and `save_to_preset` writes a preset that
        `keras_hub.models.BertMaskedLM.from_preset` loads without kssl. The NSP head has no place in it.

        Args:
            preprocessor: a `kssl.data.language.MLMPreprocessor` (its keras-hub `BertMaskedLMPreprocessor` is
                attached, vocabulary included) or a keras-hub `BertMaskedLMPreprocessor`; None: no preprocessor.
        (Example: the class's.)
        """
        import keras_hub

        from kssl.data.language import MLMPreprocessor

        if not isinstance(self.encoder, keras_hub.models.BertBackbone):
            raise TypeError(f"to_keras_hub: the encoder must be a keras-hub BertBackbone; got {type(self.encoder).__name__}.")
        if isinstance(preprocessor, MLMPreprocessor):
            preprocessor = preprocessor.masked_lm_preprocessor
        elif preprocessor is not None and not isinstance(preprocessor, keras_hub.models.BertMaskedLMPreprocessor):
            raise TypeError("`preprocessor` must be a kssl MLMPreprocessor, a keras_hub BertMaskedLMPreprocessor or "
                            f"None; got {type(preprocessor).__name__}.")
        task = keras_hub.models.BertMaskedLM(backbone=self.encoder, preprocessor=preprocessor)
        task.masked_lm_head.set_weights(self.mlm_head.get_weights())
        return task

    def get_config(self):
        return {**super().get_config(), "next_sentence": self.next_sentence,
                "next_sentence_weight": self.next_sentence_weight}

