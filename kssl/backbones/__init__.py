"""Encoders: vision backbones (a small convnet, ResNets, a small ViT), every batch norm synchronised across replicas."""

from kssl.backbones.vision import batch_norm_layers, convnet, get, resnet, synchronize_batch_norm  # noqa: F401
from kssl.backbones.audio import audio_encoder, context_network  # noqa: F401,E402  (CPC: waveforms, causal context)
from kssl.backbones.text import bert_encoder, mean_pooled, word_cnn  # noqa: F401,E402  (MaskedLM's BERT; Kim's CNN)
from kssl.backbones.vit import has_class_token, patch_size_of, patch_tokens, token_encoder, vit  # noqa: F401,E402  (ViT; MAE's halves)
