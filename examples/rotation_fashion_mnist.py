"""Rotation prediction (RotNet) on Fashion-MNIST: pretrain with model.fit, then probe several depths.

    python examples/rotation_fashion_mnist.py --epochs 2 --out out/rotation

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after rotation pretraining, at the encoder's output and at the globally pooled
output of each earlier convnet stage ("rotation_stage1", ...; the seeds find pretext features peak in
middle layers); writes it to OUT/results.json. Re-running with the same OUT resumes an interrupted
training run from OUT/backup/.
"""

from absl import app, flags

import common

common.define_flags("rotation")
flags.DEFINE_bool("flip", True, "Random horizontal flip before rotating.")
FLAGS = flags.FLAGS


def stage_encoders(encoder, prefix):
    """{f"{prefix}_stageN": globally pooled output of stage N} for every stage but the last (the
    last stage's pooled output is the encoder itself)."""
    import kssl

    stages = sorted({layer.name.split("_")[0] for layer in encoder.layers if layer.name.startswith("stage")})
    return {f"{prefix}_{stage}": kssl.eval.layer_encoder(encoder, f"{stage}_{FLAGS.convs_per_stage}_relu")
            for stage in stages[:-1]}


def main(argv):
    del argv
    import keras

    import kssl

    data, train, encoder, random_encoder = common.setup()
    augment = keras.layers.RandomFlip("horizontal", seed=FLAGS.seed) if FLAGS.flip else None
    model = kssl.methods.RotationPrediction(encoder, augment=augment)
    history, seconds = kssl.training.pretrain(model, common.batches(train), FLAGS.epochs,
                                              learning_rate=FLAGS.learning_rate, out=FLAGS.out)
    encoders = {"random_init": random_encoder, "rotation": model.encoder,
                **stage_encoders(model.encoder, "rotation"), **stage_encoders(random_encoder, "random_init")}
    common.report("rotation prediction", data, encoders, history, seconds)


if __name__ == "__main__":
    app.run(main)
