"""Self-supervised losses as pure functions of tensors.

Each takes tensors and returns a scalar: the mean over this replica's examples, with negatives taken
from the global batch when `gather_distributed=True` (a no-op on one device). Multiply nothing by the
replica count: `SelfSupervisedModel` scales the loss for Keras' cross-replica gradient sum.
"""

import keras
from keras import ops

from kssl.checks import check_choice, check_non_negative, check_positive
from kssl.training import distribute

# Added to masked logits' negation; large enough that exp() underflows to 0 in float32.
_LARGE_NUM = 1e9


def _loss_dtype(x):
    """float32 for float16/bfloat16/float32 inputs (mixed precision safe), float64 kept as is."""
    return "float64" if keras.backend.standardize_dtype(x.dtype) == "float64" else "float32"


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
    check_positive("temperature", temperature)
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


def info_nce(query, positive_key, negative_keys=None, temperature=0.07, normalize=True, gather_distributed=True):
    """InfoNCE (van den Oord et al., 2018), in the form MoCo (He et al., 2020) writes it:

        loss = -log  exp(q . k+ / t) / ( exp(q . k+ / t) + sum_{k-} exp(q . k- / t) )

    Args:
        query: `(n, d)` queries q.
        positive_key: `(n, d)` their positive keys k+ (row i is query i's positive).
        negative_keys: `(K, d)` negatives shared by every query (MoCo's queue). None: the negatives
            of query i are the other queries' positive keys of the (global) batch.
        temperature: t > 0.
        normalize: L2-normalise q and keys first (cosine similarity, as in MoCo); False gives the raw
            dot product (CPC's bilinear score).
        gather_distributed: with `negative_keys=None`, take the in-batch negatives from every replica.

    Returns:
        Scalar float32: mean over this replica's n queries.

    Example:
    >>> import numpy as np, kssl
    >>> q = np.eye(4, 8, dtype="float32")
    >>> easy = float(kssl.losses.info_nce(q, q, negative_keys=-q, temperature=0.1))
    >>> hard = float(kssl.losses.info_nce(q, -q, negative_keys=q, temperature=0.1))
    >>> easy < 0.01 < 10 < hard
    True
    """
    check_positive("temperature", temperature)
    query = ops.convert_to_tensor(query)
    dtype = _loss_dtype(query)
    query, positive_key = ops.cast(query, dtype), ops.cast(positive_key, dtype)
    if normalize:
        query, positive_key = ops.normalize(query, axis=-1), ops.normalize(positive_key, axis=-1)
    if negative_keys is None:
        keys = distribute.all_gather(positive_key) if gather_distributed else positive_key
        offset = ops.cast(distribute.replica_id(), "int32") * ops.shape(query)[0] if gather_distributed else 0
        labels = offset + ops.arange(ops.shape(query)[0], dtype="int32")
        logits = ops.matmul(query, ops.transpose(keys)) / temperature
    else:
        negative_keys = ops.cast(negative_keys, dtype)
        if normalize:
            negative_keys = ops.normalize(negative_keys, axis=-1)
        positive = ops.sum(query * positive_key, axis=-1, keepdims=True)
        logits = ops.concatenate([positive, ops.matmul(query, ops.transpose(negative_keys))], axis=1) / temperature
        labels = ops.zeros((ops.shape(query)[0],), "int32")  # the positive is column 0
    return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def negative_cosine(p, z):
    """Negative cosine similarity with a stop-gradient on the target, the loss of SimSiam (Chen & He, 2021)
    and, up to an affine map, of BYOL (Grill et al., 2020):

        D(p, z) = - mean_i  p_i / ||p_i||  .  sg(z_i) / ||z_i||

    SimSiam's Algorithm 1 writes it `-(p.normalize() * z.detach().normalize()).sum(dim=1).mean()` and its
    symmetric loss is D(p1, z2) / 2 + D(p2, z1) / 2. BYOL's ||p/||p|| - z/||z|| ||^2 = 2 - 2 cos(p, z) is
    2 + 2 * D(p, z) (BYOL sums it over both directions). No negatives, so nothing is gathered across
    replicas: the mean of the replicas' means is the global-batch mean.

    Args:
        p: `(n, d)` predictions (they get the gradient).
        z: `(n, d)` targets; no gradient flows into them.

    Returns:
        Scalar float32 (float64 for float64 inputs) in [-1, 1]: mean over this replica's n rows.

    Example:
    >>> import numpy as np, kssl
    >>> p = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
    >>> float(kssl.losses.negative_cosine(p, 3 * p)), float(kssl.losses.negative_cosine(p, -p))
    (-1.0, 1.0)
    """
    p = ops.convert_to_tensor(p)
    dtype = _loss_dtype(p)
    p = _unit_rows(ops.cast(p, dtype))
    z = _unit_rows(ops.cast(ops.stop_gradient(z), dtype))
    return -ops.mean(ops.sum(p * z, axis=-1))


def _unit_rows(x, epsilon=1e-12):
    """x / max(||x||, epsilon) row-wise (torch's F.normalize), with a finite gradient at a zero row (a dead
    ReLU layer's output), where `ops.normalize`'s rsqrt gives NaN gradients."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), epsilon**2))

def _safe_sqrt(squared):
    # sqrt has an infinite gradient at 0 (identical embeddings): clamp, then give exact 0 back.
    return ops.where(squared > 0, ops.sqrt(ops.maximum(squared, 1e-16)), ops.zeros_like(squared))


def margin_contrastive(x1, x2, similar, margin=1.0, sample_weight=None):
    """Margin contrastive loss of siamese networks (Hadsell, Chopra & LeCun, 2006), per pair:

        l = y d^2 + (1 - y) max(0, m - d)^2,    d = ||x1 - x2||_2,  y = 1 for a similar pair

    Args:
        x1, x2: `(n, d)` the two sides of n pairs.
        similar: `(n,)` 1 (or True) for similar pairs, 0 for dissimilar ones.
        margin: m >= 0; dissimilar pairs farther apart than m cost nothing.
        sample_weight: optional `(n,)` weights; the result is sum(w l) / sum(w).

    Returns:
        Scalar float32: the (weighted) mean over the n pairs.

    Example:
    >>> import numpy as np, kssl
    >>> x1, x2 = np.zeros((2, 2), "float32"), np.array([[0.6, 0.8], [0.3, 0.4]], "float32")
    >>> round(float(kssl.losses.margin_contrastive(x1, x2, [1, 0], margin=1.0)), 4)   # (1 + 0.25) / 2
    0.625
    """
    check_non_negative("margin", margin)
    x1 = ops.convert_to_tensor(x1)
    dtype = _loss_dtype(x1)
    x1, x2 = ops.cast(x1, dtype), ops.cast(x2, dtype)
    y = ops.cast(ops.convert_to_tensor(similar), dtype)
    squared = ops.sum(ops.square(x1 - x2), axis=-1)
    per_pair = y * squared + (1.0 - y) * ops.square(ops.relu(margin - _safe_sqrt(squared)))
    if sample_weight is None:
        return ops.mean(per_pair)
    weight = ops.cast(sample_weight, dtype)
    return ops.sum(weight * per_pair) / ops.maximum(ops.sum(weight), 1e-12)


DISTANCES = ("squared_euclidean", "euclidean", "cosine")
MINING = ("batch_all", "batch_hard", "semi_hard")


def pairwise_distances(a, b, distance="squared_euclidean"):
    """`(n, m)` distances between the rows of `a` `(n, d)` and `b` `(m, d)`: "squared_euclidean",
    "euclidean", or "cosine" (1 - cosine similarity)."""
    if distance not in DISTANCES:
        raise ValueError(f"`distance` must be one of {DISTANCES}; got {distance!r}.")
    if distance == "cosine":
        return 1.0 - ops.matmul(ops.normalize(a, axis=-1), ops.transpose(ops.normalize(b, axis=-1)))
    squared = (ops.sum(ops.square(a), axis=-1)[:, None] + ops.sum(ops.square(b), axis=-1)[None, :]
               - 2.0 * ops.matmul(a, ops.transpose(b)))
    squared = ops.maximum(squared, 0.0)  # rounding can make it slightly negative
    return squared if distance == "squared_euclidean" else _safe_sqrt(squared)


def mine_triplets(distances, anchor_labels, candidate_labels, strategy="batch_hard", anchor_index=None):
    """Online triplet mining: which (anchor a, positive p, negative n) triplets of a batch count.

    `distances[a, j]` is the distance from anchor a to candidate j; p has a's label (and is not a
    itself), n has another label. Strategies:
      - "batch_all": every valid triplet.
      - "batch_hard" (Hermans et al., 2017): per anchor, its farthest positive and nearest negative.
      - "semi_hard" (Schroff et al., 2015, FaceNet; as tensorflow-addons picks them): per (a, p), the
        nearest negative farther than p, d(a,p) < d(a,n); where none is, the farthest negative.
    Where two candidates are equally far (e.g. two identical embeddings), float rounding picks one, and
    rounding differs between batch layouts (one device vs replicas) and CPUs: the loss is the same
    either way, its gradient is not (the loss has a kink there).

    Args:
        distances: `(n, m)` anchor-to-candidate distances.
        anchor_labels: `(n,)` int labels; candidate_labels: `(m,)`.
        anchor_index: `(n,)` column of each anchor itself among the candidates (excluded as its own
            positive); None when the anchors are the candidates (n == m, index i).

    Returns:
        `(n, m, m)` float mask, 1 where triplet (a, p, n) is selected.
    """
    if strategy not in MINING:
        raise ValueError(f"`strategy` must be one of {MINING}; got {strategy!r}.")
    n, m = ops.shape(distances)[0], ops.shape(distances)[1]
    if anchor_index is None:
        anchor_index = ops.arange(n, dtype="int32")
    dtype = distances.dtype
    same = ops.equal(ops.convert_to_tensor(anchor_labels)[:, None], ops.convert_to_tensor(candidate_labels)[None, :])
    is_self = ops.equal(ops.convert_to_tensor(anchor_index, "int32")[:, None], ops.arange(m, dtype="int32")[None, :])
    positive = ops.cast(ops.logical_and(same, ops.logical_not(is_self)), dtype)  # (n, m)
    negative = ops.cast(ops.logical_not(same), dtype)
    if strategy == "batch_all":
        return positive[:, :, None] * negative[:, None, :]
    big = ops.max(distances) + 1.0
    if strategy == "batch_hard":
        hardest_positive = ops.argmax(distances * positive - big * (1.0 - positive), axis=1)
        hardest_negative = ops.argmin(distances + big * (1.0 - negative), axis=1)
        has_both = ops.minimum(ops.max(positive, axis=1), ops.max(negative, axis=1))  # (n,)
        return (ops.one_hot(hardest_positive, m, dtype=dtype)[:, :, None]
                * ops.one_hot(hardest_negative, m, dtype=dtype)[:, None, :] * has_both[:, None, None])
    # semi_hard: for each (a, p), among negatives with d(a,n) > d(a,p) take the smallest d(a,n).
    farther = ops.cast(distances[:, None, :] > distances[:, :, None], dtype) * negative[:, None, :]  # (n, m_p, m_n)
    semi_hard = ops.argmin(distances[:, None, :] + big * (1.0 - farther), axis=2)  # (n, m)
    easiest = ops.argmax(distances * negative - big * (1.0 - negative), axis=1)  # (n,)
    chosen = ops.where(ops.max(farther, axis=2) > 0, semi_hard, easiest[:, None])
    has_negative = ops.max(negative, axis=1)[:, None, None]
    return positive[:, :, None] * ops.one_hot(chosen, m, dtype=dtype) * has_negative


def triplet_margin(anchor, positive, negative, margin=0.2, distance="squared_euclidean"):
    """Triplet loss on explicit triplets (Schroff et al., 2015): mean of max(0, d(a,p) - d(a,n) + margin).

    Example:
    >>> import numpy as np, kssl
    >>> a, p, n = (np.array([[x, 0.0]], "float32") for x in (0.0, 0.1, 1.0))
    >>> round(float(kssl.losses.triplet_margin(a, p, n, margin=0.2, distance="euclidean")), 4)
    0.0
    >>> round(float(kssl.losses.triplet_margin(a, n, p, margin=0.2, distance="euclidean")), 4)  # 1 - 0.1 + 0.2
    1.1
    """
    check_non_negative("margin", margin)
    anchor = ops.convert_to_tensor(anchor)
    dtype = _loss_dtype(anchor)
    a, p, n = (ops.cast(t, dtype) for t in (anchor, positive, negative))
    d_ap = _rowwise_distance(a, p, distance)
    d_an = _rowwise_distance(a, n, distance)
    return ops.mean(ops.relu(d_ap - d_an + margin))


def _rowwise_distance(a, b, distance):
    if distance not in DISTANCES:
        raise ValueError(f"`distance` must be one of {DISTANCES}; got {distance!r}.")
    if distance == "cosine":
        return 1.0 - ops.sum(ops.normalize(a, axis=-1) * ops.normalize(b, axis=-1), axis=-1)
    squared = ops.sum(ops.square(a - b), axis=-1)
    return squared if distance == "squared_euclidean" else _safe_sqrt(squared)


def batch_triplet(embeddings, labels, margin=0.2, strategy="batch_hard", distance="squared_euclidean",
                  gather_distributed=True):
    """Triplet loss with online mining over a batch (`mine_triplets` says which triplets count).

    Every embedding of this replica is an anchor; positives and negatives come from the (global)
    batch. The loss is the mean of max(0, d(a,p) - d(a,n) + margin) over the selected triplets; for
    "batch_all" over those with a positive loss only (Hermans et al.'s "BA != 0": averaging in the
    many easy zeros would shrink the gradient as training goes on). Memory is O(n m^2). With
    `gather_distributed`, the mean is over the global batch's triplets: each replica returns its
    triplets' sum over the global count times the replica count, so the replicas' mean is the loss
    one device computes on the global batch even where replicas select different numbers of triplets.

    Args:
        embeddings: `(n, d)`; labels: `(n,)` int class (or instance) ids.
        margin: >= 0.  strategy: "batch_all" | "batch_hard" | "semi_hard".
        distance: "squared_euclidean" | "euclidean" | "cosine".

    Example:
    >>> import numpy as np, kssl
    >>> x = np.array([[0.0], [0.1], [1.0], [1.1]], "float32")
    >>> float(kssl.losses.batch_triplet(x, [0, 0, 1, 1], margin=0.2, distance="euclidean"))   # well separated
    0.0
    """
    check_non_negative("margin", margin)
    embeddings = ops.convert_to_tensor(embeddings)
    dtype = _loss_dtype(embeddings)
    embeddings = ops.cast(embeddings, dtype)
    labels = ops.cast(ops.convert_to_tensor(labels), "int32")
    if gather_distributed:
        candidates, candidate_labels = distribute.all_gather(embeddings), distribute.all_gather(labels)
        offset = ops.cast(distribute.replica_id(), "int32") * ops.shape(embeddings)[0]
    else:
        candidates, candidate_labels, offset = embeddings, labels, 0
    d = pairwise_distances(embeddings, candidates, distance)
    mask = mine_triplets(d, labels, candidate_labels, strategy,
                         anchor_index=offset + ops.arange(ops.shape(embeddings)[0], dtype="int32"))
    per_triplet = ops.relu(d[:, :, None] - d[:, None, :] + margin) * mask
    counted = ops.sum(ops.cast(per_triplet > 0, dtype) if strategy == "batch_all" else mask)
    if not gather_distributed:
        return ops.sum(per_triplet) / ops.maximum(counted, 1.0)
    # Replicas can count different numbers of triplets (batch_all; anchors without a positive): divide
    # by the global count, times the replica count, so the replicas' mean is the global-batch mean.
    return ops.sum(per_triplet) * distribute.num_replicas() / ops.maximum(distribute.all_sum(counted), 1.0)


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


def swapped_prediction(scores, codes, temperature=0.1):
    """SwAV's swapped prediction loss (Caron et al., 2020): predict the code of one view from another.

    With V views (the first len(codes) of them, the large crops, have codes) and p_v = softmax(s_v / t):

        loss = 1 / len(codes)  sum_i  1 / (V - 1)  sum_{v != i}  mean_n [ - sum_k q_i[n, k] log p_v[n, k] ]

    Args:
        scores: list of V `(n, K)` prototype scores (cosine similarities), one per view.
        codes: list of `(n, K)` target codes (rows summing to 1, e.g. `kssl.clustering.sinkhorn`),
            code i belonging to view i; no gradient flows into them.
        temperature: t > 0 of the softmax (0.1 in SwAV).

    Returns:
        Scalar float32: the mean over this replica's n examples.

    Example:
    >>> import numpy as np, kssl
    >>> s = [np.array([[1.0, 0.0]], "float32"), np.array([[0.0, 1.0]], "float32")]
    >>> q = [np.array([[1.0, 0.0]], "float32"), np.array([[0.0, 1.0]], "float32")]
    >>> round(float(kssl.losses.swapped_prediction(s, q, temperature=1.0)), 4)   # -log(e^0 / (e^1 + e^0))
    1.3133
    """
    check_positive("temperature", temperature)
    if len(scores) < 2 or not 1 <= len(codes) <= len(scores):
        raise ValueError(f"`scores` must hold >= 2 views and `codes` between 1 and that many; got "
                         f"{len(scores)} score and {len(codes)} code tensors.")
    dtype = _loss_dtype(ops.convert_to_tensor(scores[0]))
    log_p = [ops.log_softmax(ops.cast(s, dtype) / temperature, axis=-1) for s in scores]
    total = 0.0
    for i, q in enumerate(codes):
        q = ops.stop_gradient(ops.cast(q, dtype))
        cross = [ops.mean(-ops.sum(q * log_p[v], axis=-1)) for v in range(len(scores)) if v != i]
        total = total + sum(cross) / len(cross)
    return total / len(codes)


CPC_NEGATIVES = ("batch", "sequence")


def cpc_info_nce(predictions, latents, gather_distributed=True, negatives="batch"):
    """The CPC loss (van den Oord et al., 2018): InfoNCE of every k-step-ahead prediction.

        loss = 1/K sum_{k=1..K}  mean_{t}  -log  exp(p_{t,k} . z_{t+k}) / sum_{z'} exp(p_{t,k} . z')

    with the bilinear score of the paper (no normalisation, no temperature). Negatives z', among the
    latents that are targets of the same k:
    - "batch" (the paper's): every other one: other time steps and other sequences of the (global)
      batch, and other grid columns for images;
    - "sequence": the other steps (and grid cells) of the same sequence only (Riviere et al., 2020,
      "Unsupervised pretraining transfers well across languages", sample negatives within a speaker's
      sequence): the speaker, channel and recording no longer tell the positive apart, the content must.

    Args:
        predictions: `(batch, steps, ..., K, d)`: `predictions[:, t, ..., k - 1]` predicts
            `latents[:, t + k, ...]` (the `...` axes, e.g. image columns, are extra positions).
        latents: `(batch, steps, ..., d)`, the encoder's z.
        gather_distributed: with "batch" negatives, negatives from every replica.
        negatives: "batch" or "sequence", as above.

    Returns:
        Scalar float32: mean over k and over this replica's predictions.

    Example:
    >>> import numpy as np, kssl
    >>> z = 10 * np.eye(6, dtype="float32")[None]                        # (1, 6 steps, 6)
    >>> right = np.stack([np.roll(z, -k, axis=1) for k in (1, 2)], axis=-2)   # p[t, k-1] = z[t + k]
    >>> wrong = np.stack([z, z], axis=-2)                                 # predicts the present
    >>> float(kssl.losses.cpc_info_nce(right, z)) < 0.01 < 5 < float(kssl.losses.cpc_info_nce(wrong, z))
    True
    >>> float(kssl.losses.cpc_info_nce(right, z, negatives="sequence")) < 0.01
    True
    """
    check_choice("negatives", negatives, CPC_NEGATIVES)
    predictions, latents = ops.convert_to_tensor(predictions), ops.convert_to_tensor(latents)
    steps, horizon, dim = latents.shape[1], predictions.shape[-2], latents.shape[-1]
    if tuple(predictions.shape[1:-2]) != tuple(latents.shape[1:-1]) or predictions.shape[-1] != dim:
        raise ValueError(
            f"`predictions` must be shaped (batch, {', '.join(map(str, latents.shape[1:-1]))}, K, {dim}) like "
            f"`latents` {tuple(latents.shape)} plus a K axis; got {tuple(predictions.shape)}."
        )
    if steps is None or horizon is None or horizon >= steps:
        raise ValueError(
            f"the sequence must be longer than the prediction horizon: `latents` has {steps} steps, "
            f"`predictions` predicts K={horizon} steps ahead (need steps > K)."
        )
    total = 0.0
    for k in range(1, horizon + 1):
        query = ops.reshape(predictions[:, : steps - k, ..., k - 1, :], (-1, dim))
        target = ops.reshape(latents[:, k:], (-1, dim))
        if negatives == "batch":
            total = total + info_nce(query, target, temperature=1.0, normalize=False,
                                     gather_distributed=gather_distributed)
        else:
            total = total + _sequence_info_nce(query, target, ops.shape(latents)[0])
    return total / horizon


def _sequence_info_nce(query, target, batch):
    """InfoNCE of `(batch * n, d)` queries whose positives are the same rows of `target` and whose negatives
    are the other rows of the same sequence (the n consecutive rows); mean over the queries."""
    dtype = _loss_dtype(query)
    dim = query.shape[-1]
    query = ops.reshape(ops.cast(query, dtype), (batch, -1, dim))
    target = ops.reshape(ops.cast(target, dtype), (batch, -1, dim))
    logits = ops.einsum("bqd,btd->bqt", query, target)
    labels = ops.broadcast_to(ops.arange(ops.shape(logits)[1], dtype="int32")[None], ops.shape(logits)[:2])
    return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


# ---- NNCLR and MoCo v3 (nearest-neighbour positives; symmetric InfoNCE with momentum keys) ----------
def nearest_neighbour(query, support, count=None):
    """The nearest neighbour of each query in a support set, by cosine similarity (NNCLR's NN(z, Q)).

        NN(z, Q) = argmax_{q in Q} cos(z, q)

    Args:
        query: `(n, d)` embeddings z.
        support: `(m, d)` the support set Q (NNCLR: `kssl.layers.memory.Queue` of past projections).
        count: only the first `count` rows are candidates (a queue not yet full holds its items in rows
            [0, filled)); with `count` 0 there is no neighbour and each query is its own (NN(z) = z, the
            SimCLR positive). None: every row.

    Returns:
        `(n, d)`: the L2-normalised support rows nearest to each query, without gradient (a stop-gradient
        positive; neither the query nor the support set gets a gradient through it).

    Example:
    >>> import numpy as np, kssl
    >>> support = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]], "float32")
    >>> kssl.losses.nearest_neighbour(np.array([[0.1, 5.0], [-3.0, 1.0]], "float32"), support).numpy().tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    >>> kssl.losses.nearest_neighbour(np.array([[-3.0, 1.0]], "float32"), support, count=2).numpy().tolist()
    [[0.0, 1.0]]
    """
    query = ops.convert_to_tensor(query)
    support = ops.cast(ops.convert_to_tensor(support), query.dtype)
    if len(query.shape) != 2 or len(support.shape) != 2 or query.shape[-1] != support.shape[-1]:
        raise ValueError(f"`query` (n, d) and `support` (m, d) must be matrices of the same width; got shapes "
                         f"{tuple(query.shape)} and {tuple(support.shape)}.")
    support, query = ops.normalize(support, axis=-1), ops.normalize(query, axis=-1)
    similarity = ops.matmul(query, ops.transpose(support))
    if count is None:
        return ops.stop_gradient(ops.take(support, ops.argmax(similarity, axis=-1), axis=0))
    count = ops.cast(count, "int32")
    written = ops.arange(ops.shape(support)[0], dtype="int32") < count
    similarity = ops.where(written[None, :], similarity, ops.cast(-3.0, similarity.dtype))  # cosines are >= -1
    neighbour = ops.take(support, ops.argmax(similarity, axis=-1), axis=0)
    return ops.stop_gradient(ops.where(count > 0, neighbour, query))


def nnclr(nn_1, nn_2, p_1, p_2, temperature=0.1, gather_distributed=True):
    """NNCLR's loss (Dwibedi et al., 2021, eq. 2, symmetrised as in the paper's pseudocode):

        L(nn, p)_i = -log  exp(nn_i . p_i / t) / sum_k exp(nn_i . p_k / t)       (cosine similarities)
        loss       = L(nn_1, p_2) / 2 + L(nn_2, p_1) / 2

    with nn_v = NN(z_v, Q) the nearest neighbour of view v's projection in the support set (no gradient,
    `nearest_neighbour`) and p_v the predictor's output for view v; the negatives p_k are the other
    images' predictions of the (global) batch.

    Args:
        nn_1, nn_2: `(n, d)` nearest neighbours of the two views' projections (this replica's slice).
        p_1, p_2: `(n, d)` predictions of the two views.
        temperature: t > 0 (0.1 in the paper).
        gather_distributed: take the in-batch negatives from every replica (the paper's global batch).

    Returns:
        Scalar float32: mean over this replica's n images.

    Example:
    >>> import numpy as np, kssl
    >>> p = np.eye(4, 8, dtype="float32")
    >>> easy = float(kssl.losses.nnclr(p, p, p, p, temperature=0.1))
    >>> hard = float(kssl.losses.nnclr(p, p, -p, -p, temperature=0.1))
    >>> easy < 0.01 < 10 < hard
    True
    """
    loss_12 = info_nce(nn_1, p_2, temperature=temperature, gather_distributed=gather_distributed)
    loss_21 = info_nce(nn_2, p_1, temperature=temperature, gather_distributed=gather_distributed)
    return (loss_12 + loss_21) / 2.0


def moco_v3(q_1, q_2, k_1, k_2, temperature=0.2, gather_distributed=True):
    """MoCo v3's symmetric contrastive loss (Chen, Xie & He, 2021, Algorithm 1):

        ctr(q, k) = CE(q k^T / t, labels = diagonal) * 2t          (q, k L2-normalised; k of the global batch)
        loss      = ctr(q_1, k_2) + ctr(q_2, k_1)

    q_v are the query side's predictions for view v, k_v the momentum encoder's keys (no gradient). The
    factor 2t is the paper's code (it makes the gradient's scale independent of t).

    Args:
        q_1, q_2: `(n, d)` queries of the two views (this replica's slice).
        k_1, k_2: `(n, d)` momentum keys of the two views.
        temperature: t > 0 (0.2 in the paper for ResNets, 1.0 for ViT with batch 4096).
        gather_distributed: take the keys from every replica (the paper's `concat_all_gather(k)`).

    Returns:
        Scalar float32: summed over the two directions, mean over this replica's n images.

    Example:
    >>> import numpy as np, kssl
    >>> q = np.eye(4, 8, dtype="float32")
    >>> float(kssl.losses.moco_v3(q, q, q, q, temperature=0.05)) < 0.01 < 1 < float(kssl.losses.moco_v3(q, q, -q, -q))
    True
    """
    ctr_12 = info_nce(q_1, k_2, temperature=temperature, gather_distributed=gather_distributed)
    ctr_21 = info_nce(q_2, k_1, temperature=temperature, gather_distributed=gather_distributed)
    return (ctr_12 + ctr_21) * (2.0 * temperature)


# ---- redundancy reduction (Barlow Twins, VICReg): statistics of the global batch ------------------
# These losses are functions of the whole (global) batch's statistics, so they are computed on the gathered
# embeddings and are the same number on every replica. That is still right under Keras' sum of the
# replicas' gradients: `all_gather`'s gradient hands each replica the sum, over replicas, of the gradients
# of its own slice, i.e. N times the slice's gradient of the global loss, and the base model's division by
# N (`scale_loss_for_distribution`) gives it back (tests/test_barlow_vicreg.py checks 2 replicas against 1).
# Below, `n` is the global batch size.


def _gather_pair(z1, z2, gather_distributed):
    """(z1, z2) checked, cast to the loss dtype and gathered, and d (static: the gather may hide it)."""
    z1, z2 = ops.convert_to_tensor(z1), ops.convert_to_tensor(z2)
    if len(z1.shape) != 2 or tuple(z1.shape) != tuple(z2.shape) or z1.shape[-1] is None:
        raise ValueError(f"`z1` and `z2` must be two (n, d) embeddings of the same shape; got shapes "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}.")
    dtype = _loss_dtype(z1)
    d = int(z1.shape[-1])
    z1, z2 = ops.cast(z1, dtype), ops.cast(z2, dtype)
    if gather_distributed:
        z1, z2 = distribute.all_gather(z1), distribute.all_gather(z2)
    return z1, z2, d


def _batch_variance(z):
    """Per-dimension variance over the batch with Bessel's correction (torch's `var`/`std` default, which
    both papers' pseudocode uses), and the centred `z`."""
    centred = z - ops.mean(z, axis=0, keepdims=True)
    n = ops.cast(ops.shape(z)[0], z.dtype)
    return ops.sum(ops.square(centred), axis=0) / (n - 1.0), centred


def _off_diagonal_mask(d, dtype):
    return 1.0 - ops.eye(d, dtype=dtype)


def barlow_twins(z1, z2, lambda_=5e-3, gather_distributed=True):
    """The Barlow Twins loss (Zbontar, Jing, Misra, LeCun & Deny, 2021): make the cross-correlation matrix
    of the two views' embeddings the identity.

        z~ = (z - mean_batch z) / std_batch z               (each dimension, over the global batch)
        C  = z~1^T z~2 / n                                  (d x d)
        loss = sum_i (1 - C_ii)^2  +  lambda * sum_{i != j} C_ij^2

    as the paper's Algorithm 1 writes it (std with Bessel's correction, torch's default, so identical views
    give C_ii = (n - 1) / n; the official code's BatchNorm1d gives 1). The invariance term pulls C_ii to 1;
    the redundancy-reduction term decorrelates the dimensions.

    Args:
        z1, z2: `(n, d)` embeddings of the two views of the same n images (this replica's slice).
        lambda_: weight >= 0 of the off-diagonal term; the paper's 5e-3 is for d = 8192 (the off-diagonal
            sum grows with d^2, the diagonal one with d: scale it up for a smaller projector).
        gather_distributed: standardise and correlate over every replica's embeddings (the global batch,
            what one device computes); False uses this replica's slice only.

    Returns:
        Scalar float32 (float64 for float64 inputs): the loss of the global batch, the same on every replica.

    Example:
    >>> import numpy as np, kssl
    >>> z = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    >>> float(kssl.losses.barlow_twins(z, z, lambda_=0.0)) < 1e-4        # identical views: C_ii = 1
    True
    >>> round(float(kssl.losses.barlow_twins(z, -z, lambda_=0.0)), 4)    # anti-correlated: 4 (1 + 255/256)^2
    15.9376
    """
    lambda_ = check_non_negative("lambda_", lambda_)
    z1, z2, d = _gather_pair(z1, z2, gather_distributed)
    n = ops.cast(ops.shape(z1)[0], z1.dtype)
    var_1, centred_1 = _batch_variance(z1)
    var_2, centred_2 = _batch_variance(z2)
    # sqrt(var) is undefined at 0 in its gradient; 1e-12 only matters for a constant dimension.
    c = ops.matmul(ops.transpose(centred_1 / ops.sqrt(var_1 + 1e-12)), centred_2 / ops.sqrt(var_2 + 1e-12)) / n
    on_diagonal = ops.sum(ops.square(1.0 - ops.diagonal(c)))
    off_diagonal = ops.sum(ops.square(c) * _off_diagonal_mask(d, c.dtype))
    return on_diagonal + lambda_ * off_diagonal


def vicreg_terms(z1, z2, gather_distributed=True, eps=1e-4):
    """The three terms of VICReg (Bardes, Ponce & LeCun, 2022), unweighted, as its Algorithm 1 writes them:

        invariance  = mean_{b, k} (z1[b, k] - z2[b, k])^2                          (MSE between the views)
        variance    = mean_k max(0, 1 - sqrt(Var z1[:, k] + eps)) + (same for z2)  (hinge on each std)
        covariance  = sum_{i != j} Cov(z1)_ij^2 / d + (same for z2)                (decorrelation)

    with Var and Cov over the global batch (Bessel's correction, torch's default) and d the embedding size.

    Args:
        z1, z2: `(n, d)` embeddings of the two views of the same n images (this replica's slice).
        gather_distributed: statistics (and the MSE) over every replica's embeddings; False: this
            replica's slice only.
        eps: > 0, added to the variance inside the square root (1e-4 in the paper).

    Returns:
        A dict of scalars `{"invariance", "variance", "covariance"}`, the same on every replica.

    Example:
    >>> import numpy as np, kssl
    >>> z = np.zeros((8, 4), "float32")                               # collapsed: every std is 0
    >>> {k: round(float(v), 2) for k, v in kssl.losses.vicreg_terms(z, z).items()}
    {'invariance': 0.0, 'variance': 1.98, 'covariance': 0.0}
    """
    eps = check_positive("eps", eps)
    z1, z2, d = _gather_pair(z1, z2, gather_distributed)
    mask = _off_diagonal_mask(d, z1.dtype)
    n = ops.cast(ops.shape(z1)[0], z1.dtype)
    variance, covariance = 0.0, 0.0
    for z in (z1, z2):
        var, centred = _batch_variance(z)
        variance = variance + ops.mean(ops.relu(1.0 - ops.sqrt(var + eps)))
        cov = ops.matmul(ops.transpose(centred), centred) / (n - 1.0)
        covariance = covariance + ops.sum(ops.square(cov) * mask) / d
    return {"invariance": ops.mean(ops.square(z1 - z2)), "variance": variance, "covariance": covariance}


def vicreg(z1, z2, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, gather_distributed=True,
           eps=1e-4):
    """The VICReg loss (Bardes, Ponce & LeCun, 2022): variance-invariance-covariance regularisation,

        loss = lambda * invariance + mu * variance + nu * covariance

    with the terms of `vicreg_terms` and lambda = mu = 25, nu = 1 as in the paper.

    Args:
        z1, z2: `(n, d)` embeddings of the two views (this replica's slice).
        invariance_weight, variance_weight, covariance_weight: lambda, mu, nu >= 0.
        gather_distributed: statistics over the global batch (every replica's embeddings).
        eps: > 0, inside the square root of the variance hinge.

    Returns:
        Scalar float32 (float64 for float64 inputs): the loss of the global batch, the same on every replica.

    Example:
    >>> import numpy as np, kssl
    >>> z = np.zeros((8, 4), "float32")
    >>> round(float(kssl.losses.vicreg(z, z)), 2)                     # 25 * 1.98: collapse costs
    49.5
    """
    weights = [check_non_negative(name, value) for name, value in (
        ("invariance_weight", invariance_weight), ("variance_weight", variance_weight),
        ("covariance_weight", covariance_weight))]
    terms = vicreg_terms(z1, z2, gather_distributed=gather_distributed, eps=eps)
    return sum(w * terms[k] for w, k in zip(weights, ("invariance", "variance", "covariance")))


# ---- masked image modelling (MAE) and self-distillation (DINO) -----------------------------------
def masked_patch_mse(predictions, patches, mask, normalize_targets=True, eps=1e-6):
    """MAE's loss (He, Chen, Xie, Li, Dollar & Girshick, 2022): the mean squared error of the predicted
    pixels, per patch, averaged over the masked patches only, as the reference `forward_loss`:

        t_bi = (x_bi - mean_j x_bij) / sqrt(var_j x_bij + eps)   if `normalize_targets` (var with Bessel's
                                                                  correction, torch's default), else x_bi
        loss = sum_{b,i} m_bi mean_j (pred_bij - t_bij)^2  /  sum_{b,i} m_bi

    A visible patch's target (m_bi = 0) does not enter the loss.

    Args:
        predictions: `(batch, N, p * p * C)` predicted pixels of every patch.
        patches: `(batch, N, p * p * C)` the image's patches (`kssl.pretext.patchify`); no gradient.
        mask: `(batch, N)`, 1 for a masked patch, 0 for a visible one.
        normalize_targets: per-patch normalised pixels as targets (MAE's `norm_pix_loss`, its better setting).
        eps: > 0, added to the variance.

    Example:
    >>> import numpy as np, kssl
    >>> x = np.zeros((1, 2, 4), "float32"); pred = np.ones((1, 2, 4), "float32")
    >>> float(kssl.losses.masked_patch_mse(pred, x, np.array([[1.0, 0.0]]), normalize_targets=False))
    1.0
    """
    eps = check_positive("eps", eps)
    predictions = ops.convert_to_tensor(predictions)
    dtype = _loss_dtype(predictions)
    target = ops.stop_gradient(ops.cast(patches, dtype))
    if normalize_targets:
        count = ops.cast(ops.shape(target)[-1], dtype)
        mean = ops.mean(target, axis=-1, keepdims=True)
        var = ops.sum(ops.square(target - mean), axis=-1, keepdims=True) / (count - 1.0)
        target = (target - mean) / ops.sqrt(var + eps)
    per_patch = ops.mean(ops.square(ops.cast(predictions, dtype) - target), axis=-1)
    mask = ops.cast(mask, dtype)
    return ops.sum(per_patch * mask) / ops.maximum(ops.sum(mask), 1.0)


def dino(student_logits, teacher_logits, center, student_temperature=0.1, teacher_temperature=0.04):
    """DINO's self-distillation loss (Caron, Touvron, Misra, Jegou, Mairal, Bojanowski & Joulin, 2021):
    every student view predicts the centred, sharpened teacher distribution of every *other* global view,

        P_t^i = softmax((g_t(x_i) - C) / tau_t)               (teacher, i over the 2 global views; no gradient)
        log P_s^v = log_softmax(g_s(x_v) / tau_s)             (student, v over all V views)
        loss = mean over the pairs (i, v), v != i, of  mean_n [ - sum_k P_t^i[n, k] log P_s^v[n, k] ]

    as the reference `DINOLoss.forward` (its Algorithm 1 is the 2-view case: H(t1, s2) / 2 + H(t2, s1) / 2).

    Args:
        student_logits: list of V `(n, K)` student outputs, the global views first.
        teacher_logits: list of the teacher's `(n, K)` outputs of the global views (usually 2).
        center: `(K,)` or `(1, K)`, the centre C subtracted from the teacher's outputs.
        student_temperature: tau_s > 0 (0.1).
        teacher_temperature: tau_t > 0 (0.04 to 0.07, warmed up).

    Returns:
        Scalar float32: the mean over this replica's n examples.

    Example:
    >>> import numpy as np, kssl
    >>> t = [np.array([[9.0, 0.0]], "float32")] * 2                  # a confident teacher: class 0
    >>> s = [np.array([[9.0, 0.0]], "float32")] * 2 + [np.array([[0.0, 9.0]], "float32")]
    >>> round(float(kssl.losses.dino(s, t, np.zeros(2, "float32"), 1.0, 1.0)), 3)   # 2 good pairs, 2 bad
    4.5
    """
    student_temperature = check_positive("student_temperature", student_temperature)
    if not 1 <= len(teacher_logits) <= len(student_logits) or len(student_logits) < 2:
        raise ValueError(f"`student_logits` must hold >= 2 views and `teacher_logits` between 1 and that many; "
                         f"got {len(student_logits)} and {len(teacher_logits)}.")
    dtype = _loss_dtype(ops.convert_to_tensor(student_logits[0]))
    if isinstance(teacher_temperature, (int, float)):
        teacher_temperature = check_positive("teacher_temperature", teacher_temperature)
    teacher_temperature = ops.cast(teacher_temperature, dtype)  # a scheduled tensor during the warm-up
    center = ops.reshape(ops.cast(center, dtype), (1, -1))
    log_p = [ops.log_softmax(ops.cast(s, dtype) / student_temperature, axis=-1) for s in student_logits]
    total, terms = 0.0, 0
    for i, t in enumerate(teacher_logits):
        q = ops.stop_gradient(ops.softmax((ops.cast(t, dtype) - center) / teacher_temperature, axis=-1))
        for v in range(len(student_logits)):
            if v != i:
                total = total + ops.mean(-ops.sum(q * log_p[v], axis=-1))
                terms += 1
    return total / terms


def dino_center(center, teacher_logits, momentum=0.9, gather_distributed=True):
    """DINO's centre update from the teacher's outputs of the global batch (every global view):

        C <- m C + (1 - m) mean over the global batch and the global views of g_t(x)

    Args:
        center: `(K,)` or `(1, K)`, the current centre.
        teacher_logits: list of `(n, K)` teacher outputs (this replica's slice).
        momentum: m in [0, 1] (0.9).
        gather_distributed: the mean over every replica's outputs (the global batch), as the reference
            code's all-reduce; False: this replica's only.

    Returns:
        The new centre, shaped like `center`.

    Example:
    >>> import numpy as np, kssl
    >>> kssl.losses.dino_center(np.zeros(2, "float32"), [np.array([[1.0, 3.0]], "float32")] * 2, 0.5).numpy().tolist()
    [0.5, 1.5]
    """
    from kssl.checks import check_probability

    momentum = check_probability("center_momentum", momentum)
    center = ops.convert_to_tensor(center)
    outputs = ops.concatenate([ops.cast(t, center.dtype) for t in teacher_logits], axis=0)
    if gather_distributed:
        outputs = distribute.all_gather(outputs)
    batch_center = ops.reshape(ops.mean(outputs, axis=0), ops.shape(center))
    return momentum * center + (1.0 - momentum) * ops.stop_gradient(batch_center)
