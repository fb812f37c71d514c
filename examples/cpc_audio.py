"""Contrastive Predictive Coding on raw 16 kHz speech: pretrain with model.fit, then linear probes of
speaker identity and frame-level phones on held-out clips, for CPC features, MFCCs (the paper's
baseline) and the same network at its random initialisation.

    python examples/cpc_audio.py --out out/cpc_audio                          # espeak-ng speech, phones + speakers
    python examples/cpc_audio.py --data fillets --out out/cpc_audio_fillets  # real Czech/Dutch speech, speakers

Data (`kssl.audio`; `make data-audio` installs it): "espeak" is 8 espeak-ng speakers x 48 Harvard
sentences (13 min), phone labels from espeak's own phoneme timing; "fillets" is the acted speech of
Fillets-NG, 4 speakers (Czech and Dutch small and big fish), `--max_per_speaker` clips each. The
held-out clips are whole sentences (lines) that no training clip says (`Clips.split`), spoken by the
same speakers. "tones" is the same corpus said by `kssl.audio.ToneEngine` (letters as tones; no
espeak-ng needed), for smoke tests.

Model: the paper's encoder (5 strided 1-D convolutions, overall stride 160 = 10 ms, `--width`
channels), a GRU context (`--context_dim`), K = `--prediction_steps` steps ahead, InfoNCE with every
other step of the batch as a negative, trained on `--window`-sample random crops of the training clips.

Probes (logistic regression on standardised frozen features, `kssl.eval.linear_probe_features`):
- phone: one example per 10 ms frame (`--probe_frames` training frames drawn from the training clips,
  every frame of the held-out clips);
- speaker: one example per clip, its features averaged over the clip's frames.
Feature sets: CPC context c_t and latent z_t; the random-init network's c_t and z_t; MFCCs (13 +
deltas + delta-deltas, 25 ms windows at the same 10 ms frames, `kssl.audio.mfcc`).

Prints one table and writes OUT/results.json.
"""

import json
import os
import sys
import time

from absl import app, flags

flags.DEFINE_enum("data", "espeak", ["espeak", "fillets", "tones"], "Speech source (tones: synthetic, for smoke tests).")
flags.DEFINE_integer("speakers", 0, "espeak/tones: use the first N of kssl.audio.SPEAKERS (0: all 8).")
flags.DEFINE_integer("sentences", 0, "espeak/tones: use the first N of kssl.audio.SENTENCES (0: all 48).")
flags.DEFINE_integer("max_per_speaker", 150, "fillets: clips per speaker.")
flags.DEFINE_float("test_fraction", 0.25, "Fraction of sentences (lines) held out.")
flags.DEFINE_integer("epochs", 10, "Pretraining epochs.")
flags.DEFINE_integer("batch_size", 16, "Windows per step (global batch).")
flags.DEFINE_float("learning_rate", 3e-4, "Peak AdamW learning rate, cosine decay to 0 (width 128: 3e-4; width 64: 1e-3; "
                   "1e-3 at width 128 and 4e-3 at width 64 stay near chance).")
flags.DEFINE_integer("window", 16000, "Training crop length in samples (16000 = 1 s = 100 steps).")
flags.DEFINE_integer("crops_per_clip", 4, "Random training crops per clip (drawn once).")
flags.DEFINE_integer("width", 128, "Channels of the convolutional encoder (the paper: 512).")
flags.DEFINE_integer("context_dim", 128, "GRU width (the paper: 256).")
flags.DEFINE_integer("prediction_steps", 12, "K: steps of 10 ms predicted ahead.")
flags.DEFINE_integer("probe_frames", 30000, "Training frames for the phone probe (0: all).")
flags.DEFINE_bool("random_init", True, "Also probe the network at its random initialisation.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("out", "out/cpc_audio", "Output directory (results.json, backup/).")
FLAGS = flags.FLAGS


def traced(extractor):
    """A waveform -> sequence Keras model as one `tf.function` traced once for any batch and length:
    called eagerly, the GRU steps through time in Python (~8x slower here)."""
    import tensorflow as tf

    return tf.function(lambda x: extractor(x, training=False), input_signature=[tf.TensorSpec((None, None, 1), tf.float32)])


def frame_features(extractor, clips, batch_size=16):
    """Per-clip `(frames, d)` features of a waveform -> sequence `extractor` (a callable on a float32
    tensor, e.g. `traced(model)`), the clips of a batch zero-padded to the batch's longest (the context is
    causal and the encoder's padding is zeros anyway) and cut back."""
    import numpy as np
    import tensorflow as tf

    from kssl import audio

    out = []
    for start in range(0, len(clips), batch_size):
        waves = clips.waveforms[start : start + batch_size]
        longest = max(audio.num_frames(len(w)) for w in waves) * audio.HOP
        batch = np.zeros((len(waves), longest, 1), np.float32)
        for i, w in enumerate(waves):
            batch[i, : len(w), 0] = w
        features = np.asarray(extractor(tf.constant(batch)))
        out += [features[i, : audio.num_frames(len(w))].copy() for i, w in enumerate(waves)]
    return out


def probes(train_features, test_features, train, test, seed):
    """{"speaker": accuracy, "phone": accuracy (if labelled)} from per-clip frame features."""
    import numpy as np

    import kssl

    row = {}
    pooled = lambda fs: np.stack([f.mean(axis=0) for f in fs])
    row["speaker"] = kssl.eval.linear_probe_features(pooled(train_features), train.speakers, pooled(test_features),
                                                     test.speakers)["accuracy"]
    if train.frame_labels is not None:
        x, y = np.concatenate(train_features), np.concatenate(train.frame_labels)
        if FLAGS.probe_frames and len(x) > FLAGS.probe_frames:
            keep = np.random.default_rng(seed).permutation(len(x))[: FLAGS.probe_frames]
            x, y = x[keep], y[keep]
        row["phone"] = kssl.eval.linear_probe_features(x, y, np.concatenate(test_features),
                                                       np.concatenate(test.frame_labels))["accuracy"]
    return row


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import kssl
    from kssl import audio

    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.data == "fillets":
        clips = audio.fillets_clips(max_per_speaker=FLAGS.max_per_speaker, seed=FLAGS.seed)
    else:
        clips = audio.espeak_clips(audio.SPEAKERS[: FLAGS.speakers or None], audio.SENTENCES[: FLAGS.sentences or None],
                                   seed=FLAGS.seed, engine=audio.ToneEngine() if FLAGS.data == "tones" else None)
    train, test = clips.split(FLAGS.test_fraction, seed=FLAGS.seed)
    seconds = lambda c: sum(len(w) for w in c.waveforms) / audio.SAMPLE_RATE
    print(f"{FLAGS.data}: {len(clips.speaker_names)} speakers; train {len(train)} clips ({seconds(train) / 60:.1f} min), "
          f"test {len(test)} clips ({seconds(test) / 60:.1f} min)"
          + (f"; {len(clips.phones)} phone classes" if clips.phones else ""))

    def build():
        return kssl.methods.CPCAudio(kssl.backbones.audio_encoder(width=FLAGS.width),
                                     prediction_steps=FLAGS.prediction_steps, context_dim=FLAGS.context_dim)

    model = build()
    initial = model.get_weights()
    crops = train.crops(FLAGS.window, FLAGS.crops_per_clip, seed=FLAGS.seed)[..., None]
    data = (tf.data.Dataset.from_tensor_slices(crops).shuffle(len(crops), seed=FLAGS.seed)
            .batch(FLAGS.batch_size, drop_remainder=True).prefetch(2))
    history, train_seconds = kssl.training.pretrain(model, data, FLAGS.epochs, learning_rate=FLAGS.learning_rate,
                                                    out=FLAGS.out)

    networks = {"cpc": model}
    if FLAGS.random_init:
        networks["random_init"] = build()
        networks["random_init"].set_weights(initial)
    rows = {}
    start = time.time()
    for name, network in networks.items():
        extractors = {"context": traced(network.context_encoder()), "latent": traced(network.encoder)}
        for kind, extractor in extractors.items():
            rows[f"{name}_{kind}"] = probes(frame_features(extractor, train), frame_features(extractor, test),
                                            train, test, FLAGS.seed)
            print(f"{name}_{kind}: {rows[f'{name}_{kind}']}")
    to_mfcc = lambda c: [audio.mfcc(w) for w in c.waveforms]
    rows["mfcc"] = probes(to_mfcc(train), to_mfcc(test), train, test, FLAGS.seed)
    print(f"mfcc: {rows['mfcc']}")
    probe_seconds = time.time() - start
    columns = ["speaker"] + (["phone"] if clips.phones else [])
    # Chance: the most frequent class of the held-out examples (speakers are balanced; silence dominates phones).
    majority = lambda labels: float(np.bincount(labels).max() / len(labels))
    chance = {"speaker": majority(test.speakers)}
    if clips.phones:
        chance["phone"] = majority(np.concatenate(test.frame_labels))
    # The InfoNCE loss of a model that knows nothing: ln(number of candidates), averaged over k.
    steps = audio.num_frames(FLAGS.window)
    chance_loss = float(np.mean([np.log(FLAGS.batch_size * (steps - k)) for k in range(1, FLAGS.prediction_steps + 1)]))
    final_loss = float(history.history["loss"][-1])
    print(f"\n{FLAGS.data}: linear probes on held-out clips ({FLAGS.epochs} epochs of CPC, {train_seconds:.0f} s, "
          f"final loss {final_loss:.3f}, chance {chance_loss:.3f}; probes {probe_seconds:.0f} s)")
    print(kssl.eval.markdown_table({**rows, "chance (majority class)": chance}, columns))
    run = {"data": FLAGS.data, "epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size,
           "learning_rate": FLAGS.learning_rate, "window": FLAGS.window, "crops_per_clip": FLAGS.crops_per_clip,
           "width": FLAGS.width, "context_dim": FLAGS.context_dim, "prediction_steps": FLAGS.prediction_steps,
           "seed": FLAGS.seed, "train_clips": len(train), "test_clips": len(test),
           "speakers": len(clips.speaker_names), "phones": len(clips.phones or ()),
           "train_seconds": round(train_seconds, 1), "probe_seconds": round(probe_seconds, 1),
           "final_loss": final_loss, "chance_loss": chance_loss, "losses": [float(v) for v in history.history["loss"]],
           "command": "python " + " ".join(sys.argv)}
    os.makedirs(FLAGS.out, exist_ok=True)
    kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"),
                                 json.dumps({**rows, "chance": chance, "run": run}, indent=2))


if __name__ == "__main__":
    app.run(main)
