"""Keras layers shared by methods: augmentations, corruptions, colour spaces, heads, momentum copies, and
the memory of past batches (`Queue`, `MemoryBank`)."""

from kssl.layers import augment, color, corrupt, heads, memory, momentum  # noqa: F401
