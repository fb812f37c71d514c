"""Text encoders: a small keras-hub BERT (Devlin et al., 2019) for masked language modelling, and Kim's
(2014) word-level CNN for sentence classification."""


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


def word_cnn(vocabulary_size, embedding_dim=100, widths=(3, 4, 5), filters=100, embeddings=None, sequence_length=None,
             name="word_cnn"):
    """Kim (2014), "Convolutional Neural Networks for Sentence Classification": word ids -> a word
    embedding -> for each width in `widths` a `Conv1D` of `filters` filters with ReLU, max-pooled over the
    sentence -> the pooled vectors concatenated (`len(widths) * filters` features; 300 with the paper's
    defaults). A `keras.Model` from int ids `(batch, sequence_length)` to features; Kim's dropout (0.5)
    and output layer belong to the classifier on top (`kssl.eval.text.finetune_pooled`).

    `embeddings`, a `(vocabulary_size, embedding_dim)` array (e.g. word2vec vectors, rows in the id order
    of `kssl.data.language.WordIds`), is copied into the embedding, which stays trainable (Kim's
    CNN-non-static); without it the embedding starts from Keras' default uniform draw. Ids must be padded
    to at least the widest filter (`WordIds` pads to a fixed length).

    Example:
    >>> import numpy as np, kssl
    >>> encoder = kssl.backbones.word_cnn(50, embedding_dim=8, widths=(2, 3), filters=4, embeddings=np.ones((50, 8)))
    >>> encoder(np.array([[5, 7, 9, 0, 0]])).shape
    TensorShape([1, 8])
    """
    import keras
    import numpy as np

    from kssl.checks import check_positive_int

    check_positive_int("vocabulary_size", vocabulary_size)
    check_positive_int("embedding_dim", embedding_dim)
    check_positive_int("filters", filters)
    if isinstance(widths, (str, bytes)) or not np.iterable(widths) or not len(widths):
        raise ValueError(f"`widths` must be a non-empty list of filter widths (positive integers); got {widths!r}.")
    for width in widths:
        check_positive_int("widths", width)
    if sequence_length is not None:
        check_positive_int("sequence_length", sequence_length, minimum=max(widths))
    if embeddings is not None and np.shape(embeddings) != (vocabulary_size, embedding_dim):
        raise ValueError(f"`embeddings` must have shape (vocabulary_size, embedding_dim) = "
                         f"{(vocabulary_size, embedding_dim)}; got {np.shape(embeddings)}.")
    ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
    vectors = embedding(ids)
    pooled = [keras.layers.GlobalMaxPooling1D(name=f"max_pool_{width}")(
        keras.layers.Conv1D(filters, width, activation="relu", name=f"conv_{width}")(vectors)) for width in widths]
    features = keras.layers.Concatenate(name="features")(pooled) if len(pooled) > 1 else pooled[0]
    if embeddings is not None:
        embedding.set_weights([np.asarray(embeddings, "float32")])
    return keras.Model(ids, features, name=name)


__all__ = ["bert_encoder", "mean_pooled", "word_cnn"]
