"""CPC on hours of espeak-ng speech: how the held-out phone probe grows with the hours of training audio, for
CPC against MFCCs and the same network at its random initialisation.

    make data-audio data-text
    python tools/bench/cpc_hours.py --hours 0.25,0.5,1,2 --steps 1000 --sentences 3200 --out out/bench/cpc_hours

Speech (`kssl.audio`): --sentences sentences of the offline English corpus (`corpus_sentences`, 5-20 words),
each said by --speakers_per_sentence of --speakers espeak-ng speakers (`espeak_speakers`: 8 accents x voice
variants), at a random pace; phone labels from espeak's own phoneme timing. Held out: --test_fraction of
the sentences (`Clips.split`), said by the same speakers; nothing a training clip says.

Each point of the curve trains a fresh CPC (the registry's `cpc_audio` at --width, seed --seed) for the same
--steps steps of --batch_size crops of --window samples, drawn from the first H hours of a seeded shuffle of
the training clips (one epoch of `steps` batches: the crops per clip are set so), so only the amount of
audio differs between points. Every network, and the MFCCs, is probed the same way: logistic regression on
--probe_frames frames drawn from a fixed --probe_clips training clips, tested on every frame of the held-out
clips (`kssl.eval.audio.probes`). A causal context c_t lags a phone's onset while MFCC deltas look 40 ms
ahead, so --lookahead N also probes the context read N frames later (`kssl.eval.audio.read_ahead`; column
phone_context_ahead). Prints a Markdown table; writes OUT/results.json atomically after each
point, with the 1-minute load average sampled during each training.
"""

import json
import math
import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import LoadSampler  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("hours", ["0.25", "0.5", "1", "2"], "Hours of training audio at each point of the curve.")
flags.DEFINE_integer("steps", 1000, "Training steps at every point.")
flags.DEFINE_integer("speakers", 24, "espeak-ng speakers (kssl.audio.espeak_speakers).")
flags.DEFINE_integer("sentences", 2400, "Corpus sentences to say.")
flags.DEFINE_integer("speakers_per_sentence", 1, "Speakers saying each sentence (drawn per sentence).")
flags.DEFINE_float("test_fraction", 0.1, "Fraction of the sentences held out.")
flags.DEFINE_integer("probe_clips", 300, "Training clips whose frames train the phone probe.")
flags.DEFINE_integer("probe_frames", 20000, "Frames drawn from those clips for the phone probe.")
flags.DEFINE_integer("width", 64, "Encoder channels.")
flags.DEFINE_integer("context_dim", 64, "GRU context size.")
flags.DEFINE_integer("batch_size", 16, "Crops per step.")
flags.DEFINE_integer("window", 8000, "Samples per training crop (0.5 s).")
flags.DEFINE_float("learning_rate", 5e-4, "Peak AdamW learning rate (cosine decay); at 1e-3 the 0.5 h point stayed at chance loss.")
flags.DEFINE_enum("negatives", "sequence", ["batch", "sequence"], "CPC's negatives: every other step of the batch "
                  "(the paper's) or the other steps of the same clip (Riviere et al., 2020; 7-9 points more on phones).")
flags.DEFINE_integer("lookahead", 0, "Also probe the context read this many frames later (kssl.eval.audio.read_ahead; "
                     "4 = the 40 ms MFCC deltas look ahead: 11 points worse than c_t at 12 000 steps); 0: not.")
flags.DEFINE_integer("seed", 0, "Random seed (speech, splits, crops, initialisation).")
flags.DEFINE_enum("corpus", "corpus", ["corpus", "harvard"], "Where the sentences come from: the offline English "
                  "corpus (make data-text), or kssl.audio.SENTENCES numbered (for smoke tests).")
flags.DEFINE_enum("engine", "espeak", ["espeak", "tones"], "Who speaks (tones: kssl.audio.ToneEngine, smoke tests).")
flags.DEFINE_string("out", "out/bench/cpc_hours", "Output directory.")


def speech():
    """(clips, train, test): the sentences said by the speakers, split by sentence."""
    from kssl.data import audio

    rng = np.random.default_rng(FLAGS.seed)
    if FLAGS.corpus == "corpus":
        import kssl

        sentences = audio.corpus_sentences(kssl.datasets.text_corpus().sentences(), FLAGS.sentences, seed=FLAGS.seed)
    else:
        sentences = tuple(audio.SENTENCES[i % len(audio.SENTENCES)] + f" {i}" for i in range(FLAGS.sentences))
    speakers = audio.espeak_speakers(FLAGS.speakers)
    pairs = [(int(s), g) for g in range(len(sentences))
             for s in rng.choice(len(speakers), FLAGS.speakers_per_sentence, replace=False)]
    clips = audio.espeak_clips(speakers, sentences, seed=FLAGS.seed, pairs=pairs,
                               engine=audio.ToneEngine() if FLAGS.engine == "tones" else None)
    train, test = clips.split(FLAGS.test_fraction, seed=FLAGS.seed)
    return clips, train, test


def hours_of(clips):
    return clips.seconds() / 3600


def first_hours(train, order, hours):
    """The clips of `order` (a shuffle of `train`) up to `hours` of audio."""
    from kssl.data import audio

    seconds = np.cumsum([len(train.waveforms[i]) for i in order]) / audio.SAMPLE_RATE
    count = int(np.searchsorted(seconds, hours * 3600)) + 1
    if count > len(order):
        raise ValueError(f"`hours` {hours} exceeds the {seconds[-1] / 3600:.2f} h of training speech; raise --sentences.")
    return train.subset(order[:count])


def options(crops_per_clip):
    from kssl.methods import registry

    spec = registry.get("cpc_audio")
    return spec, {**spec.recipe.options, "width": FLAGS.width, "context_dim": FLAGS.context_dim,
                  "window": FLAGS.window, "crops_per_clip": crops_per_clip,
                  "negatives": FLAGS.negatives}


def train_point(clips, train, test, hours, order):
    """A fresh CPC trained for --steps steps on the first `hours` of training speech: (network, record)."""
    from kssl.methods import registry

    subset = first_hours(train, order, hours)
    crops_per_clip = math.ceil(FLAGS.steps * FLAGS.batch_size / len(subset))
    spec, o = options(crops_per_clip)
    data = registry.SpeechData(FLAGS.engine, clips, subset, test)
    with LoadSampler() as load:
        run = registry.train(spec, data, o, epochs=1, batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
                             seed=FLAGS.seed, steps_per_epoch=FLAGS.steps, verbose=2)
    record = {"hours": round(hours_of(subset), 3), "clips": len(subset), "crops_per_clip": crops_per_clip,
              "train_seconds": round(run.seconds, 1), "final_loss": float(run.history.history["loss"][-1]),
              "load": load.summary()}
    return run, record


def main(argv):
    del argv
    import kssl
    from kssl.eval import audio as probes

    hours = sorted(float(h) for h in FLAGS.hours)
    start = time.time()
    clips, train, test = speech()
    synthesis = time.time() - start
    print(f"speech: {len(clips.speaker_names)} speakers, {len(clips)} clips, {hours_of(clips):.2f} h "
          f"(train {hours_of(train):.2f} h, held out {hours_of(test):.2f} h = {len(test)} clips); "
          f"{len(clips.phones)} phone classes; {synthesis:.0f} s", flush=True)
    rng = np.random.default_rng(FLAGS.seed)
    order = rng.permutation(len(train))
    probe_train = train.subset(np.sort(rng.permutation(len(train))[:FLAGS.probe_clips]))

    def probe(network, name):
        rows = probes.probe_network(network, probe_train, test, name=name, probe_frames=FLAGS.probe_frames,
                                    seed=FLAGS.seed, lookahead=FLAGS.lookahead)
        row = {"phone_context": rows[f"{name}_context"]["phone"], "phone_latent": rows[f"{name}_latent"]["phone"],
               "speaker_context": rows[f"{name}_context"]["speaker"]}
        if FLAGS.lookahead:
            row["phone_context_ahead"] = rows[f"{name}_context_ahead{FLAGS.lookahead}"]["phone"]
        return row

    mfcc = probes.mfcc_row(probe_train, test, probe_frames=FLAGS.probe_frames, seed=FLAGS.seed)
    rows = {"MFCC (39)": {"phone_context": mfcc["phone"], "phone_latent": "-", "speaker_context": mfcc["speaker"],
                          **({"phone_context_ahead": "-"} if FLAGS.lookahead else {})}}
    records = {}
    settings = {name: getattr(FLAGS, name) for name in (
        "steps", "speakers", "sentences", "speakers_per_sentence", "test_fraction", "probe_clips", "probe_frames",
        "width", "context_dim", "batch_size", "window", "learning_rate", "negatives", "lookahead", "seed", "corpus", "engine")}
    settings.update(command="python " + " ".join(sys.argv), phones=len(clips.phones), synthesis_seconds=round(synthesis, 1),
                    train_hours=round(hours_of(train), 3), test_hours=round(hours_of(test), 3), test_clips=len(test),
                    chance=probes.chance(test))
    for h in hours:
        run, record = train_point(clips, train, test, h, order)
        if not records:  # every point starts from the same weights (same seed): one random-init row
            rows["random init"] = probe(run.baseline(), "random")
        name = f"CPC, {h:g} h"  # the hours asked for; the record has the clips' exact hours
        rows[name], records[name] = probe(run.model, "cpc"), record
        print(f"{name}: {rows[name]} {record}", flush=True)
        write(rows, records, settings)
    columns = ("phone_context", "phone_latent", "speaker_context") + (("phone_context_ahead",) if FLAGS.lookahead else ())
    print(kssl.eval.markdown_table(rows, columns, first="features"))


def write(rows, records, settings):
    import kssl

    os.makedirs(FLAGS.out, exist_ok=True)
    kssl.files.write_text_atomic(os.path.join(FLAGS.out, "results.json"), json.dumps(
        {"rows": rows, "training": records, "run": settings}, indent=2))


if __name__ == "__main__":
    app.run(main)
