#include "statescope/backend.h"

#include "statescope/error.h"
#include "gpu/gpu_model.h"
#include "vulkan/context.h"
#include "vulkan/vk_check.h"

#include <cstdlib>
#include <mutex>

namespace statescope {

namespace {

gpu::OpsOptions::Weights parse_weights(const std::string& w) {
    if (w == "auto") return gpu::OpsOptions::Weights::Auto;
    if (w == "f32") return gpu::OpsOptions::Weights::F32;
    if (w == "f16") return gpu::OpsOptions::Weights::F16;
    if (w == "bf16") return gpu::OpsOptions::Weights::BF16;
    throw Error("--weights: '" + w + "' (expected auto, f32, f16 or bf16)");
}

// A GPU model that survives its device: when a forward pass fails because the device ran out of
// memory or was lost, that call and every later one run on the CPU reference (the same weights,
// the same sequence state, which the failed call left as it was: the GPU model writes the state
// back only after a pass completes), and fallback_reason() says why. Lenient requests (the app)
// get this; strict ones (a command-line flag) see the error instead.
class GpuWithCpuFallback : public Model {
public:
    GpuWithCpuFallback(std::shared_ptr<Model> gpu, std::shared_ptr<Model> cpu) : gpu_(std::move(gpu)), cpu_(std::move(cpu)) {}

    const ModelInfo& info() const override { return cpu_->info(); }
    SequenceState initial_state() const override { return cpu_->initial_state(); }
    ForwardResult forward(std::span<const int32_t> tokens, SequenceState& state, const ForwardOptions& options) const override {
        if (const std::shared_ptr<Model> g = gpu()) {
            try {
                return g->forward(tokens, state, options);
            } catch (const vk::VulkanError& e) {
                if (!e.device_lost() && !e.out_of_memory()) throw;
                std::lock_guard lock(mutex_);
                reason_ = e.what();
                gpu_.reset(); // frees the device memory the model held
            }
        }
        return cpu_->forward(tokens, state, options);
    }
    std::vector<NamedTensor> library_state(const SequenceState& state) const override { return cpu_->library_state(state); }
    std::string implausible_reference(const std::string& name, const Tensor& reference) const override {
        return cpu_->implausible_reference(name, reference);
    }
    const Checkpoint* checkpoint() const override { return cpu_->checkpoint(); }

    std::shared_ptr<Model> gpu() const {
        std::lock_guard lock(mutex_);
        return gpu_;
    }
    std::string fallback_reason() const {
        std::lock_guard lock(mutex_);
        return reason_;
    }

private:
    mutable std::mutex mutex_;
    mutable std::shared_ptr<Model> gpu_; // null once the CPU took over
    mutable std::string reason_;
    std::shared_ptr<Model> cpu_;
};

const gpu::GpuModel* as_gpu(const std::shared_ptr<Model>& m) {
    if (const auto* f = dynamic_cast<const GpuWithCpuFallback*>(m.get())) {
        const std::shared_ptr<Model> g = f->gpu();
        return dynamic_cast<const gpu::GpuModel*>(g.get()); // the wrapper holds it as long as the OpenedModel does
    }
    return dynamic_cast<const gpu::GpuModel*>(m.get());
}

} // namespace

BackendKind parse_backend(const std::string& flag, const std::string& name) {
    if (name == "auto") return BackendKind::Auto;
    if (name == "cpu") return BackendKind::Cpu;
    if (name == "vulkan") return BackendKind::Vulkan;
    throw Error(flag + ": '" + name + "' is not available (available: auto, cpu, vulkan)");
}

BackendRequest backend_request_from_environment() {
    BackendRequest r;
    const char* env = std::getenv("STATESCOPE_BACKEND");
    const std::string want = env && *env ? env : "auto";
    try {
        r.kind = parse_backend("STATESCOPE_BACKEND", want);
    } catch (const Error&) {
        r.kind = BackendKind::Cpu;
        r.invalid = "STATESCOPE_BACKEND='" + want + "' is not cpu, vulkan or auto";
    }
    return r; // the device: VulkanContext reads STATESCOPE_VULKAN_DEVICE when none is named
}

// The Vulkan device the models of one Backends share; each GPU model holds it too.
struct Backends::Device {
    vk::VulkanContext ctx;
    explicit Device(const vk::ContextOptions& o) : ctx(o) {}
};

Backends::Backends(BackendRequest request) : request_(std::move(request)) { parse_weights(request_.weights); }

Backends::~Backends() = default;

std::optional<std::string> Backends::cpu_reason() {
    if (!request_.invalid.empty()) return request_.invalid;
    if (request_.kind == BackendKind::Cpu) return "";
    if (!device_ && device_error_.empty()) {
        try {
            vk::ContextOptions co;
            co.device = request_.device;
            device_ = std::make_shared<Device>(co);
        } catch (const std::exception& e) {
            if (request_.strict) throw;
            device_error_ = e.what();
        }
    }
    if (!device_) {
        if (request_.strict) throw Error(device_error_);
        return "no Vulkan device: " + device_error_;
    }
    const vk::DeviceInfo& d = device_->ctx.device();
    if (device_->ctx.lost()) {
        if (request_.strict) device_->ctx.ensure_alive();
        return "the Vulkan device " + d.name + " was lost";
    }
    const bool real_gpu = d.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU || d.type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    if (request_.kind == BackendKind::Auto && !real_gpu) return "the Vulkan device is " + d.name + ", a CPU driver";
    return std::nullopt;
}

std::string Backends::prepare_device() { return cpu_reason() ? std::string() : device_->ctx.device().name; }

OpenedModel Backends::open(std::shared_ptr<Model> cpu) {
    require(cpu != nullptr, "Backends::open: no model");
    OpenedModel m;
    m.model_ = std::move(cpu);
    m.backend_ = BackendKind::Cpu;
    const auto on_cpu = [&m](const std::string& why) {
        m.description_ = why.empty() ? "CPU" : "CPU (" + why + ")";
        return m;
    };
    if (const auto why = cpu_reason()) return on_cpu(*why);
    const std::string name = device_->ctx.device().name;

    // The GPU model and the device it runs on, destroyed in that order when the last holder goes.
    struct Held {
        std::shared_ptr<Device> device;
        std::unique_ptr<gpu::GpuModel> model;
    };
    auto held = std::make_shared<Held>();
    held->device = device_;
    gpu::GpuModelOptions options;
    options.ops.weights = parse_weights(request_.weights);
    try {
        held->model = std::make_unique<gpu::GpuModel>(m.model_, device_->ctx, options);
    } catch (const Error& e) {
        if (request_.strict) throw;
        return on_cpu(e.what()); // a model without a GPU path runs on the CPU reference
    }
    std::shared_ptr<Model> on_gpu(held, held->model.get());
    m.model_ = request_.strict ? on_gpu : std::make_shared<GpuWithCpuFallback>(on_gpu, m.model_);
    m.backend_ = BackendKind::Vulkan;
    m.device_ = name;
    m.description_ = "Vulkan: " + name;
    return m;
}

std::string OpenedModel::fallback_reason() const {
    const auto* f = dynamic_cast<const GpuWithCpuFallback*>(model_.get());
    return f ? f->fallback_reason() : std::string();
}

std::string OpenedModel::weight_type() const {
    const gpu::GpuModel* g = as_gpu(model_);
    return g ? gpu::weight_type_name(g->weight_type()) : "F32";
}

struct OpenedModel::ResidentSequence::Impl {
    std::shared_ptr<Model> model;
    const gpu::GpuModel* gpu = nullptr;
    SequenceState host;      // CPU models
    gpu::SequenceState dev;  // GPU models
};

OpenedModel::ResidentSequence::ResidentSequence(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpenedModel::ResidentSequence::~ResidentSequence() = default;
OpenedModel::ResidentSequence::ResidentSequence(ResidentSequence&&) noexcept = default;
OpenedModel::ResidentSequence& OpenedModel::ResidentSequence::operator=(ResidentSequence&&) noexcept = default;

ForwardResult OpenedModel::ResidentSequence::forward(std::span<const int32_t> tokens, const ForwardOptions& options) {
    if (impl_->gpu) return impl_->gpu->forward_resident(tokens, impl_->dev, options);
    return impl_->model->forward(tokens, impl_->host, options);
}

size_t OpenedModel::ResidentSequence::bytes() const { return impl_->gpu ? impl_->dev.bytes() : impl_->host.bytes(); }

OpenedModel::ResidentSequence OpenedModel::resident(const SequenceState& state) const {
    auto impl = std::make_unique<ResidentSequence::Impl>();
    impl->model = model_;
    impl->gpu = as_gpu(model_);
    if (impl->gpu) impl->dev = impl->gpu->upload(state);
    else impl->host = state;
    return ResidentSequence(std::move(impl));
}

void OpenedModel::set_profiling(bool on) const {
    if (const gpu::GpuModel* g = as_gpu(model_)) g->set_profiling(on);
}

std::map<std::string, OpenedModel::KernelTime> OpenedModel::profile() const {
    std::map<std::string, KernelTime> out;
    if (const gpu::GpuModel* g = as_gpu(model_))
        for (const auto& [name, k] : g->profile()) out[name] = {k.ms, k.calls};
    return out;
}

void OpenedModel::clear_profile() const {
    if (const gpu::GpuModel* g = as_gpu(model_)) g->clear_profile();
}

} // namespace statescope
