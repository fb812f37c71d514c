"""Training machinery: the `pretrain` recipe, `BackupAndRestore`, the run directory of `kssl pretrain`
(`kssl.training.runs`), distribution strategies and gathers (`kssl.distribute`), atomic writes and the
cache directory (`kssl.files`), and the optimisers Keras lacks for embedding tables
(`kssl.training.optimizers`: `RowwiseAdagrad`, `LazyAdam`)."""

from kssl.training import distribute, files, optimizers, runs  # noqa: F401
from kssl.training.pretrain import (  # noqa: F401
    LR_SCALING, STANDARD_BUDGET, BackupAndRestore, CheckpointError, NonFiniteLossError, StopOnNonFiniteLoss, pretrain,
    scaled_learning_rate,
)
