"""Self-supervised losses as pure functions of tensors.

Each takes tensors and returns a scalar: the mean over this replica's examples, with negatives taken
from the global batch when `gather_distributed=True` (a no-op on one device). Multiply nothing by the
replica count: `SelfSupervisedModel` scales the loss for Keras' cross-replica gradient sum.
"""

import keras
from keras import ops

from kssl import distribute

# Added to masked logits' negation; large enough that exp() underflows to 0 in float32.
_LARGE_NUM = 1e9


def _loss_dtype(x):
    """float32 for float16/bfloat16/float32 inputs (mixed precision safe), float64 kept as is."""
    return "float64" if keras.backend.standardize_dtype(x.dtype) == "float64" else "float32"


def _check_temperature(temperature):
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"`temperature` must be a number > 0; got {temperature!r}.")


def nt_xent(z1, z2, temperature=0.5, gather_distributed=True):
    """NT-Xent, the normalised-temperature cross-entropy of SimCLR (Chen et al., 2020).

    For a batch of N pairs (z1_i, z2_i), every one of the 2N embeddings is an anchor whose positive is
    its pair and whose 2(N - 1) negatives are all other embeddings of the (global) batch:

        l(i, j) = -log  exp(sim(z_i, z_j) / t) / sum_{k != i} exp(sim(z_i, z_k) / t)
        loss    = 1 / 2N  sum_i [ l(2i, 2i+1) + l(2i+1, 2i) ]

    with sim the cosine similarity. Self-similarity is masked out of the denominator.

    Args:
        z1, z2: `(n, d)` embeddings of the two views of the same n images (this replica's slice).
        temperature: t > 0.
        gather_distributed: if True, negatives come from every replica's embeddings.

    Returns:
        Scalar float32: mean loss over this replica's 2n anchors.

    Example:
    >>> import numpy as np, kssl
    >>> z = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    >>> float(kssl.losses.nt_xent(z, z, temperature=0.1)) < 0.5   # identical views: easy positives
    True
    """
    _check_temperature(temperature)
    z1, z2 = ops.convert_to_tensor(z1), ops.convert_to_tensor(z2)
    dtype = _loss_dtype(z1)
    z1 = ops.normalize(ops.cast(z1, dtype), axis=-1)
    z2 = ops.normalize(ops.cast(z2, dtype), axis=-1)
    if gather_distributed:
        z1_all, z2_all = distribute.all_gather(z1), distribute.all_gather(z2)
        offset = ops.cast(distribute.replica_id(), "int32") * ops.shape(z1)[0]
    else:
        z1_all, z2_all, offset = z1, z2, 0
    labels = offset + ops.arange(ops.shape(z1)[0], dtype="int32")
    self_mask = ops.one_hot(labels, ops.shape(z1_all)[0], dtype=dtype) * _LARGE_NUM
    logits_aa = ops.matmul(z1, ops.transpose(z1_all)) / temperature - self_mask
    logits_bb = ops.matmul(z2, ops.transpose(z2_all)) / temperature - self_mask
    logits_ab = ops.matmul(z1, ops.transpose(z2_all)) / temperature
    logits_ba = ops.matmul(z2, ops.transpose(z1_all)) / temperature
    loss_a = keras.losses.sparse_categorical_crossentropy(
        labels, ops.concatenate([logits_ab, logits_aa], axis=1), from_logits=True
    )
    loss_b = keras.losses.sparse_categorical_crossentropy(
        labels, ops.concatenate([logits_ba, logits_bb], axis=1), from_logits=True
    )
    return ops.mean(loss_a + loss_b) / 2.0
