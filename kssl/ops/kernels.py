"""kssl's C++ TensorFlow ops: built on first use against the installed TensorFlow (its headers and library,
`tf.sysconfig`), cached, and loaded with `tf.load_op_library`.

One op today, `word2vec_sgd` (kssl/ops/word2vec_sgd.cc): word2vec's own per-example SGD step, Hogwild over the
CPU's threads. The build needs a C++ compiler (`g++`, Debian's `g++` package; `make install` brings it) and takes
~15 s once; the library lands in `$KSSL_KERNEL_CACHE` (default `~/.cache/kssl/kernels`) under a name keyed by
the source, TensorFlow's version, the compiler flags and this CPU's instruction sets (it is built with
`-march=native`, `machine_flags`), written to a temporary file and renamed, so concurrent builds never leave half a library.

Example:
>>> import numpy as np, tensorflow as tf
>>> from kssl.ops import kernels
>>> input_vectors, output_vectors = tf.Variable(np.full((5, 4), 0.1, "float32")), tf.Variable(np.zeros((5, 4), "float32"))
>>> loss = kernels.word2vec_sgd(input_vectors, output_vectors, inputs=[[1, 2]], targets=[3], negatives=[[4]],
...                             learning_rate=0.5)
>>> round(float(loss), 4)   # -log s(0) - log s(-0): the output vectors start at 0
1.3863
>>> bool((output_vectors.numpy()[3] > 0).all()), bool((output_vectors.numpy()[4] < 0).all())
(True, True)
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading

import tensorflow as tf

_SOURCES = os.path.dirname(os.path.abspath(__file__))
_FLAGS = ["-O3", "-DNDEBUG", "-w", "-shared", "-fPIC"]
_LOCK = threading.Lock()
_LIBRARIES = {}


def cache_dir():
    """Where built libraries go: `$KSSL_KERNEL_CACHE`, else `$XDG_CACHE_HOME/kssl/kernels` (~/.cache)."""
    if os.environ.get("KSSL_KERNEL_CACHE"):
        return os.environ["KSSL_KERNEL_CACHE"]
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kssl", "kernels")


def compiler():
    """The C++ compiler: `$CXX`, else `g++`, else `c++`; an error that says how to get one if there is none."""
    found = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not found:
        raise RuntimeError("kssl's C++ kernels (Word2Vec(update='hogwild')) need a C++ compiler and none was found "
                           "(`$CXX`, `g++`, `c++`): install one (Debian: `sudo apt-get install g++`; `make install` "
                           "does) or train with Word2Vec(update='minibatch').")
    return found


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return ""


def machine_flags(cpu_flags=None):
    """`-march=native`, less AVX512-FP16: TensorFlow's bundled Eigen has AVX512-FP16 packet code that GCC 12 does
    not compile (Sapphire Rapids and later CPUs, where -march=native turns it on), and the ops use no half floats.

    >>> machine_flags("flags : fpu sse2 avx2"), machine_flags("flags : avx512f avx512_fp16")
    (['-march=native'], ['-march=native', '-mno-avx512fp16'])
    """
    cpu = (_cpu_flags() if cpu_flags is None else cpu_flags).split()
    return ["-march=native"] + (["-mno-avx512fp16"] if "avx512_fp16" in cpu else [])


def library(name):
    """The loaded op library of kssl/ops/`name`.cc, built first if this machine has no build of it."""
    with _LOCK:
        if name not in _LIBRARIES:
            _LIBRARIES[name] = tf.load_op_library(_build(name))
        return _LIBRARIES[name]


def _build(name):
    source = os.path.join(_SOURCES, name + ".cc")
    if not os.path.exists(source):
        raise ValueError(f"`name` must name a kernel source in {_SOURCES}; no {name}.cc there.")
    cxx, cpu = compiler(), _cpu_flags()
    flags = _FLAGS + machine_flags(cpu) + tf.sysconfig.get_compile_flags()
    with open(source, "rb") as f:
        key = hashlib.sha256(b"\0".join([f.read(), tf.__version__.encode(), cxx.encode(), " ".join(flags).encode(),
                                         cpu.encode()])).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{name}-{key}.so")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir(), exist_ok=True)
    handle, partial = tempfile.mkstemp(suffix=".so.partial", dir=cache_dir())
    os.close(handle)
    try:
        done = subprocess.run([cxx, *flags, source, "-o", partial, *tf.sysconfig.get_link_flags()],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"Building kssl's kernel {name}.cc failed ({cxx}, exit {done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def _handle(variable, name):
    value = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", None)  # keras.Variable
    if not isinstance(value, tf.Variable) or value.dtype != tf.float32 or len(value.shape) != 2:
        raise ValueError(f"`{name}` must be a float32 matrix variable (a tf.Variable or keras.Variable); "
                         f"got {type(variable).__name__} {getattr(variable, 'dtype', '')} "
                         f"{tuple(getattr(variable, 'shape', ()))}.")
    return value.handle


def word2vec_sgd(input_vectors, output_vectors, inputs, targets, negatives, learning_rate, num_threads=0):
    """word2vec's SGD step with negative sampling on a batch of examples, one example after another, updating
    `input_vectors` (W_in) and `output_vectors` (W_out) in place; returns the batch's mean loss.

    Per example (word2vec.c's CBOW with `cbow_mean`, or skip-gram when `inputs` has one column):
    h = mean of W_in[c] over the example's non-zero `inputs`; for the target (label 1) and each negative other
    than the target (label 0): g = lr (label - sigmoid(h . W_out[w])), e += g W_out[w], W_out[w] += g h; then
    W_in[c] += e for each input c. An example with no input is skipped. The loss, -log s(h . W_out[target]) -
    sum log s(-h . W_out[negative]), is each example's before its own update.

    The batch is split into `num_threads` contiguous parts run at once on TensorFlow's intra-op threads, sharing
    the tables without locks (Hogwild, as word2vec.c and gensim do): results then vary from run to run in the
    last bits; `num_threads=1` is deterministic. CPU only; not XLA-compilable.

    Args:
        input_vectors, output_vectors: float32 `(vocabulary, dim)` variables (tf.Variable or keras.Variable).
        inputs: int32 `(batch, C)`: the context (CBOW) or the centre word (skip-gram, C = 1); id 0 is padding.
        targets: int32 `(batch,)`: the word each example predicts.
        negatives: int32 `(batch, k)`: negative samples.
        learning_rate: scalar.
        num_threads: threads to split the batch over; 0: all of TensorFlow's intra-op threads.
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"`num_threads` must be an integer >= 0 (0: all intra-op threads); got {num_threads!r}.")
    return library("word2vec_sgd").kssl_word2_vec_sgd(
        _handle(input_vectors, "input_vectors"), _handle(output_vectors, "output_vectors"),
        tf.cast(inputs, tf.int32), tf.cast(targets, tf.int32), tf.cast(negatives, tf.int32),
        tf.cast(learning_rate, tf.float32), num_threads=num_threads)
