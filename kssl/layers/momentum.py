"""Momentum ("mean teacher") encoders, once for every method that needs one (MoCo; later BYOL-style).

solo-learn's BaseMomentumMethod idea in Keras: a method builds a frozen copy of a network with
`momentum_copy`, lists (online, momentum) pairs, and calls `momentum_update` after each optimizer step:

    theta_k <- m * theta_k + (1 - m) * theta_q

Only the weights that are trainable in the online network are averaged; the copy's batch-norm
statistics follow its own forward passes in training mode, as in MoCo's reference code (buffers are
not averaged).
"""

import keras
from keras.src.models.functional import Functional


def check_momentum(momentum):
    if not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"`momentum` must be a number in [0, 1); got {momentum!r}.")


def momentum_copy(network, input_shape=None):
    """A copy of a built `network`, with its weights, whose variables get no gradient.

    The copy's variables are marked non-trainable (so no optimizer touches them), but its layers stay
    trainable: a frozen Keras BatchNormalization layer would run in inference mode, whereas MoCo's key
    encoder normalises with batch statistics in training, like the query encoder.

    Args:
        network: a functional `keras.Model` (cloned), or a layer with `get_config` (rebuilt from its
            config, then built with `input_shape`).
        input_shape: the layer's input shape; not needed for a functional model.
    """
    if isinstance(network, Functional):
        copy = keras.models.clone_model(network)
    else:
        if input_shape is None:
            raise ValueError(f"`input_shape` is needed to copy the layer {network.name!r}.")
        copy = network.__class__.from_config(network.get_config())
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
        target.assign(momentum * target + (1.0 - momentum) * keras.ops.cast(online, target.dtype))
