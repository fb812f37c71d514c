"""`SelfSupervisedModel`: what every kssl method shares.

A method subclasses it and writes only its algorithm box:

    views(x)  ->  forward(views) = encoder + head  ->  ssl_loss(outputs)

Keras' own `train_step`/`test_step` do the rest (gradients, loss scaling across replicas, the loss
metric, progress bars): the base class overrides `compute_loss`, the hook the Keras "customizing
fit()" guide recommends, so a method that needs more (momentum updates, queues) extends `train_step`
and still calls the base.
"""

import keras
import tensorflow as tf
from keras import ops
from keras.src.losses.loss import scale_loss_for_distribution

from kssl import distribute


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(config):
    return None if config is None else keras.saving.deserialize_keras_object(config)


def check_choice(arg, value, choices):
    """Returns `value` if it is one of `choices`, else a ValueError naming `arg`, the choices and the
    closest match (for typos such as "simclear")."""
    if value in choices:
        return value
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"`{arg}` must be one of {sorted(choices)}; got {value!r}.{hint}")


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


class SelfSupervisedModel(keras.Model):
    """Base class of every kssl method: an `encoder` (the part that transfers) trained by a pretext loss.

    Subclasses implement:
      - `forward(x, training)`: views of `x` through the encoder and the method's heads; returns any
        structure of tensors (it is what `model(x)` returns).
      - `ssl_loss(outputs)`: a scalar, the mean over this replica's examples (negatives may be
        gathered from every replica); never pre-divided by the replica count.
    and may set `min_batch_size` (examples per replica the loss needs).

    Batches may be `x` or `(x, y)`: labels are ignored, except by a method that sets `uses_labels`
    (metric learning from labels), whose loss is then `ssl_loss(outputs, labels)`. Images are float in [0, 1], shaped
    `(batch, height, width, channels)` like the encoder's input.

    Args:
        encoder: a built `keras.Model` mapping images to `(batch, features)`.
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
    uses_labels = False

    def __init__(self, encoder, augment=None, **kwargs):
        super().__init__(**kwargs)
        self.feature_dim = self.encoder_dim(encoder)
        self.encoder = encoder
        if isinstance(augment, (list, tuple)):
            if not all(isinstance(layer, keras.layers.Layer) for layer in augment):
                raise TypeError("`augment` must be a Keras layer, a list of Keras layers, or None.")
            augment = list(augment)
        elif augment is not None and not isinstance(augment, keras.layers.Layer):
            raise TypeError(f"`augment` must be a Keras layer, a list of them, or None; got {augment!r}.")
        self.augment = augment

    # ---- the method's hooks -------------------------------------------------------------------
    def encoder_dim(self, encoder):
        """Checks `encoder` and returns its feature size; a method whose encoder is not images ->
        vectors (CPC on audio: waveforms -> sequences) overrides it."""
        return encoder_output_dim(encoder)

    def forward(self, x, training=False):
        raise NotImplementedError

    def ssl_loss(self, outputs):
        raise NotImplementedError

    @property
    def input_channels(self):
        """Channels of the images the method trains on: the encoder's, unless the method feeds the
        encoder part of them (colorization: RGB in, L to the encoder)."""
        return self.encoder.input_shape[-1]

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

    def check_images(self, x):
        """Refuses a batch that does not match the encoder's input, naming the argument."""
        name = type(self).__name__
        shape = tuple(x.shape)
        expected = (*self.encoder.input_shape[:-1], self.input_channels)
        if len(shape) != 4:
            raise ValueError(
                f"{name}: `x` must be a batch of images shaped (batch, height, width, channels) like "
                f"{expected}; got shape {shape}."
            )
        if shape[-1] is not None and expected[-1] is not None and shape[-1] != expected[-1]:
            raise ValueError(
                f"{name}: `x` must have {expected[-1]} channel(s), as {name} expects; got "
                f"{shape[-1]} (shape {shape})."
            )
        if "int" in keras.backend.standardize_dtype(x.dtype):
            raise ValueError(
                f"{name}: `x` must be float images in [0, 1]; got dtype {keras.backend.standardize_dtype(x.dtype)}. "
                "Divide by 255 (kssl.datasets pipelines do)."
            )
        # Inside a train step `x` is this replica's slice of the global batch.
        if shape[0] is not None and shape[0] < self.min_batch_size:
            raise ValueError(
                f"{name}: the batch must hold at least {self.min_batch_size} examples per replica; got "
                f"{shape[0]}. Use a larger `batch_size`, and drop_remainder=True in tf.data."
            )
        return ops.cast(x, self.compute_dtype)

    def call(self, x, training=False):
        x = self.check_images(x)
        if self.min_batch_size > 1 and x.shape[0] is None:
            # The batch size is only known at run time (e.g. the last, partial batch of an epoch).
            tf.debugging.assert_greater_equal(
                tf.shape(x)[0],
                self.min_batch_size,
                message=f"{type(self).__name__}: each replica's batch must hold at least "
                f"{self.min_batch_size} examples; use drop_remainder=True or a larger batch_size.",
            )
        return self.forward(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.uses_labels:
            if y is None:
                raise ValueError(f"{type(self).__name__} learns from labels: the data must yield (images, labels) "
                                 "batches, e.g. split.labelled(batch_size).")
            loss = self.ssl_loss(y_pred, y)
        else:
            loss = self.ssl_loss(y_pred)
        if self.losses:  # weight regularisers
            loss = loss + ops.cast(ops.sum(self.losses), loss.dtype)
        # Keras sums gradients over replicas: pre-divide so N replicas give the global-batch mean.
        return scale_loss_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        logs = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if distribute.is_multi_worker():
            # Keras reduces logs across workers with strategy.reduce("MEAN", v, axis=0), which fails on
            # scalars ("Invalid reduction dimension 0", tensorflow#72388): give it shape (1,) values.
            logs = {name: ops.reshape(value, (1,)) if len(ops.shape(value)) == 0 else value for name, value in logs.items()}
        return logs

    # ---- serialisation ------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "encoder": _serialize(self.encoder),
            "augment": (
                [_serialize(a) for a in self.augment] if isinstance(self.augment, list)
                else _serialize(self.augment)
            ),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = _deserialize(config["encoder"])
        augment = config.get("augment")
        config["augment"] = (
            [_deserialize(a) for a in augment] if isinstance(augment, list) else _deserialize(augment)
        )
        return cls(**config)
