"""Momentum ("mean teacher") encoders, once for every method that needs one (MoCo; later BYOL-style).

solo-learn's BaseMomentumMethod idea in Keras: a method builds a frozen copy of a network with
`momentum_copy`, lists (online, momentum) pairs, and calls `momentum_update` after each optimizer step
(from its `after_step`):

    theta_k <- m * theta_k + (1 - m) * theta_q

Only the weights that are trainable in the online network are averaged; the copy's batch-norm
statistics follow its own forward passes in training mode, as in MoCo's reference code (buffers are
not averaged).

BYOL (Grill et al., 2020) raises m from its base value to 1 over training: `cosine_momentum`.
"""

import math

import keras

from kssl.checks import check_positive_int, check_probability


def momentum_copy(network, input_shape=None):
    """A copy of a built `network`, with its weights, whose variables get no gradient.

    The copy's variables are marked non-trainable (so no optimizer touches them), but its layers stay
    trainable: a frozen Keras BatchNormalization layer would run in inference mode, whereas MoCo's key
    encoder normalises with batch statistics in training, like the query encoder.

    Args:
        network: a `keras.Model` (`keras.models.clone_model`: a functional or Sequential model's graph is
            rebuilt, another model is rebuilt from its config), or a layer with `get_config`.
        input_shape: the input shape to build a copy that is not built yet (a layer, a subclassed
            model); not needed for a functional model.

    Example:
    >>> import kssl
    >>> online = kssl.heads.ProjectionHead(8, 4)
    >>> online.build((None, 16))
    >>> target = kssl.momentum.momentum_copy(online, input_shape=(None, 16))
    >>> len(target.trainable_weights), len(kssl.momentum.momentum_pairs(online, target))
    (0, 5)
    """
    if isinstance(network, keras.Model):
        copy = keras.models.clone_model(network)
    else:
        copy = network.__class__.from_config(network.get_config())
    if not copy.built:
        if input_shape is None:
            raise ValueError(f"`input_shape` is needed to build the copy of {network.name!r}.")
        copy.build(input_shape)
    copy.set_weights(network.get_weights())
    for variable in copy.weights:
        variable.trainable = False
    return copy


def momentum_pairs(online, target):
    """(online, target) variable pairs for every weight that is trainable in `online`."""
    online_weights = {id(w): i for i, w in enumerate(online.weights)}
    trainable = {id(w) for w in online.trainable_weights}
    target_weights = target.weights
    if len(target_weights) != len(online.weights):
        raise ValueError(f"{online.name!r} and its momentum copy have different weights.")
    return [(w, target_weights[online_weights[id(w)]]) for w in online.weights if id(w) in trainable]


def momentum_update(pairs, momentum):
    """theta_target <- m * theta_target + (1 - m) * theta_online for each pair."""
    for online, target in pairs:
        m = keras.ops.cast(momentum, target.dtype)  # a Python float or a scheduled tensor (BYOL)
        target.assign(m * target + (1.0 - m) * keras.ops.cast(online, target.dtype))


def cosine_momentum(step, total_steps, base=0.996):
    """BYOL's momentum schedule (Grill et al., 2020): tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2,
    from tau_base at step k = 0 to 1 at k = K (and 1 after K).

    A pure function of `step` (a Python number or a tensor such as `optimizer.iterations`, so that a
    resumed run continues the schedule exactly).

    Args:
        step: k, the training step (0-based).
        total_steps: K >= 1, the number of steps of the whole run (an int, or a tensor).
        base: tau_base in [0, 1] (0.996 in BYOL; 0.99 for short runs).

    Example:
    >>> import kssl
    >>> [round(float(kssl.momentum.cosine_momentum(k, 100, base=0.99)), 4) for k in (0, 50, 100, 150)]
    [0.99, 0.995, 1.0, 1.0]
    """
    base = check_probability("base", base)
    if isinstance(step, (int, float)) and isinstance(total_steps, int):
        total_steps = check_positive_int("total_steps", total_steps)
        k = min(max(float(step), 0.0), float(total_steps))
        return 1.0 - (1.0 - base) * (math.cos(math.pi * k / total_steps) + 1.0) / 2.0
    total = keras.ops.cast(total_steps, "float32")  # a tensor K (a variable set when training starts)
    k = keras.ops.clip(keras.ops.cast(step, "float32"), 0.0, total)
    return 1.0 - (1.0 - base) * (keras.ops.cos(math.pi * k / total) + 1.0) / 2.0


class _SetTotalSteps(keras.callbacks.Callback):
    """Sets a model's schedule K (`schedule_steps`) to the epochs x steps of the `fit` call that is starting."""

    def __init__(self, model):
        super().__init__()
        self.scheduled = model

    def on_train_begin(self, logs=None):
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        if not steps:
            raise ValueError(f"{type(self.scheduled).__name__}: the number of steps per epoch is unknown (a "
                             "dataset of unknown size), so the momentum schedule cannot know K: pass "
                             "`total_steps` or `steps_per_epoch`.")
        self.scheduled.schedule_steps.assign(int(epochs) * int(steps))


class CosineMomentumSchedule:
    """Mixin for a `SelfSupervisedModel` whose momentum copy follows BYOL's cosine schedule
    (`cosine_momentum`) from a base value to 1 over K = `total_steps` steps (BYOL, MoCo v3, DINO).

    The method calls `self.init_momentum_schedule(base, total_steps)` in its `__init__` and
    `self.scheduled_momentum()` in its `after_step`. K lives in a non-trainable variable, `schedule_steps`;
    with `total_steps=None` each `fit` call sets it to its epochs x steps per epoch. The step k is the
    optimizer's `iterations` (the step just taken, counted from 0), which checkpoints and
    `BackupAndRestore` carry, so a resumed run continues the schedule exactly.

    Written here rather than as a `keras.optimizers.schedules.LearningRateSchedule`: that class schedules
    a learning rate inside the optimizer; this value drives a weight update outside it.

    Example:
    >>> import numpy as np, keras, kssl
    >>> encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8))
    >>> model = kssl.methods.BYOL(encoder, projection_dim=8, hidden_dim=16, tau_base=0.99)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1))
    >>> _ = model.fit(np.random.rand(32, 12, 12, 1).astype("float32"), batch_size=8, epochs=2, verbose=0)
    >>> int(model.schedule_steps.numpy()), round(float(model.scheduled_momentum()), 4)  # K = 2 x 4; at k = 7
    (8, 0.9996)
    """

    def init_momentum_schedule(self, base, total_steps):
        self.momentum_base = check_probability("momentum base", base)
        self.total_steps = None if total_steps is None else check_positive_int("total_steps", total_steps)
        self.schedule_steps = self.add_weight(shape=(), dtype="int64", trainable=False, name="schedule_steps",
                                              initializer=keras.initializers.Constant(total_steps or 1))

    def scheduled_momentum(self):
        """The momentum for the step just taken (k = optimizer.iterations - 1, after the optimizer step)."""
        return cosine_momentum(self.optimizer.iterations - 1, self.schedule_steps, self.momentum_base)

    def momentum_is_scheduled(self):
        """False where the method keeps its momentum constant (then `fit` needs no K)."""
        return True

    def fit(self, *args, callbacks=None, **kwargs):
        if self.total_steps is None and self.momentum_is_scheduled():
            callbacks = [_SetTotalSteps(self), *(callbacks or [])]
        return super().fit(*args, callbacks=callbacks, **kwargs)
