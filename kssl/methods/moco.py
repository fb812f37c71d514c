"""MoCo: momentum contrast (He et al., 2020, v1; Chen, Fan, Girshick & He, 2020, v2).

    for a minibatch x:
        x_q, x_k = aug(x), aug(x)                   two views
        q = g_q(f_q(x_q))                           query encoder (gradient)
        k = g_k(f_k(x_k)), no gradient              key encoder = momentum copy
        loss = InfoNCE(q, k+ = k, k- = queue, t)    1 positive + K negatives
        SGD update of f_q, g_q
        theta_k <- m theta_k + (1 - m) theta_q      momentum update
        enqueue(k of the global batch); dequeue the oldest
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_positive, check_positive_int, check_probability
from kssl.core import ImageModel
from kssl.layers.heads import ProjectionHead
from kssl.layers.memory import Queue
from kssl.layers.momentum import momentum_copy, momentum_pairs, momentum_update
from kssl.training import distribute

# MoCo v1: linear projection, t = 0.07. v2: 2-layer MLP head (no BN), t = 0.2, plus blur in the
# augmentation and a cosine schedule, which live outside the model (augment=, kssl.training.pretrain).
VERSIONS = {1: {"head_layers": 1, "temperature": 0.07}, 2: {"head_layers": 2, "temperature": 0.2}}


@keras.saving.register_keras_serializable(package="kssl")
class MoCo(ImageModel):
    """MoCo v1/v2: contrast each query with its key and a queue of keys from past batches.

    The key encoder and key head are momentum copies of the query ones and get no gradient; the
    queue (`model.queue`, a `kssl.layers.memory.Queue` of `queue_size` x `projection_dim` keys, oldest
    overwritten first) holds non-trainable weights, so checkpoints, `BackupAndRestore` and `.keras`
    files carry it. After each optimizer step (`after_step`) the keys of every replica are enqueued
    (the global batch), so every replica holds the same queue, and the queue size must be a multiple
    of the global batch; then the key side takes its momentum update from the UPDATED query side.

    Batch-norm leakage (MoCo's "shuffling BN"): a query and its key must not share batch statistics the
    network can exploit. kssl's encoders use synchronized (global) batch norm, SimCLR's answer to the
    same leak. Set `shuffle_bn_splits=S > 1` for MoCo's own answer on one device: queries and keys are
    each encoded in S groups, keys after a random permutation, so a query and its key are normalised
    with different examples. With S > 1, N replicas no longer equal one device (groups differ).

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        version: 1 (linear head, t = 0.07) or 2 (MLP head, t = 0.2).
        projection_dim: size of q and k (128 in the papers).
        queue_size: K negatives; a multiple of the global batch size.
        momentum: m in [0, 1) (0.999 in the papers).
        temperature: t > 0; None takes the version's default.
        hidden_dim: hidden width of the v2 head (default: the encoder's feature size).
        shuffle_bn_splits: S >= 1 groups for shuffling BN (1: off, global BN only).
        augment: one view's augmentation, applied twice (e.g. `kssl.augment.simclr_views(...)`; v2 adds
            blur: `blur_prob=0.5`), or a list of two layers.
        seed: seed of the initial queue and the key shuffling.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.MoCo(encoder, version=2, projection_dim=16, queue_size=64)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1))
    >>> history = model.fit(np.random.rand(64, 28, 28, 1).astype("float32"), batch_size=16, verbose=0)
    >>> int(model.queue.pointer.numpy())   # 4 batches of 16 keys enqueued into 64 slots: back at 0
    0
    """

    min_batch_size = 2

    def __init__(self, encoder, version=2, projection_dim=128, queue_size=4096, momentum=0.999,
                 temperature=None, hidden_dim=None, shuffle_bn_splits=1, augment=None, seed=0, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        if version not in VERSIONS:
            raise ValueError(f"`version` must be 1 or 2; got {version!r}.")
        self.version = version
        self.momentum = check_probability("momentum", momentum, high_open=True)
        self.queue_size = check_positive_int("queue_size", queue_size)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.shuffle_bn_splits = check_positive_int("shuffle_bn_splits", shuffle_bn_splits)
        temperature = VERSIONS[version]["temperature"] if temperature is None else temperature
        self.temperature = check_positive("temperature", temperature)
        self.hidden_dim, self.seed = hidden_dim, seed

        self.head = ProjectionHead(hidden_dim or self.feature_dim, projection_dim, batch_norm=False,
                                   num_layers=VERSIONS[version]["head_layers"], name="head")
        self.head.build((None, self.feature_dim))
        self.key_encoder = momentum_copy(encoder)
        self.key_head = momentum_copy(self.head, input_shape=(None, self.feature_dim))
        self.queue = Queue(queue_size, projection_dim, initializer=keras.initializers.RandomNormal(seed=seed),
                           normalize=True, name="queue")
        self._shuffle_seed = keras.random.SeedGenerator(seed + 1)
        self.built = True

    def forward(self, x, training=False):
        view_q, view_k = self.views(x, 2)
        q = self.head(self._in_groups(self.encoder, view_q, training), training=training)
        k = ops.stop_gradient(ops.normalize(self._keys(view_k, training), axis=-1))
        return {"q": q, "k": k}

    def _keys(self, view_k, training):
        if self.shuffle_bn_splits == 1 or not training:
            features = self.key_encoder(view_k, training=training)
        else:
            order = ops.argsort(keras.random.uniform((ops.shape(view_k)[0],), seed=self._shuffle_seed))
            shuffled = self._in_groups(self.key_encoder, ops.take(view_k, order, axis=0), training)
            features = ops.take(shuffled, ops.argsort(order), axis=0)  # back in the queries' order
        return self.key_head(features, training=training)

    def _in_groups(self, network, images, training):
        if self.shuffle_bn_splits == 1 or not training:
            return network(images, training=training)
        parts = ops.split(images, self.shuffle_bn_splits, axis=0)
        return ops.concatenate([network(part, training=training) for part in parts], axis=0)

    def check_inputs(self, x):
        x = super().check_inputs(x)
        batch = x.shape[0]
        if batch is not None and self.shuffle_bn_splits > 1 and batch % self.shuffle_bn_splits:
            raise ValueError(f"MoCo: the batch per replica ({batch}) must be a multiple of "
                             f"`shuffle_bn_splits` ({self.shuffle_bn_splits}).")
        return x

    def ssl_loss(self, outputs, y=None):
        return losses.info_nce(outputs["q"], outputs["k"], negative_keys=self.queue.values,
                               temperature=self.temperature)

    def after_step(self, x, y, outputs):
        self.queue.enqueue(distribute.all_gather(outputs["k"]))  # this step's keys, every replica's
        momentum_update(self._momentum_pairs(), self.momentum)  # theta_k <- m theta_k + (1 - m) theta_q

    def load_own_variables(self, store):
        if len(store.keys()) == 2:  # written before kssl.layers.memory: MoCo's own queue and queue_pointer
            self.queue.load_legacy_state(store["0"], store["1"], self.queue_size)  # (a MoCo queue is full)
            return
        super().load_own_variables(store)

    def _momentum_pairs(self):
        return momentum_pairs(self.encoder, self.key_encoder) + momentum_pairs(self.head, self.key_head)

    def get_config(self):
        return {
            **super().get_config(),
            "version": self.version,
            "projection_dim": self.projection_dim,
            "queue_size": self.queue_size,
            "momentum": self.momentum,
            "temperature": self.temperature,
            "hidden_dim": self.hidden_dim,
            "shuffle_bn_splits": self.shuffle_bn_splits,
            "seed": self.seed,
        }
