"""Sequence encoders for CPC: the raw-waveform encoder g_enc and the causal context network g_ar
(van den Oord, Li & Vinyals, 2018).

`audio_encoder` maps a waveform `(batch, samples, 1)` to `(batch, steps, width)` with strided 1-D
convolutions (overall stride 160 = 10 ms at 16 kHz, as in the paper). `context_network` is g_ar: a
causal model over steps (audio) or down the rows of a patch grid (images), whose output at step t
depends on steps <= t only.
"""

import keras
from keras import layers

from kssl.checks import check_choice, check_positive_int

CONTEXTS = ("gru", "causal_conv")


def audio_encoder(width=512, strides=(5, 4, 2, 2, 2), kernel_sizes=(10, 8, 4, 4, 4), samples=None, name="cpc_audio"):
    """The CPC audio encoder g_enc: per layer a strided Conv1D ("same" padding), a per-frame
    LayerNormalization (channel norm; it mixes no time steps) and ReLU.

    A waveform of L samples gives ceil(L / prod(strides)) steps (exactly L / 160 for the default
    strides when L is a multiple of 160): step t summarises samples [160 t, 160 (t + 1)), with
    receptive-field overlap into its neighbours.

    Example:
    >>> import kssl
    >>> kssl.backbones.audio_encoder(width=32, samples=16000).output_shape
    (None, 100, 32)
    """
    check_positive_int("width", width)
    strides, kernel_sizes = tuple(strides), tuple(kernel_sizes)
    if not strides or len(strides) != len(kernel_sizes):
        raise ValueError(f"`strides` and `kernel_sizes` must be non-empty and of equal length; got {strides!r} and {kernel_sizes!r}.")
    for i, (s, k) in enumerate(zip(strides, kernel_sizes)):
        check_positive_int(f"strides[{i}]", s)
        check_positive_int(f"kernel_sizes[{i}]", k)
    inputs = keras.Input((samples, 1), name="waveform")
    x = inputs
    for i, (s, k) in enumerate(zip(strides, kernel_sizes)):
        x = layers.Conv1D(width, k, strides=s, padding="same", name=f"conv{i + 1}")(x)
        x = layers.LayerNormalization(name=f"norm{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
    return keras.Model(inputs, x, name=name)


def context_network(kind, input_shape, units=256, num_layers=1, kernel_size=3, name="context"):
    """g_ar: a causal model of `input_shape` = `(steps, d)` (audio) or `(rows, cols, d)` (a patch grid),
    whose output at step t (row r) depends on steps <= t (rows <= r) only.

    - "gru": GRU layers over time; for a grid one GRU per column, running down the rows.
    - "causal_conv": convolutions padded on the past side only (Conv1D padding="causal"; for a grid
      Conv2D with `kernel_size - 1` rows of zero padding above, centred across columns), ReLU between.

    Example:
    >>> import kssl
    >>> kssl.backbones.context_network("gru", (None, 32), units=16).output_shape
    (None, None, 16)
    """
    check_choice("context", kind, CONTEXTS)
    check_positive_int("context_dim", units)
    check_positive_int("context_layers", num_layers)
    check_positive_int("context_kernel", kernel_size)
    if len(input_shape) not in (2, 3):
        raise ValueError(f"`input_shape` must be (steps, features) or (rows, cols, features); got {input_shape!r}.")
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    if len(input_shape) == 2:
        for i in range(num_layers):
            if kind == "gru":
                x = layers.GRU(units, return_sequences=True, name=f"gru{i + 1}")(x)
            else:
                x = layers.Conv1D(units, kernel_size, padding="causal", activation="relu", name=f"conv{i + 1}")(x)
    elif kind == "gru":
        x = layers.Permute((2, 1, 3))(x)  # (cols, rows, d): one sequence per column
        for i in range(num_layers):
            x = layers.TimeDistributed(layers.GRU(units, return_sequences=True), name=f"gru{i + 1}")(x)
        x = layers.Permute((2, 1, 3))(x)
    else:
        for i in range(num_layers):
            x = layers.ZeroPadding2D(((kernel_size - 1, 0), (kernel_size // 2, (kernel_size - 1) // 2)))(x)
            x = layers.Conv2D(units, kernel_size, activation="relu", name=f"conv{i + 1}")(x)
    return keras.Model(inputs, x, name=name)


__all__ = ["CONTEXTS", "audio_encoder", "context_network"]
