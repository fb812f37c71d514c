"""Tensor functions of the pretext tasks: clustering (Sinkhorn-Knopp) and pretext geometry (rotations,
permutations, tiles)."""

from kssl.ops import clustering, pretext  # noqa: F401
