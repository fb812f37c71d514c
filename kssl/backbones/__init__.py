"""Encoders: vision backbones (a small convnet, ResNets with synchronised batch norm)."""

from kssl.backbones.vision import convnet, get, resnet  # noqa: F401
from kssl.backbones.audio import audio_encoder, context_network  # noqa: F401,E402  (CPC: waveforms, causal context)
from kssl.backbones.text import bert_encoder  # noqa: F401,E402  (MaskedLM: a small keras-hub BERT)
