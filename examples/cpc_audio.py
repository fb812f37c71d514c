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
other step of the batch as a negative (`--negatives batch`, the paper's) or the other steps of the same clip only
(`--negatives sequence`, Riviere et al., 2020), trained on `--window`-sample random crops of the training clips.

Probes (logistic regression on standardised frozen features, `kssl.eval.linear_probe_features`):
- phone: one example per 10 ms frame (`--probe_frames` training frames drawn from the training clips,
  every frame of the held-out clips);
- speaker: one example per clip, its features averaged over the clip's frames.
Feature sets: CPC context c_t and latent z_t; the random-init network's c_t and z_t; MFCCs (13 +
deltas + delta-deltas, 25 ms windows at the same 10 ms frames, `kssl.audio.mfcc`).

The model, training crops and recipe are the registry's (`kssl.methods.registry.get("cpc_audio")`); the
probes are `kssl.eval.audio`'s. Prints one table, writes OUT/results.json and the preset in OUT/
(`kssl eval linear OUT` re-runs the speaker and phone probes on it; assets/frames.json: its frame settings).
"""

from absl import app, flags

import common

FLAGS = flags.FLAGS
SPEC = common.define_flags("cpc_audio", image_flags=False)  # --window 16000 --crops_per_clip 4 --width 128 --context_dim 128 ...
flags.DEFINE_enum("data", "espeak", ["espeak", "fillets", "tones"], "Speech source (tones: synthetic, for smoke tests).")


def main(argv):
    del argv
    import time

    from kssl.eval import audio as speech
    from kssl.eval import results
    from kssl.methods import registry

    options = common.options(SPEC)
    data = registry.load_data(SPEC, FLAGS.data, options, seed=FLAGS.seed)
    clips, train, test = data.clips, data.train, data.test
    print(f"{FLAGS.data}: {len(clips.speaker_names)} speakers; train {len(train)} clips ({train.seconds() / 60:.1f} min), "
          f"test {len(test)} clips ({test.seconds() / 60:.1f} min)"
          + (f"; {len(clips.phones)} phone classes" if clips.phones else ""))
    run = registry.train(SPEC, data, options, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                         learning_rate=FLAGS.learning_rate, seed=FLAGS.seed, out=FLAGS.out)

    networks = {"cpc": run.model}
    if FLAGS.random_init:
        networks["random_init"] = run.baseline()
    rows = {}
    start = time.time()
    for name, network in networks.items():
        for key, row in speech.probe_network(network, train, test, name=name, probe_frames=FLAGS.probe_frames,
                                             seed=FLAGS.seed).items():
            rows[key] = row
            print(f"{key}: {row}")
    rows["mfcc"] = speech.mfcc_row(train, test, probe_frames=FLAGS.probe_frames, seed=FLAGS.seed)
    print(f"mfcc: {rows['mfcc']}")
    probe_seconds = time.time() - start
    chance = speech.chance(test)
    chance_loss = speech.chance_loss(FLAGS.batch_size, FLAGS.window, FLAGS.prediction_steps, FLAGS.negatives)
    final_loss = float(run.history.history["loss"][-1])
    settings = {"data": FLAGS.data, "epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size,
                "learning_rate": FLAGS.learning_rate, "window": FLAGS.window, "crops_per_clip": FLAGS.crops_per_clip,
                "width": FLAGS.width, "context_dim": FLAGS.context_dim, "prediction_steps": FLAGS.prediction_steps,
                "negatives": FLAGS.negatives,
                "seed": FLAGS.seed, "train_clips": len(train), "test_clips": len(test),
                "speakers": len(clips.speaker_names), "phones": len(clips.phones or ()),
                "train_seconds": round(run.seconds, 1), "probe_seconds": round(probe_seconds, 1),
                "final_loss": final_loss, "chance_loss": chance_loss,
                "losses": [float(v) for v in run.history.history["loss"]], "command": common.command()}
    columns = ["speaker"] + (["phone"] if clips.phones else [])
    results.write(FLAGS.out, rows, settings, extra={"chance": chance}, columns=columns,
                  title=f"{FLAGS.data}: linear probes on held-out clips ({FLAGS.epochs} epochs of CPC, "
                        f"{run.seconds:.0f} s, final loss {final_loss:.3f}, chance {chance_loss:.3f}; "
                        f"probes {probe_seconds:.0f} s)")
    print(f"chance (majority class): {chance}")
    run.save(FLAGS.out, metadata={"metrics": rows.get("cpc_context", {}), "command": common.command()})


if __name__ == "__main__":
    app.run(main)
