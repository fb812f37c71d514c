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


# ---- reconstruction (denoising, inpainting, colorization, split-brain) ---------------------------
RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction_loss(targets, predictions, kind="mse", mask=None):
    """Mean per-pixel reconstruction loss, optionally over the pixels where `mask` is 1 only.

        mse:  (x - x^)^2                                   (predictions are values)
        bce:  -[x log x^ + (1 - x) log(1 - x^)]            (predictions are probabilities in (0, 1),
                                                           targets in [0, 1]; Vincent et al., 2010)

    Args:
        targets, predictions: `(batch, height, width, channels)`.
        kind: "mse" or "bce".
        mask: None, or `(batch, height, width, 1)` weights (1 = counted): the mean is over masked
            pixels, which is the context encoder's masked L2 (Pathak et al., 2016).

    Example:
    >>> import numpy as np, kssl
    >>> x = np.zeros((1, 2, 2, 1), "float32"); y = np.ones((1, 2, 2, 1), "float32")
    >>> mask = np.array([1, 0, 0, 0], "float32").reshape(1, 2, 2, 1)
    >>> float(kssl.losses.reconstruction_loss(x, y)), float(kssl.losses.reconstruction_loss(x, y * 0.5, mask=mask))
    (1.0, 0.25)
    """
    if kind not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"`loss` must be one of {RECONSTRUCTION_LOSSES}; got {kind!r}.")
    targets, predictions = ops.convert_to_tensor(targets), ops.convert_to_tensor(predictions)
    dtype = _loss_dtype(predictions)
    targets, predictions = ops.cast(targets, dtype), ops.cast(predictions, dtype)
    if kind == "mse":
        per_pixel = ops.square(targets - predictions)
    else:
        p = ops.clip(predictions, 1e-7, 1.0 - 1e-7)
        per_pixel = -(targets * ops.log(p) + (1.0 - targets) * ops.log(1.0 - p))
    per_pixel = ops.mean(per_pixel, axis=-1, keepdims=True)
    if mask is None:
        return ops.mean(per_pixel)
    mask = ops.cast(mask, dtype)
    return ops.sum(per_pixel * mask) / ops.maximum(ops.sum(mask), 1.0)


def soft_cross_entropy(targets, logits, weights=None):
    """Cross-entropy -sum_q t_q log softmax(logits)_q with soft targets, averaged over positions,
    each position weighted by `weights` (Zhang et al.'s rebalanced multinomial loss). Shapes:
    `(..., Q)` targets and logits, `(...)` weights.

    Example:
    >>> import numpy as np, kssl
    >>> t = np.array([[0.0, 1.0]], "float32")
    >>> round(float(kssl.losses.soft_cross_entropy(t, np.array([[0.0, 0.0]], "float32"))), 4)
    0.6931
    """
    logits = ops.convert_to_tensor(logits)
    dtype = _loss_dtype(logits)
    per_position = -ops.sum(ops.cast(targets, dtype) * ops.log_softmax(ops.cast(logits, dtype), axis=-1), axis=-1)
    if weights is None:
        return ops.mean(per_position)
    return ops.mean(per_position * ops.cast(weights, dtype))


def discriminator_loss(real_logits, fake_logits):
    """GAN discriminator loss: BCE(D(real), 1) + BCE(D(fake), 0), from logits (Goodfellow et al., 2014).

    Example:
    >>> import numpy as np, kssl
    >>> float(kssl.losses.discriminator_loss(np.full((4, 1), 20.0, "float32"), np.full((4, 1), -20.0, "float32"))) < 1e-6
    True
    """
    real_logits, fake_logits = ops.convert_to_tensor(real_logits), ops.convert_to_tensor(fake_logits)
    real = keras.losses.binary_crossentropy(ops.ones_like(real_logits), real_logits, from_logits=True)
    fake = keras.losses.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    return ops.mean(real) + ops.mean(fake)


def generator_adversarial_loss(fake_logits):
    """The generator's non-saturating adversarial loss BCE(D(fake), 1), from logits.

    Example:
    >>> import numpy as np, kssl
    >>> round(float(kssl.losses.generator_adversarial_loss(np.zeros((4, 1), "float32"))), 4)
    0.6931
    """
    fake_logits = ops.convert_to_tensor(fake_logits)
    return ops.mean(keras.losses.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))
