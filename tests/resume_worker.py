"""One pretraining run for tests/test_resume.py: `python resume_worker.py METHOD OUT RESULT [KILL_EPOCH KILL_STEP]`.

Trains a tiny METHOD model for 3 epochs with `kssl.training.pretrain(out=OUT)` on shuffled data with
random augmentations (so data order and RNG state both matter), then writes its weights to RESULT
(.npz). With KILL_EPOCH/KILL_STEP it SIGKILLs itself at that (1-based) epoch and step, mid-epoch.
"""

import os
import signal
import sys

import keras
import numpy as np

import kssl
from helpers import smooth_images


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch + 1) == (self.epoch, self.step):
            os.kill(os.getpid(), signal.SIGKILL)


def build(method):
    keras.utils.set_random_seed(0)
    encoder = kssl.backbones.convnet((12, 12, 1), widths=(4, 8), name="tiny")
    augment = kssl.augment.simclr_views(12, channels=1, grayscale_policy="brightness_contrast", crop_scale=(0.5, 1.0),
                                        blur_prob=0.0, seed=1)
    if method == "moco":
        return kssl.methods.MoCo(encoder, projection_dim=8, queue_size=32, augment=augment)
    return kssl.methods.SimCLR(encoder, projection_dim=8, augment=augment)


class CountEpochs(keras.callbacks.Callback):
    epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1


def main(method, out, result, kill_epoch=None, kill_step=None):
    split = kssl.datasets.Split((smooth_images(64, seed=3) * 255).astype("uint8"), np.zeros(64, "int64"))
    counter = CountEpochs()
    callbacks = [counter] + ([KillAt(int(kill_epoch), int(kill_step))] if kill_epoch else [])
    model = build(method)
    history, _ = kssl.training.pretrain(model, split.unlabelled(16, seed=0), epochs=3, learning_rate=1e-2,
                                        out=out, verbose=0, callbacks=callbacks)
    print("epochs run:", counter.epochs)
    print("epochs in the history:", len(history.history["loss"]))
    np.savez(result, *[v.numpy() for v in model.variables])


if __name__ == "__main__":
    main(*sys.argv[1:])
