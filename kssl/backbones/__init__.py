"""Encoders: vision backbones (a small convnet, ResNets with synchronised batch norm)."""

from kssl.backbones.vision import convnet, get, resnet  # noqa: F401
