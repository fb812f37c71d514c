"""DINO: self-distillation with no labels (Caron, Touvron, Misra, Jegou, Mairal, Bojanowski & Joulin, 2021).

    student g_s = head(f), teacher g_t = momentum copies of f and head; centre C = 0
    for a minibatch x, at step k of K (epoch e = k / steps per epoch):
        multi-crop   2 global views x_1, x_2 and S small (local) views x_3..x_{2+S}
        student      s_v = g_s(x_v) for every view
        teacher      t_i = g_t(x_i) for the 2 global views, no gradient
        loss         mean over v != i of  H(softmax((t_i - C) / tau_t), softmax(s_v / tau_s))
                     tau_t warmed up linearly from its start to its final value over the first epochs
        optimizer step on f and the head (its last layer frozen in the first epoch)
        C <- m C + (1 - m) mean(t_1, t_2 over the global batch)          (centring)
        lambda = 1 - (1 - lambda_base) (cos(pi k / K) + 1) / 2
        theta_t <- lambda theta_t + (1 - lambda) theta_s                  (momentum teacher)
"""

import keras
from keras import ops

from kssl import losses
from kssl.checks import check_non_negative, check_positive, check_positive_int, check_probability
from kssl.core import ImageModel
from kssl.layers.heads import DINOHead
from kssl.layers.momentum import CosineMomentumSchedule, momentum_copy, momentum_pairs, momentum_update
from kssl.ops.pretext import encode_at_any_size, group_by_size


class _SetStepsPerEpoch(keras.callbacks.Callback):
    """Sets DINO's `steps_per_epoch` variable from the `fit` call that is starting (its epoch-based schedules)."""

    def __init__(self, model):
        super().__init__()
        self.scheduled = model

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps")
        if not steps:
            raise ValueError("DINO: the number of steps per epoch is unknown (a dataset of unknown size), so the "
                             "teacher temperature warm-up and the last layer's freeze cannot be timed: pass "
                             "`steps_per_epoch` to DINO or to fit.")
        self.scheduled.epoch_steps.assign(int(steps))


@keras.saving.register_keras_serializable(package="kssl")
class DINO(CosineMomentumSchedule, ImageModel):
    """DINO: a student network matches the centred, sharpened output distribution of a momentum teacher
    across multi-crop views. No negatives, no predictor; centring and sharpening avoid collapse.

    Views: `augment` is a list of view layers, the first two the global crops (the teacher sees those
    only) and the rest small local crops, e.g. `kssl.augment.multi_crop_views(...)`; or one layer applied
    twice; or None (2 identical views, for tests). Views of one size go through the encoder together;
    small crops use the encoder at their size (`kssl.pretext.encode_at_any_size`): a convnet with global
    pooling, or a `kssl.backbones.vit` (its position embedding is resized to the crop's grid).

    Centre: `model.center`, updated after each optimizer step with the mean teacher output of the global
    batch (every replica's, `kssl.losses.dino_center`), so N replicas keep the centre one device keeps.

    Schedules, from the optimizer's step k (so a resumed run continues them): the teacher's momentum
    follows BYOL's cosine from `momentum_base` to 1 (`kssl.layers.momentum.CosineMomentumSchedule`); the
    teacher temperature rises linearly from `warmup_teacher_temperature` to `teacher_temperature` over
    `warmup_teacher_epochs` (per step here; the paper steps it once per epoch); the head's last layer gets
    no gradient for the first `freeze_last_layer_epochs`. Epochs are counted in `steps_per_epoch`, which
    each `fit` call sets (pass it for a dataset of unknown size).

    Args:
        encoder: `keras.Model` from images to `(batch, features)`.
        output_dim: K, the head's outputs (65536 in the paper).
        hidden_dim, bottleneck_dim, head_layers: the head's MLP (2048, 256, 3 in the paper).
        student_temperature: tau_s > 0 (0.1).
        teacher_temperature: tau_t > 0 after the warm-up (0.04 to 0.07).
        warmup_teacher_temperature: tau_t > 0 at step 0 (0.04).
        warmup_teacher_epochs: epochs >= 0 of the warm-up (30 in the paper for 300 epochs).
        center_momentum: m in [0, 1] of the centre (0.9).
        momentum_base: the teacher's momentum at step 0 (0.996; 0.99 for short runs).
        total_steps: K of the momentum schedule; None: each `fit` call sets it.
        freeze_last_layer_epochs: epochs >= 0 with the last layer frozen (1).
        steps_per_epoch: None: each `fit` call sets it.
        augment: see above.

    Returns from `model(x)`: {"student": list of `(batch, K)` per view, "teacher": list of 2 `(batch, K)`}.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((28, 28, 1), widths=(8, 16))
    >>> views = kssl.augment.multi_crop_views(28, 16, num_small=2, channels=1, grayscale_policy="brightness_contrast")
    >>> model = kssl.methods.DINO(encoder, output_dim=32, hidden_dim=16, bottleneck_dim=8, augment=views)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> history = model.fit(np.random.rand(32, 28, 28, 1).astype("float32"), batch_size=16, epochs=1, verbose=0)
    >>> [tuple(s.shape) for s in model(np.zeros((4, 28, 28, 1), "float32"))["student"]]
    [(4, 32), (4, 32), (4, 32), (4, 32)]
    >>> int(model.epoch_steps.numpy()), round(float(model.teacher_temperature_at(1)), 3)   # half-way: 0.055
    (2, 0.055)
    """

    any_view_size = True  # multi-crop: local views of another size than the encoder's input

    def __init__(self, encoder, output_dim=65536, hidden_dim=2048, bottleneck_dim=256, head_layers=3,
                 student_temperature=0.1, teacher_temperature=0.07, warmup_teacher_temperature=0.04,
                 warmup_teacher_epochs=1, center_momentum=0.9, momentum_base=0.996, total_steps=None,
                 freeze_last_layer_epochs=1, steps_per_epoch=None, augment=None, **kwargs):
        super().__init__(encoder, augment=augment, **kwargs)
        if isinstance(self.augment, list) and len(self.augment) < 2:
            raise ValueError(f"`augment` must list at least the 2 global views; got {len(self.augment)} layer(s).")
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.bottleneck_dim = check_positive_int("bottleneck_dim", bottleneck_dim)
        self.head_layers = check_positive_int("head_layers", head_layers)
        self.student_temperature = check_positive("student_temperature", student_temperature)
        self.teacher_temperature = check_positive("teacher_temperature", teacher_temperature)
        self.warmup_teacher_temperature = check_positive("warmup_teacher_temperature", warmup_teacher_temperature)
        self.warmup_teacher_epochs = check_non_negative("warmup_teacher_epochs", warmup_teacher_epochs)
        self.center_momentum = check_probability("center_momentum", center_momentum)
        self.freeze_last_layer_epochs = check_non_negative("freeze_last_layer_epochs", freeze_last_layer_epochs)
        self.steps_per_epoch = None if steps_per_epoch is None else check_positive_int("steps_per_epoch", steps_per_epoch)
        check_probability("momentum_base", momentum_base)

        self.head = DINOHead(hidden_dim, bottleneck_dim, output_dim, num_layers=head_layers, name="head")
        self.head.build((None, self.feature_dim))
        self.teacher_encoder = momentum_copy(encoder)
        self.teacher_head = momentum_copy(self.head, input_shape=(None, self.feature_dim))
        # Assigned in every replica's after_step from the gathered global batch: all replicas hold the same.
        self.center = self.add_weight(shape=(1, output_dim), name="center", initializer="zeros", trainable=False,
                                      aggregation="only_first_replica")
        self.epoch_steps = self.add_weight(shape=(), dtype="int64", trainable=False, name="steps_per_epoch",
                                           initializer=keras.initializers.Constant(steps_per_epoch or 1))
        self.init_momentum_schedule(momentum_base, total_steps)
        self.built = True

    @property
    def num_views(self):
        return len(self.augment) if isinstance(self.augment, list) else 2

    # ---- schedules (k: the optimizer step being taken) -------------------------------------------
    def _step(self):
        optimizer = getattr(self, "optimizer", None)
        return 0 if optimizer is None else optimizer.iterations

    def _epoch(self, step):
        return ops.cast(step, "float32") / ops.cast(self.epoch_steps, "float32")

    def teacher_temperature_at(self, step):
        """tau_t at step k: linear from the warm-up value to `teacher_temperature` over the warm-up epochs."""
        if self.warmup_teacher_epochs == 0:
            return ops.convert_to_tensor(self.teacher_temperature, "float32")
        progress = ops.minimum(self._epoch(step) / self.warmup_teacher_epochs, 1.0)
        return self.warmup_teacher_temperature + (self.teacher_temperature - self.warmup_teacher_temperature) * progress

    def last_layer_frozen_at(self, step):
        return self._epoch(step) < self.freeze_last_layer_epochs

    # ---- the algorithm box -----------------------------------------------------------------------
    def forward(self, x, training=False):
        views = self.views(x, self.num_views)
        frozen = self.last_layer_frozen_at(self._step()) if training and self.freeze_last_layer_epochs else False
        student = []
        for group in group_by_size(views):  # one encoder pass per resolution
            features = encode_at_any_size(self.encoder, ops.concatenate(group, axis=0), training=training)
            student.extend(ops.split(self.head(features, training=training, freeze_last_layer=frozen), len(group)))
        both = ops.concatenate(views[:2], axis=0)  # the teacher sees the 2 global views only
        teacher = self.teacher_head(self.teacher_encoder(both, training=training), training=training)
        return {"student": student, "teacher": ops.split(ops.stop_gradient(teacher), 2)}

    def ssl_loss(self, outputs, y=None):
        return losses.dino(outputs["student"], outputs["teacher"], self.center, self.student_temperature,
                           self.teacher_temperature_at(self._step()))

    def after_step(self, x, y, outputs):
        self.center.assign(losses.dino_center(self.center, outputs["teacher"], self.center_momentum))
        momentum_update(self._momentum_pairs(), self.scheduled_momentum())

    def _momentum_pairs(self):
        return momentum_pairs(self.encoder, self.teacher_encoder) + momentum_pairs(self.head, self.teacher_head)

    def fit(self, *args, callbacks=None, **kwargs):
        if self.steps_per_epoch is None:
            callbacks = [_SetStepsPerEpoch(self), *(callbacks or [])]
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "hidden_dim": self.hidden_dim,
            "bottleneck_dim": self.bottleneck_dim,
            "head_layers": self.head_layers,
            "student_temperature": self.student_temperature,
            "teacher_temperature": self.teacher_temperature,
            "warmup_teacher_temperature": self.warmup_teacher_temperature,
            "warmup_teacher_epochs": self.warmup_teacher_epochs,
            "center_momentum": self.center_momentum,
            "momentum_base": self.momentum_base,
            "total_steps": self.total_steps,
            "freeze_last_layer_epochs": self.freeze_last_layer_epochs,
            "steps_per_epoch": self.steps_per_epoch,
        }

