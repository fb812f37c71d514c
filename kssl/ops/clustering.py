"""Online clustering for SwAV: equipartitioned soft codes from the Sinkhorn-Knopp algorithm.

Pure functions of tensors (keras.ops, static shapes, XLA friendly). Hand-written because neither
Keras nor TensorFlow has Sinkhorn-Knopp; it is ten lines in the SwAV paper (Caron et al., 2020,
algorithm 1 and appendix A.1), which these follow.
"""

import keras
from keras import ops

from kssl.checks import check_positive, check_positive_int
from kssl.training import distribute


def check_sinkhorn(epsilon, iterations):
    """Validates Sinkhorn's `epsilon` (> 0; SwAV uses 0.05) and `iterations` (>= 1; SwAV uses 3)."""
    check_positive("epsilon", epsilon)
    check_positive_int("iterations", iterations)


def sinkhorn(scores, epsilon=0.05, iterations=3):
    """Soft codes Q for a batch of prototype `scores` by the Sinkhorn-Knopp algorithm (SwAV).

    Solves max_Q Tr(Q^T S) + epsilon H(Q) over the transportation polytope where each of the B
    examples has mass 1 and each of the K prototypes mass B / K (the equipartition constraint), by
    alternately normalising the K x B matrix exp(S^T / epsilon):

        Q = exp(S^T / epsilon) / sum;   repeat `iterations` times:  rows (prototypes) -> 1 / K,
                                                                    columns (examples) -> 1 / B
        return B Q^T

    After the last step every example's code sums to 1 exactly; every prototype's column sums to
    about B / K (exactly, as iterations grow). Call it without gradient (the codes are targets);
    use `global_sinkhorn` inside a distribution strategy.

    Args:
        scores: `(B, K)` similarities of B examples to K prototypes.
        epsilon: entropy weight > 0 (smaller: harder codes).
        iterations: normalisation rounds (3 in SwAV).

    Returns:
        `(B, K)` float32 codes (float64 kept), rows summing to 1.

    Example:
    >>> import numpy as np, kssl
    >>> q = np.asarray(kssl.clustering.sinkhorn(np.eye(4, 2, dtype="float32"), epsilon=0.5, iterations=50))
    >>> q.sum(axis=1).round(4).tolist(), q.sum(axis=0).round(4).tolist()
    ([1.0, 1.0, 1.0, 1.0], [2.0, 2.0])
    """
    check_sinkhorn(epsilon, iterations)
    scores = ops.convert_to_tensor(scores)
    dtype = "float64" if keras.backend.standardize_dtype(scores.dtype) == "float64" else "float32"
    scores = ops.cast(scores, dtype)
    batch = ops.cast(ops.shape(scores)[0], dtype)
    prototypes = ops.cast(ops.shape(scores)[1], dtype)
    # In the log domain: the same iterates as the paper's exp / divide, but no exp(S / epsilon)
    # overflow or all-zero columns for small epsilon. (The paper's first division by the total is
    # a constant shift that the first normalisation undoes.)
    log_q = scores / epsilon
    for _ in range(iterations):
        log_q = log_q - ops.logsumexp(log_q, axis=0, keepdims=True) - ops.log(prototypes)  # prototypes: 1 / K
        log_q = log_q - ops.logsumexp(log_q, axis=1, keepdims=True) - ops.log(batch)  # examples: 1 / B
    return ops.stop_gradient(ops.exp(log_q) * batch)


def global_sinkhorn(scores, epsilon=0.05, iterations=3, extra_scores=None):
    """`sinkhorn` over the GLOBAL batch: this replica's `(b, K)` scores are gathered from every
    replica (and `extra_scores`, e.g. a queue's `(L, K)` scores identical on every replica, are put
    first), the codes are computed for all of them, and this replica's `(b, K)` rows come back. With
    one replica and no extra scores it is `sinkhorn(scores)`.

    Example:
    >>> import numpy as np, kssl
    >>> s = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    >>> np.allclose(kssl.clustering.global_sinkhorn(s), kssl.clustering.sinkhorn(s))
    True
    """
    scores = ops.convert_to_tensor(scores)
    everything = distribute.all_gather(ops.stop_gradient(scores))
    offset = ops.cast(distribute.replica_id(), "int32") * ops.shape(scores)[0]
    if extra_scores is not None:
        everything = ops.concatenate([ops.cast(extra_scores, everything.dtype), everything], axis=0)
        offset = offset + ops.shape(extra_scores)[0]
    codes = sinkhorn(everything, epsilon, iterations)
    if everything is scores:
        return codes
    return ops.take(codes, offset + ops.arange(ops.shape(scores)[0], dtype="int32"), axis=0)
