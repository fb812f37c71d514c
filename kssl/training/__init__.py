"""Training machinery: the `pretrain` recipe, `BackupAndRestore`, the run directory of `kssl pretrain`
(`kssl.training.runs`), distribution strategies and gathers (`kssl.distribute`), atomic writes and the
cache directory (`kssl.files`), and the optimisers Keras lacks for embedding tables
(`kssl.training.optimizers`: `RowwiseAdagrad`, `LazyAdam`), and the tf.data options of kssl's pipelines
(`kssl.training.tuning`: the autotuner off)."""

from kssl.training import distribute, files, optimizers, runs, tuning  # noqa: F401
from kssl.training.pretrain import (  # noqa: F401
    LR_SCALING, STANDARD_BUDGET, BackupAndRestore, CheckpointError, NonFiniteLossError, StopOnNonFiniteLoss, pretrain,
    scaled_learning_rate,
)
