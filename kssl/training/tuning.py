"""tf.data options for kssl's input pipelines (`kssl.data`, `kssl.training.pretrain`).

tf.data's autotuner (on by default) tunes each `AUTOTUNE` map's parallelism and prefetch buffer while the
pipeline runs. On the 2-core machines kssl is built on it made training slower, not faster: with it on,
4 of 5 fits of SimCLR (Fashion-MNIST, batches of 256) ran at 341.5 ms a step with the process 1.5 cores
busy, against 275-290 ms and 1.9 cores with it off (same process, alternating fits); word2vec's step on
constant batches ran at 25.5 ms in half of its fits against 12.7-19.8 ms, never slow in 36 fits with it off.
Off, an `AUTOTUNE` map runs on as many threads as there are cores and an `AUTOTUNE` prefetch buffer grows
by TensorFlow's own rule, which suits kssl's pipelines: their maps are light (the augmentations run in
the model's `train_step`). Keras turns the autotuner off the same way for a `PyDataset` with workers.
"""


def without_autotune(dataset):
    """`dataset` with tf.data's autotuner off (see the module docstring for why and what was measured).

    Example:
    >>> import tensorflow as tf
    >>> from kssl.training.tuning import without_autotune
    >>> ds = without_autotune(tf.data.Dataset.range(4).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE))
    >>> ds.options().autotune.enabled, [int(x) for x in ds]
    (False, [0, 2, 4, 6])
    """
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"`dataset` must be a tf.data.Dataset; got {type(dataset).__name__}.")
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
