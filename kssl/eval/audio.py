"""Speech probes of a CPC-on-audio network (van den Oord et al., 2018, section 3.1): linear probes of
speaker identity (one example per clip, its frame features averaged) and of frame-level phones (one
example per 10 ms frame), on held-out clips, for the context c_t and the latent z_t; MFCCs as the
classical baseline.

    from kssl.eval import audio as speech
    rows = speech.probe_network(model, train_clips, test_clips)    # {"cpc_context": {...}, "cpc_latent": {...}}
"""

import numpy as np


def traced(extractor):
    """A waveform -> sequence Keras model as one `tf.function` traced once for any batch and length:
    called eagerly, a GRU steps through time in Python (~8x slower)."""
    import tensorflow as tf

    return tf.function(lambda x: extractor(x, training=False), input_signature=[tf.TensorSpec((None, None, 1), tf.float32)])


def frame_features(extractor, clips, batch_size=16):
    """Per-clip `(frames, d)` features of a waveform -> sequence `extractor` (a callable on a float32
    tensor, e.g. `traced(model)`), the clips of a batch zero-padded to the batch's longest (the context is
    causal and the encoder's padding is zeros anyway) and cut back to each clip's frames."""
    import tensorflow as tf

    from kssl.data import audio

    out = []
    for start in range(0, len(clips), batch_size):
        waves = clips.waveforms[start: start + batch_size]
        longest = max(audio.num_frames(len(w)) for w in waves) * audio.HOP
        batch = np.zeros((len(waves), longest, 1), np.float32)
        for i, w in enumerate(waves):
            batch[i, : len(w), 0] = w
        features = np.asarray(extractor(tf.constant(batch)))
        out += [features[i, : audio.num_frames(len(w))].copy() for i, w in enumerate(waves)]
    return out


def probes(train_features, test_features, train, test, probe_frames=30000, seed=0):
    """{"speaker": accuracy, "phone": accuracy (when the clips have phone labels)} of logistic-regression
    probes on per-clip frame features; `probe_frames` training frames drawn (seeded) for the phone probe
    (0: all)."""
    from kssl.eval.linear import linear_probe_features

    row = {}
    pooled = lambda fs: np.stack([f.mean(axis=0) for f in fs])  # noqa: E731
    row["speaker"] = linear_probe_features(pooled(train_features), train.speakers, pooled(test_features),
                                           test.speakers)["accuracy"]
    if train.frame_labels is not None:
        x, y = np.concatenate(train_features), np.concatenate(train.frame_labels)
        if probe_frames and len(x) > probe_frames:
            keep = np.random.default_rng(seed).permutation(len(x))[:probe_frames]
            x, y = x[keep], y[keep]
        row["phone"] = linear_probe_features(x, y, np.concatenate(test_features),
                                             np.concatenate(test.frame_labels))["accuracy"]
    return row


def read_ahead(features, frames):
    """Per-clip `(T, d)` features read `frames` frames later: frame t gets row min(t + frames, T - 1).

    A causal context c_t has heard nothing of what follows frame t, so it lags a phone's onset; MFCCs with
    deltas and delta-deltas look 4 frames (40 ms) ahead. `read_ahead(c, 4)` gives c_t the same look ahead.

    >>> read_ahead([np.arange(5)[:, None]], 2)[0][:, 0].tolist()
    [2, 3, 4, 4, 4]
    """
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 0:
        raise ValueError(f"`frames` must be an integer >= 0; got {frames!r}.")
    return [f[np.minimum(np.arange(len(f)) + frames, len(f) - 1)] for f in features]


def probe_network(network, train, test, name="cpc", probe_frames=30000, seed=0, lookahead=0):
    """{f"{name}_context", f"{name}_latent"} rows of `probes` for a CPC audio network (its
    `context_encoder()` and `encoder`); with `lookahead` > 0 also f"{name}_context_ahead{lookahead}", the
    context read `lookahead` frames later (`read_ahead`)."""
    rows = {}
    for kind, extractor in (("context", network.context_encoder()), ("latent", network.encoder)):
        fn = traced(extractor)
        train_features, test_features = frame_features(fn, train), frame_features(fn, test)
        rows[f"{name}_{kind}"] = probes(train_features, test_features, train, test, probe_frames=probe_frames,
                                        seed=seed)
        if kind == "context" and lookahead:
            rows[f"{name}_context_ahead{lookahead}"] = probes(
                read_ahead(train_features, lookahead), read_ahead(test_features, lookahead), train, test,
                probe_frames=probe_frames, seed=seed)
    return rows


def mfcc_row(train, test, probe_frames=30000, seed=0):
    """The MFCC baseline (13 + deltas + delta-deltas, 25 ms windows at the same 10 ms frames)."""
    from kssl.data import audio

    to_mfcc = lambda c: [audio.mfcc(w) for w in c.waveforms]  # noqa: E731
    return probes(to_mfcc(train), to_mfcc(test), train, test, probe_frames=probe_frames, seed=seed)


def chance(test):
    """The most frequent class of the held-out examples (speakers are balanced; silence dominates phones)."""
    majority = lambda labels: float(np.bincount(labels).max() / len(labels))  # noqa: E731
    row = {"speaker": majority(test.speakers)}
    if test.frame_labels is not None:
        row["phone"] = majority(np.concatenate(test.frame_labels))
    return row


def chance_loss(batch_size, window, prediction_steps, negatives="batch"):
    """The InfoNCE loss of a model that knows nothing: ln(number of candidates), averaged over k; the
    candidates of a prediction are the batch's targets of its k ("batch" negatives) or its own sequence's
    ("sequence").

    >>> round(chance_loss(16, 8000, 12), 2), round(chance_loss(16, 8000, 12, negatives="sequence"), 2)
    (6.54, 3.77)
    """
    from kssl.checks import check_choice
    from kssl.data import audio
    from kssl.losses import CPC_NEGATIVES

    steps = audio.num_frames(window)
    sequences = batch_size if check_choice("negatives", negatives, CPC_NEGATIVES) == "batch" else 1
    return float(np.mean([np.log(sequences * (steps - k)) for k in range(1, prediction_steps + 1)]))


__all__ = ["chance", "chance_loss", "frame_features", "mfcc_row", "probe_network", "probes", "read_ahead", "traced"]
