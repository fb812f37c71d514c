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
