"""`SelfSupervisedModel`: what every kssl method shares, whatever its modality.

A method subclasses it (or its image part, `ImageModel`, or its text part, `TextModel`) and writes only
its algorithm box:

    views(x)  ->  forward(x) = encoder + head  ->  ssl_loss(outputs, y)  ->  after_step(x, y, outputs)

Keras' own `train_step`/`test_step` do the rest (gradients, loss scaling across replicas, the loss
metric, progress bars): the base class overrides `compute_loss`, the hook the Keras "customizing
fit()" guide recommends. State that changes with training (queues, memory banks, centres, momentum
copies, extra metrics) changes in `after_step`, which runs once per train step after the optimizer has
applied the gradients, in the same replica context, and never in evaluation.
"""

import copy
import math
import threading

import keras
import tensorflow as tf
from keras import ops

from kssl.checks import UNIT_TOLERANCE, check_positive_int, check_unit_images
from kssl.layers.heads import ProjectionHead
from kssl.training import distribute

# Models whose `train_step` is running on this thread. Under MirroredStrategy each replica traces the
# step on its own thread, so a thread-local set tells `compute_metrics` (Keras calls it after the
# optimizer step, with the step's outputs) that it is inside a train step, not `evaluate`.
_IN_TRAIN_STEP = threading.local()


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(config):
    return None if config is None else keras.saving.deserialize_keras_object(config)


def serialize_augment(augment):
    """An `augment` argument (None, a layer or a list of layers) as config."""
    return [_serialize(a) for a in augment] if isinstance(augment, list) else _serialize(augment)


def deserialize_augment(config):
    return [_deserialize(a) for a in config] if isinstance(config, list) else _deserialize(config)


def _check_augment_type(augment):
    if isinstance(augment, (list, tuple)):
        if not augment or not all(isinstance(layer, keras.layers.Layer) for layer in augment):
            raise TypeError("`augment` must be a Keras layer, a non-empty list of Keras layers, or None.")
        return list(augment)
    if augment is not None and not isinstance(augment, keras.layers.Layer):
        raise TypeError(f"`augment` must be a Keras layer, a list of them, or None; got {augment!r}.")
    return augment


def scale_loss_for_distribution(loss):
    """`loss` divided by the number of replicas in sync: Keras sums the replicas' gradients, so N replicas
    each pre-dividing their mean give the global-batch mean. (Keras does the same inside its own losses,
    in `keras.src.losses.loss`, which is not public API.)"""
    replicas = distribute.num_replicas()
    return loss if replicas == 1 else loss / ops.cast(replicas, loss.dtype)


class SelfSupervisedModel(keras.Model):
    """Base class of every kssl method: an `encoder` (the part that transfers) trained by a pretext loss.

    It knows no modality; `ImageModel` and `TextModel` add the input checks of theirs. Subclasses
    implement:
      - `forward(x, training)`: views of `x` through the encoder and the method's heads; returns any
        structure of tensors (it is what `model(x)` returns).
      - `ssl_loss(outputs, y=None)`: a scalar, the mean over this replica's examples (negatives may be
        gathered from every replica); never pre-divided by the replica count. `y` is the second element
        of the batch when there is one (labels, dataset indices, pairs), else None: methods that learn
        without labels ignore it.
    and may implement `check_inputs(x)` (refuse bad batches, naming the argument) and
    `after_step(x, y, outputs)` (state updates after the optimizer step).

    Args:
        encoder: a `keras.Model`, the part that transfers.
        augment: a Keras layer that returns one random view of a batch (called once per view, always
            in training mode, also in `evaluate`), a list of such layers (one per view), or None for
            identity views.

    Example:
    >>> import keras, kssl
    >>> encoder = kssl.backbones.convnet(input_shape=(28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.SimCLR(encoder, projection_dim=16)
    >>> isinstance(model, kssl.SelfSupervisedModel)
    True
    """

    min_batch_size = 1

    def __init__(self, encoder, augment=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model):
            raise TypeError(f"`encoder` must be a keras.Model; got {type(encoder).__name__}.")
        self.encoder = encoder
        self.augment = _check_augment_type(augment)

    # ---- the method's hooks -------------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError

    def ssl_loss(self, outputs, y=None):
        raise NotImplementedError

    def check_inputs(self, x):
        """Returns `x` (cast as needed) or refuses it with an error naming the argument."""
        return x

    def after_step(self, x, y, outputs):
        """State updates after the optimizer step of a train step (queues, memory banks, momentum copies,
        extra metrics). Runs in the replica's context: gather across replicas where the state is global."""

    # ---- shared machinery ---------------------------------------------------------------------
    def views(self, x, count):
        """`count` random views of `x` from `augment` (identity when `augment` is None)."""
        if self.augment is None:
            return [x] * count
        if isinstance(self.augment, list):
            if len(self.augment) != count:
                raise ValueError(
                    f"`augment` is a list of {len(self.augment)} layers but {type(self).__name__} "
                    f"makes {count} views."
                )
            return [layer(x, training=True) for layer in self.augment]
        return [self.augment(x, training=True) for _ in range(count)]

    def call(self, x, training=False):
        return self.forward(self.check_inputs(x), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.ssl_loss(y_pred, y)
        if self.losses:  # weight regularisers
            loss = loss + ops.cast(ops.sum(self.losses), loss.dtype)
        # Keras sums gradients over replicas: pre-divide so N replicas give the global-batch mean.
        return scale_loss_for_distribution(loss)

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        """`keras.Model.fit`, refusing up front an array `x` whose last batch would be smaller than the
        method's `min_batch_size` (Keras would fail at the end of the first epoch, inside a graph trace)."""
        self._check_last_batch(x, batch_size, kwargs)
        return super().fit(x, y, batch_size, *args, **kwargs)

    def _check_last_batch(self, x, batch_size, kwargs):
        if self.min_batch_size < 2 or kwargs.get("steps_per_epoch") or not hasattr(x, "shape") or not x.shape:
            return
        if isinstance(x, keras.KerasTensor) or x.shape[0] is None:
            return
        batch = batch_size or 32  # Keras' default for arrays
        count = int(x.shape[0])
        split = kwargs.get("validation_split") or 0.0
        if split:
            count = int(math.floor(count * (1.0 - split)))
        last = count % batch
        smallest = self.min_batch_size * distribute.num_replicas()
        if 0 < last < smallest:
            name = type(self).__name__
            raise ValueError(f"{name}.fit: `x` has {count} training examples, so with batch_size {batch} the last "
                             f"batch would hold {last}, fewer than the {smallest} {name} needs; drop {last} examples "
                             f"(x[:{count - last}]) or choose a batch_size that leaves no such remainder.")

    def train_step(self, data):
        running = _IN_TRAIN_STEP.__dict__.setdefault("models", set())
        running.add(id(self))
        try:
            return super().train_step(data)  # forward, compute_loss, optimizer step, compute_metrics
        finally:
            running.discard(id(self))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if id(self) in getattr(_IN_TRAIN_STEP, "models", ()):
            self.after_step(x, y, y_pred)  # Keras calls this after the optimizer step
        logs = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if distribute.is_multi_worker():
            # Keras reduces logs across workers with strategy.reduce("MEAN", v, axis=0), which fails on
            # scalars ("Invalid reduction dimension 0", tensorflow#72388): give it shape (1,) values.
            logs = {name: ops.reshape(value, (1,)) if len(ops.shape(value)) == 0 else value for name, value in logs.items()}
        return logs

    # ---- serialisation ------------------------------------------------------------------------
    def get_config(self):
        # keras.Model's config carries name, trainable and the dtype policy (mixed precision).
        return {**super().get_config(), "encoder": _serialize(self.encoder), "augment": serialize_augment(self.augment)}

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # Keras consumes nested configs while deserialising: keep the caller's
        config["encoder"] = _deserialize(config["encoder"])
        config["augment"] = deserialize_augment(config.get("augment"))
        return cls(**config)


def encode_views(views, *networks, training=False, all_stages=False):
    """Runs a list of equally sized view batches through `networks` in turn (an encoder, then heads) in ONE
    pass over all of them, and splits the result back into per-view tensors.

    One pass, as SimCLR, BYOL, Barlow Twins, VICReg, SimSiam and NNCLR's code does: batch norm in the
    encoder and heads normalises over every view of the batch together (2N images for two views).

    Args:
        views: list of `(N, ...)` tensors.
        *networks: callables taking `(inputs, training=...)`, applied in order.
        training: passed to each network.
        all_stages: False: the per-view outputs of the last network; True: a list with the per-view outputs
            of every network (e.g. BYOL/SimSiam need both the projection z and the prediction p).

    Example:
    >>> import numpy as np, keras
    >>> from kssl.core import encode_views
    >>> double, plus_one = (lambda t, training: 2 * t), (lambda t, training: t + 1)
    >>> a, b = encode_views([np.ones((2, 3)), np.zeros((2, 3))], double, plus_one)
    >>> keras.ops.convert_to_numpy(a)[0].tolist(), keras.ops.convert_to_numpy(b)[0].tolist()
    ([3.0, 3.0, 3.0], [1.0, 1.0, 1.0])
    """
    out, stages = ops.concatenate(views, axis=0), []
    for network in networks:
        out = network(out, training=training)
        stages.append(ops.split(out, len(views), axis=0))
    return stages if all_stages else stages[-1]


def encoder_output_dim(encoder):
    """Feature size of `encoder`, checking that it maps an image batch to a batch of vectors."""
    if not isinstance(encoder, keras.Model):
        raise TypeError(f"`encoder` must be a keras.Model; got {type(encoder).__name__}.")
    try:
        input_shape = encoder.input_shape
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "`encoder` must be a built keras.Model with a known input shape, e.g. a functional model "
            "from kssl.backbones."
        ) from error
    if not isinstance(input_shape, tuple) or len(input_shape) != 4:
        raise ValueError(
            f"`encoder` must take images of shape (batch, height, width, channels); its input shape "
            f"is {input_shape}."
        )
    output = encoder.compute_output_spec(keras.KerasTensor(input_shape))
    if len(output.shape) != 2 or output.shape[-1] is None:
        raise ValueError(
            "`encoder` must output one feature vector per image, shape (batch, features); it outputs "
            f"shape {tuple(output.shape)}. Add a pooling layer, e.g. "
            "keras.layers.GlobalAveragePooling2D()."
        )
    return int(output.shape[-1])


class ImageModel(SelfSupervisedModel):
    """The image part of the contract: float images in [0, 1] shaped `(batch, height, width, channels)`.

    At construction the encoder is checked (images -> `(batch, features)`, or the method's own check
    in `encoder_dim`), and `augment` is run once on a symbolic batch of the images the method trains on:
    a layer that cannot take them, or returns another number of channels or (unless the method takes
    views of any size) another size than the encoder's, is refused with an error naming `augment`.

    Args:
        encoder, augment: as `SelfSupervisedModel`.
        image_shape: `(height, width, channels)` of the images the method trains on (None for a dimension
            of any size); default: the encoder's input shape. A method whose encoder takes part of the
            image (colorization: L of Lab; CPC: patches) passes its own.

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.convnet(input_shape=(28, 28, 1), widths=(8, 16))
    >>> model = kssl.methods.SimCLR(encoder, projection_dim=16)
    >>> model.image_shape, model.feature_dim
    ((28, 28, 1), 16)
    """

    # A method that encodes views of other sizes than the encoder's input (multi-crop) sets this.
    any_view_size = False

    def __init__(self, encoder, augment=None, image_shape=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.feature_dim = self.encoder_dim(encoder)
        self.image_shape = tuple(encoder.input_shape[1:]) if image_shape is None else tuple(image_shape)
        self._check_augment_output()

    def encoder_dim(self, encoder):
        """Checks `encoder` and returns its feature size."""
        return encoder_output_dim(encoder)

    def _check_augment_output(self):
        if self.augment is None:
            return
        name, expected = type(self).__name__, self.image_shape
        for layer in self.augment if isinstance(self.augment, list) else [self.augment]:
            try:
                spec = layer.compute_output_spec(keras.KerasTensor((2, *expected)), training=True)
            except Exception as error:  # noqa: BLE001  (any layer's own failure, re-raised with context)
                raise ValueError(
                    f"{name}: `augment` ({layer.name}) cannot take the images this model trains on, shaped "
                    f"{expected} (height, width, channels); it fails with: {error}"
                ) from error
            shape = tuple(spec.shape)
            if len(shape) != 4:
                raise ValueError(f"{name}: `augment` ({layer.name}) must return images (batch, height, width, "
                                 f"channels); it returns shape {shape}.")
            if shape[-1] is not None and expected[-1] is not None and shape[-1] != expected[-1]:
                raise ValueError(
                    f"{name}: `augment` ({layer.name}) returns {shape[-1]} channel(s) but the encoder takes "
                    f"{expected[-1]} (images shaped {expected}); build the augmentation with channels={expected[-1]}."
                )
            if not self.any_view_size and any(
                a is not None and b is not None and a != b for a, b in zip(shape[1:3], expected[:2])
            ):
                raise ValueError(
                    f"{name}: `augment` ({layer.name}) returns views of size {shape[1:3]} but the encoder takes "
                    f"{expected[:2]}; build the augmentation with image_size={expected[0]}."
                )

    def check_inputs(self, x):
        """Refuses a batch that does not match the images this model trains on, naming the argument."""
        name = type(self).__name__
        shape = tuple(x.shape)
        expected = (None, *self.image_shape)
        if len(shape) != 4:
            raise ValueError(
                f"{name}: `x` must be a batch of images shaped (batch, height, width, channels) like "
                f"{expected}; got shape {shape}."
            )
        for axis, what in ((3, "channel(s)"), (1, "rows"), (2, "columns")):
            if shape[axis] is not None and expected[axis] is not None and shape[axis] != expected[axis]:
                raise ValueError(f"{name}: `x` must have {expected[axis]} {what}, as {name} expects images shaped "
                                 f"{expected}; got shape {shape}.")
        if "int" in keras.backend.standardize_dtype(x.dtype):
            raise ValueError(
                f"{name}: `x` must be float images in [0, 1]; got dtype {keras.backend.standardize_dtype(x.dtype)}. "
                "Divide by 255 (kssl.datasets pipelines do)."
            )
        self._check_values(x)
        # Inside a train step `x` is this replica's slice of the global batch.
        if shape[0] is not None and shape[0] < self.min_batch_size:
            raise ValueError(
                f"{name}: the batch must hold at least {self.min_batch_size} examples per replica; got "
                f"{shape[0]}. Use a larger `batch_size`, and drop_remainder=True in tf.data."
            )
        if self.min_batch_size > 1 and shape[0] is None:
            # The batch size is only known at run time (e.g. the last, partial batch of an epoch).
            tf.debugging.assert_greater_equal(
                tf.shape(x)[0], self.min_batch_size,
                message=f"{name}: each replica's batch must hold at least {self.min_batch_size} examples; use "
                "drop_remainder=True or a larger batch_size.",
            )
        return ops.cast(x, self.compute_dtype)

    def _check_values(self, x):
        """Refuses NaN/Inf and values above 1 (float images in [0, 255]). Eager inputs (`model(x)` on an
        array) are checked at once; in a traced step (`fit`, `predict`) it is one `tf.debugging.Assert` on
        two reductions of the batch, negligible next to the encoder. XLA drops asserts, so under
        `jit_compile` only the eager check runs (pretrain's NaN-loss guard still stops a NaN run)."""
        if isinstance(x, keras.KerasTensor):
            return
        name = type(self).__name__
        if not tf.is_symbolic_tensor(x):
            check_unit_images(keras.ops.convert_to_numpy(x), "x", owner=name)
            return
        if getattr(self, "jit_compile", False) is True:  # XLA would drop the assert (with a warning per trace)
            return
        values = tf.cast(x, tf.float32)
        top = tf.reduce_max(values)
        ok = tf.logical_and(tf.reduce_all(tf.math.is_finite(values)), top <= 1.0 + UNIT_TOLERANCE)
        tf.debugging.Assert(ok, [f"{name}: `x` must be finite images in [0, 1] (divide images in [0, 255] by 255); "
                                 "got a batch whose largest value is", top])


class TwoViewEmbedding(ImageModel):
    """The shared part of the methods that compare two views' embeddings z = head(encoder(view)) through
    statistics of the batch, with no negatives and no predictor (Barlow Twins, VICReg): the head (an MLP
    with batch norm, `head_name` in the weights), its arguments, and the one-pass two-view forward that
    returns `{"z_1", "z_2"}`. A subclass adds its loss (`ssl_loss`) and its own arguments.

    Args:
        encoder, augment: as `ImageModel`.
        projection_dim: size of z.
        hidden_dim: width of the head's hidden layers (default: `projection_dim`).
        head_layers: Dense layers in the head (the last without batch norm and ReLU).
        gather_distributed: the loss's statistics over the global batch (every replica's embeddings), as
            one device would; False: each replica's slice alone.

    Example:
    >>> import kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.VICReg(encoder, projection_dim=16, head_layers=2)
    >>> isinstance(model, kssl.core.TwoViewEmbedding), model.head.name, model.get_config()["head_layers"]
    (True, 'expander', 2)
    """

    head_name = "projector"
    min_batch_size = 2  # statistics over the batch

    def __init__(self, encoder, projection_dim=8192, hidden_dim=None, head_layers=3, augment=None,
                 gather_distributed=True, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        self.hidden_dim = None if hidden_dim is None else check_positive_int("hidden_dim", hidden_dim)
        self.head_layers = check_positive_int("head_layers", head_layers)
        self.gather_distributed = bool(gather_distributed)
        self.head = ProjectionHead(self.hidden_dim or projection_dim, projection_dim, num_layers=head_layers,
                                   name=self.head_name)
        self.head.build((None, self.feature_dim))
        self.built = True

    def forward(self, x, training=False):
        # One pass over both views: the head's batch norm sees all 2N images.
        z_1, z_2 = encode_views(self.views(x, 2), self.encoder, self.head, training=training)
        return {"z_1": z_1, "z_2": z_2}

    def get_config(self):
        return {**super().get_config(), "projection_dim": self.projection_dim, "hidden_dim": self.hidden_dim,
                "head_layers": self.head_layers, "gather_distributed": self.gather_distributed}


class TextModel(SelfSupervisedModel):
    """The text part of the contract: `x` is a dict of integer token tensors and `y` the pretext targets,
    the `(x, y)` batches that `kssl.data.language`'s pipelines yield. Subclasses set `input_keys`.

    Example:
    >>> import kssl
    >>> issubclass(kssl.methods.MaskedLM, kssl.core.TextModel)
    True
    """

    input_keys = ()

    def check_inputs(self, x):
        name = type(self).__name__
        if not isinstance(x, dict) or any(k not in x for k in self.input_keys):
            got = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ValueError(f"{name}: `x` must be a dict with keys {sorted(self.input_keys)} (made by "
                             f"kssl.data.language); got {got}.")
        return x


__all__ = ["ImageModel", "SelfSupervisedModel", "TextModel", "encoder_output_dim", "scale_loss_for_distribution"]
