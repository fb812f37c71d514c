"""Momentum ("mean teacher") encoders, once for every method that needs one (MoCo; later BYOL-style).

solo-learn's BaseMomentumMethod idea in Keras: a method builds a frozen copy of a network with
`momentum_copy`, lists (online, momentum) pairs, and calls `momentum_update` after each optimizer step
(from its `after_step`):

    theta_k <- m * theta_k + (1 - m) * theta_q

Only the weights that are trainable in the online network are averaged; the copy's batch-norm
statistics follow its own forward passes in training mode, as in MoCo's reference code (buffers are
not averaged).
"""

import keras


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
        target.assign(momentum * target + (1.0 - momentum) * keras.ops.cast(online, target.dtype))
