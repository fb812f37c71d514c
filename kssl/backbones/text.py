"""Text encoders: a small keras-hub BERT (Devlin et al., 2019) for masked language modelling."""


def bert_encoder(vocabulary_size, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512,
                 max_sequence_length=128, dropout=0.1, name="bert_encoder"):
    """A small keras-hub `BertBackbone` (default: 2 layers, width 128, ~1.4 M parameters plus the
    embedding) -- a size this CPU trains in minutes.

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.bert_encoder(100, num_layers=1, hidden_dim=16, intermediate_dim=32)
    >>> encoder.token_embedding.output_dim
    16
    """
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim, max_sequence_length=max_sequence_length, dropout=dropout, name=name)


def mean_pooled(encoder):
    """A `keras.Model` from a BERT-style encoder's inputs to the mean of its token vectors over real tokens:
    the sentence features the text probes use.

    Example:
    >>> import numpy as np, kssl
    >>> encoder = kssl.backbones.bert_encoder(100, num_layers=1, hidden_dim=16, intermediate_dim=32)
    >>> ids = np.array([[2, 5, 6, 3, 0]])
    >>> kssl.backbones.mean_pooled(encoder)({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0}).shape
    TensorShape([1, 16])
    """
    import keras
    from keras import ops

    inputs = {name: keras.Input((None,), dtype="int32" if name != "padding_mask" else "bool", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    hidden = encoder(inputs)["sequence_output"]
    mask = ops.expand_dims(ops.cast(inputs["padding_mask"], hidden.dtype), -1)
    pooled = ops.sum(hidden * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
    return keras.Model(inputs, pooled, name="mean_pooled")


__all__ = ["bert_encoder", "mean_pooled"]
