// The engine's model interface. The CLI, the app and the GPU backend are built on exactly this.
//
// A Model is immutable after loading and can run many sequences; a sequence's memory is its
// SequenceState (recurrent states per layer and head, short-convolution windows, token-shift
// vectors, a KV cache for softmax layers). forward() appends tokens to a sequence. Because the
// state is a value that can be copied, a caller can keep checkpoints every N tokens and recompute
// the state of any layer and head at any token from the nearest one (see engine/timeline.h),
// without the engine holding every state of a long sequence.
#pragma once
#include "statescope/scan.h"
#include "statescope/tensor.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace statescope {

class Checkpoint;

enum class MixerKind { Recurrent, SoftmaxAttention };

struct LayerInfo {
    MixerKind mixer = MixerKind::Recurrent;
    TransitionKind transition = TransitionKind::Identity;
    int heads = 0;      // recurrent heads (Mamba-1: one per inner channel) or attention heads
    int key_dim = 0;    // K
    int value_dim = 0;  // V
    int substeps = 1;   // micro-steps per token (DeltaProduct: num_householder)
    std::string mixer_name; // "GLA", "Mamba-2 SSD", "softmax attention", ...
    int conv_width = 0;     // causal short convolution over the tokens before the recurrence (0: none)
    std::string conv_inputs; // what it convolves: "q, k, v", "x"
    std::string qk_inputs;  // what q and k get besides: "SiLU, L2-normalised" (empty: nothing said)
};

struct ModelInfo {
    std::string model_type;   // config.json's model_type
    std::string family;       // human name: "Gated DeltaNet"
    int num_layers = 0;
    int hidden_size = 0;
    int vocab_size = 0;
    int64_t parameters = 0;
    std::string weight_dtype; // storage dtype on disk ("BF16", "F32")
    std::vector<LayerInfo> layers;
};

struct NamedTensor {
    std::string name;
    Tensor tensor;
};

struct LayerState {
    // [H, K, V] in the common form's orientation (key-major). Empty for softmax layers.
    Tensor recurrent;
    // Everything else the layer carries between tokens, by name: "conv.q", "conv.k", "conv.v",
    // "conv.x" (windows, [channels, width]), "shift.attn"/"shift.ffn" (token shift), "keys"/"values"
    // ([kv_heads, P, head_dim] for softmax layers).
    std::vector<NamedTensor> aux;

    Tensor* find(const std::string& name);
    const Tensor* find(const std::string& name) const;
    Tensor& get(const std::string& name); // throws Error if absent
};

struct SequenceState {
    int64_t position = 0; // tokens consumed so far
    std::vector<LayerState> layers;
    // Cross-layer values some families carry within one token (RWKV-7's v_first) live in the
    // layers' aux tensors; nothing else is hidden anywhere.
    size_t bytes() const;
};

// Receives a layer's internals during forward(). All methods are optional; a layer calls only
// what wants_layer() asked for, so an observer that wants nothing costs nothing.
class ForwardObserver {
public:
    virtual ~ForwardObserver() = default;
    virtual bool wants_layer(int /*layer*/) const { return false; }
    // The common-form inputs of a recurrent layer for this call's tokens, whose positions are
    // first_position .. first_position + in.T - 1. S0 is the state before them ([H, K, V]).
    virtual void on_scan(int /*layer*/, int64_t /*first_position*/, const ScanInputs& /*in*/, const float* /*S0*/) {}
    // Whether to receive the state after a given position (called only for wanted layers).
    virtual bool wants_state(int /*layer*/, int64_t /*position*/) const { return false; }
    virtual void on_state(int /*layer*/, int64_t /*position*/, const float* /*S*/ /* [H, K, V] */) {}
    // Softmax layers: q [T, heads, D] and the whole cache k, v [P, kv_heads, D] after this call (post-RoPE).
    virtual void on_attention(int /*layer*/, int64_t /*first_position*/, const Tensor& /*q*/, const Tensor& /*k*/, const Tensor& /*v*/) {}
};

struct ForwardOptions {
    bool all_logits = true;       // logits for every token, else only for the last one
    bool hidden_states = false;   // collect hidden.0 .. hidden.L
    ForwardObserver* observer = nullptr;
};

struct ForwardResult {
    Tensor logits;              // [T, vocab], or [1, vocab] when only the last was asked for
    std::vector<Tensor> hidden; // hidden[0] = embeddings, hidden[L] = after the final norm; each [T, hidden]
};

class Model {
public:
    virtual ~Model() = default;
    virtual const ModelInfo& info() const = 0;
    virtual SequenceState initial_state() const = 0;
    // Appends tokens to the sequence whose state is given; throws Error for an id out of range.
    virtual ForwardResult forward(std::span<const int32_t> tokens, SequenceState& state,
                                  const ForwardOptions& options = {}) const = 0;
    // The state as the defining library's cache holds it, named and laid out as in
    // ../shared/reference (names without the "state.tP." prefix). Used by verify and dump.
    virtual std::vector<NamedTensor> library_state(const SequenceState& state) const = 0;
    // Why a reference tensor (named as in library_state) cannot be a value the defining library
    // computed, or empty when it can. verify() reports such tensors as invalid instead of failed;
    // the reason must come from a check on the values (e.g. "not a LayerNorm output"), never
    // from a list of names. fla leaves some caches unwritten (uninitialised memory) in corner cases.
    virtual std::string implausible_reference(const std::string& /*name*/, const Tensor& /*reference*/) const { return {}; }
    // The weights the model reads (null for models that hold none).
    virtual const Checkpoint* checkpoint() const { return nullptr; }
};

// Runs a long unobserved call as consecutive calls of at most `piece` tokens (the state carries
// over between them exactly as between calls) and joins their results into the one call's:
// logits and hidden states concatenated, or only the last piece's logits without all_logits.
// Models use it to bound the memory a call's activations take; observed calls run whole,
// because observers expect one scan per layer and call.
ForwardResult forward_in_pieces(std::span<const int32_t> tokens, size_t piece, const ForwardOptions& options,
                                const std::function<ForwardResult(std::span<const int32_t>)>& run);

// Opens a checkpoint folder (or its config.json) and builds the model its model_type names.
// Throws Error naming the file, tensor or key at fault.
std::unique_ptr<Model> load_model(const std::string& dir_or_config);
// The same for an already opened (or synthetic) checkpoint.
std::unique_ptr<Model> load_model(std::unique_ptr<Checkpoint> checkpoint);

// A model with random weights in its family's real shapes, from a config .json file (any name):
// for benchmarks and `statescope-cli synth`, no weights downloaded. `seed` picks the weights.
std::unique_ptr<Model> load_synthetic_model(const std::string& config_path, uint32_t seed);

// Writes the weights a model reads as a checkpoint folder (config.json + model.safetensors), every
// tensor stored as dtype (F32, F16 or BF16). Throws Error for a model that holds no weights.
void save_checkpoint(const Model& model, const std::string& dir, DType dtype);

// The model_type values load_model accepts.
std::vector<std::string> supported_model_types();

} // namespace statescope
