// word2vec's own update as a TensorFlow op: SGD one example after another on the rows of the input and output
// vectors, Hogwild over the CPU's threads (Mikolov et al. 2013; Recht et al. 2011), as word2vec.c and gensim do.
//
// Written by hand because nothing in TensorFlow, Keras or keras-hub does it: the gradient through TensorFlow's
// (or XLA's) gather / scatter kernels moves every (batch, window, dim) slice several times per mini-batch, and a
// mini-batch optimiser needs per-row state; word2vec's step touches each row once per example in the cache.
// TensorFlow's own word2vec tutorial (tensorflow/models, tutorials/embedding) used a custom op for the same reason.
// Built and loaded by kssl/ops/kernels.py.

#define EIGEN_USE_THREADS

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/training_op_helpers.h"
#include "tensorflow/core/lib/core/threadpool.h"
#include "tensorflow/core/platform/blocking_counter.h"

namespace kssl {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using CPUDevice = Eigen::ThreadPoolDevice;

REGISTER_OP("KsslWord2VecSgd")
    .Input("input_vectors: resource")   // (vocabulary, dim) float32: W_in
    .Input("output_vectors: resource")  // (vocabulary, dim) float32: W_out
    .Input("inputs: int32")             // (batch, C): the centre word (skip-gram) or the CBOW context; 0 = padding
    .Input("targets: int32")            // (batch,): the word to predict
    .Input("negatives: int32")          // (batch, k): negative samples
    .Input("learning_rate: float")      // scalar
    .Output("loss: float")              // mean over the batch's non-empty examples, each before its own update
    .Attr("num_threads: int >= 0 = 0")  // 0: every thread of TensorFlow's intra-op pool; 1: deterministic
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape);

namespace {

constexpr int64_t kChunk = 256;  // examples a thread takes at a time

inline float LogSigmoid(float x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

inline float Dot(const float* a, const float* b, int n) {
  // 8 partial sums: a vectorisable reduction without -ffast-math (the compiler keeps one sum's order otherwise)
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) partial[j] += a[i + j] * b[i + j];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < 8; ++j) s += partial[j];
  return s;
}

inline void Axpy(float g, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += g * x[i];
}

inline void PrefetchRow(const float* row, int dim) {
  for (int i = 0; i < dim; i += 64 / sizeof(float)) __builtin_prefetch(row + i);
}

// Asks for the rows of an example while the one before it computes: the step waits on memory, not arithmetic
// (a random row of a 40 000-word table is rarely in cache); measured 1.4x faster on the full corpus.
void PrefetchExample(const int32_t* inputs, int width, int32_t target, const int32_t* negatives, int k,
                     const float* w_in, const float* w_out, int dim) {
  for (int c = 0; c < width; ++c) {
    if (inputs[c] != 0) PrefetchRow(w_in + static_cast<int64_t>(inputs[c]) * dim, dim);
  }
  PrefetchRow(w_out + static_cast<int64_t>(target) * dim, dim);
  for (int j = 0; j < k; ++j) PrefetchRow(w_out + static_cast<int64_t>(negatives[j]) * dim, dim);
}

// One example, word2vec.c's CBOW / skip-gram step with negative sampling (cbow_mean): h = the mean of the
// inputs' vectors; for the target (label 1) and each negative other than the target (label 0):
// g = lr (label - sigmoid(h . W_out[w])), e += g W_out[w], W_out[w] += g h; then W_in[c] += e for each input c.
// Returns the example's loss before its update (0 for an empty window, which is skipped).
float Example(const int32_t* inputs, int width, int32_t target, const int32_t* negatives, int k, float lr,
              float* w_in, float* w_out, int dim, float* h, float* e, bool* empty) {
  std::fill(h, h + dim, 0.f);
  int count = 0;
  for (int c = 0; c < width; ++c) {
    if (inputs[c] == 0) continue;
    Axpy(1.f, w_in + static_cast<int64_t>(inputs[c]) * dim, h, dim);
    ++count;
  }
  *empty = count == 0;
  if (*empty) return 0.f;
  const float inverse = 1.f / count;
  for (int i = 0; i < dim; ++i) h[i] *= inverse;
  std::fill(e, e + dim, 0.f);
  float loss = 0.f;
  for (int j = -1; j < k; ++j) {
    const int32_t word = j < 0 ? target : negatives[j];
    if (j >= 0 && word == target) continue;
    float* out = w_out + static_cast<int64_t>(word) * dim;
    const float score = Dot(h, out, dim);
    const float sigmoid = 1.f / (1.f + std::exp(-score));
    loss -= j < 0 ? LogSigmoid(score) : LogSigmoid(-score);
    const float g = lr * ((j < 0 ? 1.f : 0.f) - sigmoid);
    Axpy(g, out, e, dim);
    Axpy(g, h, out, dim);
  }
  for (int c = 0; c < width; ++c) {
    if (inputs[c] != 0) Axpy(1.f, e, w_in + static_cast<int64_t>(inputs[c]) * dim, dim);
  }
  return loss;
}

}  // namespace

class Word2VecSgdOp : public OpKernel {
 public:
  explicit Word2VecSgdOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("num_threads", &num_threads_));
  }

  void Compute(OpKernelContext* context) override {
    // Exclusive locks on both tables for the whole batch, in copy-on-read mode (TensorFlow's sparse-update
    // protocol): a value read earlier keeps its copy; the threads below share the tables without locks (Hogwild).
    auto locks = tensorflow::MaybeLockVariableInputMutexesInOrder<CPUDevice, float>(context, true, true, {0, 1});
    Tensor w_in, w_out;
    OP_REQUIRES_OK(context, tensorflow::GetInputTensorFromVariable<CPUDevice, float>(context, 0, true, true, &w_in));
    OP_REQUIRES_OK(context, tensorflow::GetInputTensorFromVariable<CPUDevice, float>(context, 1, true, true, &w_out));
    OP_REQUIRES(context, w_in.dtype() == tensorflow::DT_FLOAT && w_out.dtype() == tensorflow::DT_FLOAT,
                tensorflow::errors::InvalidArgument("input_vectors and output_vectors must be float32 variables"));
    OP_REQUIRES(context, w_in.dims() == 2 && w_in.shape() == w_out.shape(),
                tensorflow::errors::InvalidArgument("input_vectors and output_vectors must be matrices of one shape; "
                                                    "got ", w_in.shape().DebugString(), " and ",
                                                    w_out.shape().DebugString()));
    const Tensor& inputs = context->input(2);
    const Tensor& targets = context->input(3);
    const Tensor& negatives = context->input(4);
    const Tensor& learning_rate = context->input(5);
    OP_REQUIRES(context, inputs.dims() == 2, tensorflow::errors::InvalidArgument(
                    "inputs must be (batch, C); got ", inputs.shape().DebugString()));
    const int64_t batch = inputs.dim_size(0);
    OP_REQUIRES(context, targets.dims() == 1 && targets.dim_size(0) == batch,
                tensorflow::errors::InvalidArgument("targets must be (batch,) = (", batch, ",); got ",
                                                    targets.shape().DebugString()));
    OP_REQUIRES(context, negatives.dims() == 2 && negatives.dim_size(0) == batch,
                tensorflow::errors::InvalidArgument("negatives must be (batch, k) with batch ", batch, "; got ",
                                                    negatives.shape().DebugString()));
    OP_REQUIRES(context, learning_rate.dims() == 0, tensorflow::errors::InvalidArgument(
                    "learning_rate must be a scalar; got ", learning_rate.shape().DebugString()));
    const int64_t vocabulary = w_in.dim_size(0);
    const int dim = static_cast<int>(w_in.dim_size(1));
    const int width = static_cast<int>(inputs.dim_size(1));
    const int k = static_cast<int>(negatives.dim_size(1));
    const int32_t* in_ids = inputs.flat<int32_t>().data();
    const int32_t* target_ids = targets.flat<int32_t>().data();
    const int32_t* negative_ids = negatives.flat<int32_t>().data();
    for (const Tensor* ids : {&inputs, &targets, &negatives}) {
      auto flat = ids->flat<int32_t>();
      for (int64_t i = 0; i < flat.size(); ++i) {
        OP_REQUIRES(context, flat(i) >= 0 && flat(i) < vocabulary, tensorflow::errors::InvalidArgument(
                        "word id ", flat(i), " is outside the vocabulary [0, ", vocabulary, ")"));
      }
    }
    const float lr = learning_rate.scalar<float>()();
    float* in_table = w_in.flat<float>().data();
    float* out_table = w_out.flat<float>().data();

    // The batch is cut into chunks that the threads take in turn: a thread the OS lends to the input pipeline
    // for a while does fewer chunks instead of holding up the step.
    auto* pool = context->device()->tensorflow_cpu_worker_threads()->workers;
    const int64_t threads = std::max<int64_t>(
        1, std::min<int64_t>(batch, num_threads_ > 0 ? num_threads_ : pool->NumThreads()));
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(kChunk, batch / threads));
    std::atomic<int64_t> next_chunk(0);
    std::vector<double> losses(threads, 0.0);
    std::vector<int64_t> counted(threads, 0);
    auto run = [&](int64_t part) {
      std::vector<float> h(dim), e(dim);
      for (int64_t begin = chunk * next_chunk++; begin < batch; begin = chunk * next_chunk++) {
        const int64_t end = std::min(batch, begin + chunk);
        for (int64_t b = begin; b < end; ++b) {
          if (b + 1 < end) {
            PrefetchExample(in_ids + (b + 1) * width, width, target_ids[b + 1], negative_ids + (b + 1) * k, k,
                            in_table, out_table, dim);
          }
          bool empty;
          const float loss = Example(in_ids + b * width, width, target_ids[b], negative_ids + b * k, k, lr,
                                     in_table, out_table, dim, h.data(), e.data(), &empty);
          if (!empty) {
            losses[part] += loss;
            ++counted[part];
          }
        }
      }
    };
    tensorflow::BlockingCounter done(static_cast<int>(threads - 1));
    for (int64_t part = 1; part < threads; ++part) {
      pool->Schedule([&run, &done, part] {
        run(part);
        done.DecrementCount();
      });
    }
    run(0);
    done.Wait();

    double total = 0;
    int64_t examples = 0;
    for (int64_t part = 0; part < threads; ++part) {
      total += losses[part];
      examples += counted[part];
    }
    Tensor* loss = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({}), &loss));
    loss->scalar<float>()() = examples ? static_cast<float>(total / examples) : 0.f;
  }

 private:
  int num_threads_;
};

REGISTER_KERNEL_BUILDER(Name("KsslWord2VecSgd").Device(tensorflow::DEVICE_CPU), Word2VecSgdOp);

}  // namespace kssl
