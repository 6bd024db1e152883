// Where a model runs: the one backend policy of the app and the command line.
//
// A request names a backend (auto, cpu or vulkan) and optionally a Vulkan device (an index or
// part of a name; empty: STATESCOPE_VULKAN_DEVICE, else discrete GPU first, then integrated,
// virtual, CPU driver). "auto" runs Vulkan on a discrete or integrated GPU and otherwise the CPU
// reference, which on a machine without a GPU is faster than a CPU driver such as lavapipe.
// A strict request (a command-line flag) fails with an Error when it cannot be met; a lenient
// one (the app, STATESCOPE_BACKEND) runs the CPU reference instead and says why.
//
// No Vulkan type appears here: the device lives behind the opened model, which keeps it alive.
#pragma once
#include "statescope/model.h"

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace statescope {

enum class BackendKind { Auto, Cpu, Vulkan };

struct BackendRequest {
    BackendKind kind = BackendKind::Auto;
    std::string device;           // Vulkan device: an index or a name part; empty: the default choice
    std::string weights = "auto"; // GPU weight storage: auto (the checkpoint's dtype), f32, f16, bf16
    // true: a backend that cannot be used (no device, a model without a GPU path) is an Error.
    // false: the CPU reference runs and OpenedModel::description says why.
    bool strict = false;
    // Set when the request's source named no backend we know (the lenient case only): the CPU
    // runs and this says why, e.g. "STATESCOPE_BACKEND='x' is not cpu, vulkan or auto".
    std::string invalid;
};

// "auto", "cpu" or "vulkan"; anything else is an Error "<flag>: 'x' is not available (available: ...)".
BackendKind parse_backend(const std::string& flag, const std::string& name);
// What the app runs on: STATESCOPE_BACKEND=cpu|vulkan|auto (default auto) and
// STATESCOPE_VULKAN_DEVICE, lenient.
BackendRequest backend_request_from_environment();

// A model as it runs, with the backend that runs it. Copies share the model and its device.
class OpenedModel {
public:
    // The model's forward passes run where backend() says; the shared pointer keeps the Vulkan
    // device alive as long as anyone holds it.
    const std::shared_ptr<Model>& model() const { return model_; }
    BackendKind backend() const { return backend_; } // Cpu or Vulkan, never Auto
    // "CPU", "Vulkan: <device>", or "CPU (<why not a GPU>)".
    const std::string& description() const { return description_; }
    const std::string& device_name() const { return device_; } // the Vulkan device, empty on the CPU
    // Empty while the model runs where backend() says. For a lenient request, a GPU model whose
    // device ran out of memory or was lost runs on the CPU reference from then on, and this is
    // the error that made it (the app shows it); strict requests throw the error instead.
    std::string fallback_reason() const;
    // How the weights are stored where the model runs: "F32", "F16", "BF16" (the CPU computes in F32).
    std::string weight_type() const;

    // A sequence whose state stays where the model runs between calls (device memory for a
    // Vulkan model), as decoding keeps it: for benchmarks of prefill and steps.
    class ResidentSequence {
    public:
        ~ResidentSequence();
        ResidentSequence(ResidentSequence&&) noexcept;
        ResidentSequence& operator=(ResidentSequence&&) noexcept;
        ForwardResult forward(std::span<const int32_t> tokens, const ForwardOptions& options = {});
        size_t bytes() const; // memory the state holds

    private:
        friend class OpenedModel;
        struct Impl;
        explicit ResidentSequence(std::unique_ptr<Impl> impl);
        std::unique_ptr<Impl> impl_;
    };
    // Starts at `state` (the model's initial_state() for a fresh sequence).
    ResidentSequence resident(const SequenceState& state) const;

    // Per-kernel GPU time of the forwards while profiling is on (Vulkan only; nothing on the CPU).
    struct KernelTime {
        double ms = 0;
        long calls = 0;
    };
    void set_profiling(bool on) const;
    std::map<std::string, KernelTime> profile() const;
    void clear_profile() const;

private:
    friend class Backends;
    std::shared_ptr<Model> model_;
    BackendKind backend_ = BackendKind::Cpu;
    std::string description_, device_;
};

// Opens models under one request. Keeps the Vulkan device it opened (or why it could not), so
// the models of one thread share it: call from the thread that runs the models.
class Backends {
public:
    // Throws Error for weights that are not auto, f32, f16 or bf16.
    explicit Backends(BackendRequest request);
    ~Backends();
    // Opens the Vulkan device now when the request may run on it, to name it before any model
    // loads; returns its name, or "" when models will run on the CPU reference (strict: throws
    // where the request cannot be met).
    std::string prepare_device();
    // `cpu` on the backend the request gives (a GPU model over it, or itself).
    OpenedModel open(std::shared_ptr<Model> cpu);
    const BackendRequest& request() const { return request_; }

private:
    struct Device;
    // Why models run on the CPU reference ("" for no reason given), or nothing when the device runs them.
    std::optional<std::string> cpu_reason();
    BackendRequest request_;
    std::shared_ptr<Device> device_;
    std::string device_error_; // why the device could not be opened (once tried)
};

} // namespace statescope
