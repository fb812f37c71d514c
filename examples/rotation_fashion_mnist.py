"""Rotation prediction (RotNet) on Fashion-MNIST: pretrain with model.fit, then probe several depths.

    python examples/rotation_fashion_mnist.py --epochs 2 --out out/rotation

Prints one table (linear probe and kNN accuracy on the test set) for the same encoder at its random
initialisation and after rotation pretraining, at the encoder's output and at the globally pooled
output of each earlier convnet stage ("rotation_stage1", ...; the seeds find pretext features peak in
middle layers); writes it to OUT/results.json. Re-running with the same OUT resumes an interrupted
training run from OUT/backup/.
"""

from absl import app

import common

FLAGS = common.FLAGS
common.define_flags("rotation")  # --flip, ... (the registry recipe)


def stage_encoders(encoder, prefix):
    """{f"{prefix}_stageN": globally pooled output of stage N} for every stage but the last (the
    last stage's pooled output is the encoder itself)."""
    import kssl

    stages = sorted({layer.name.split("_")[0] for layer in encoder.layers if layer.name.startswith("stage")})
    return {f"{prefix}_{stage}": kssl.eval.layer_encoder(encoder, f"{stage}_{FLAGS.convs_per_stage}_relu")
            for stage in stages[:-1]}


def main(argv):
    del argv
    common.main("rotation", title="rotation prediction", more_encoders=lambda run, encoders: {
        **stage_encoders(encoders["rotation"], "rotation"),
        **(stage_encoders(encoders["random_init"], "random_init") if FLAGS.random_init else {})})


if __name__ == "__main__":
    app.run(main)
