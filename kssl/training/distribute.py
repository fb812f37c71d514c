"""Cross-replica helpers: the one place kssl talks to `tf.distribute` directly.

Every helper is a no-op with one replica (lightly's `utils/dist.py` idea), so losses can call them
unconditionally. Keras has no cross-replica gather, hence `tf` here.
"""

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def num_replicas():
    """Number of replicas in sync in the current replica (or cross-replica) context."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    """Index of the calling replica in its sync group (0 outside a distribution strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return 0
    return context.replica_id_in_sync_group


def all_gather(x, axis=0):
    """Concatenates `x` from every replica along `axis`, replica 0 first.

    The gradient of the result flows back to each replica's own slice (TF sums the incoming
    gradients across replicas, then slices), which is what a global-batch loss needs.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return context.all_gather(x, axis=axis)


def all_sum(x):
    """`x` summed over the replicas, as a constant (no gradient flows through it): e.g. a count of the
    global batch's pairs, so that each replica divides its sum by the global count. `x` on one device."""
    x = tf.stop_gradient(x)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return tf.reduce_sum(context.all_gather(x[None], axis=0), axis=0)


def is_multi_worker():
    """True inside a MultiWorkerMirroredStrategy that spans more than one worker process."""
    current = tf.distribute.get_strategy()
    return isinstance(current, tf.distribute.MultiWorkerMirroredStrategy) and current.extended._in_multi_worker_mode()


def strategy(name="auto", tpu=None):
    """Returns a `tf.distribute.Strategy` by name.

    - "auto": `MirroredStrategy` when more than one GPU is visible, else the default strategy.
    - "one_device": the default strategy (first GPU if any, else CPU).
    - "mirrored": `MirroredStrategy` over every visible GPU (or CPU logical devices).
    - "multi_worker": `MultiWorkerMirroredStrategy`; the cluster comes from the TF_CONFIG environment
      variable (every worker runs the same program; worker 0 is the chief that writes checkpoints).
    - "tpu": `TPUStrategy` on the TPU named by `tpu` (a name, a grpc:// address, or None for the
      TPU VM this runs on / the TPU_NAME environment variable). See docs/distributed.md.

    The global batch is the batch your dataset yields; each of the N replicas sees batch / N.

    Example:
    >>> import kssl
    >>> kssl.distribute.strategy("one_device").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {name!r}.")
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()



def _tpu_strategy(tpu):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as error:  # OSError: no metadata server
        raise RuntimeError(
            f"strategy('tpu'): no TPU found for `tpu`={tpu!r} ({type(error).__name__}: {error}). Run on a Cloud TPU VM, "
            "or pass the TPU's name or grpc:// address (or set TPU_NAME); see docs/distributed.md."
        ) from error
    return tf.distribute.TPUStrategy(resolver)
