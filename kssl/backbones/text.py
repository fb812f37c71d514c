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


__all__ = ["bert_encoder"]
