"""Keras layers shared by methods: augmentations, corruptions, colour spaces, heads, momentum copies."""

from kssl.layers import augment, color, corrupt, heads, momentum  # noqa: F401
