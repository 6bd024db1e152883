// The GPU scan benchmark behind `statescope-cli bench`: the common per-head scan (engine/gpu/scan_kernels.h)
// on synthetic inputs of model size, for each (B, T) configuration, transition kind and form,
// timed with GPU timestamps after a warm-up, checked against a float64 reference and between
// forms. Plain options in, one row per (configuration, kind, form) out; the CLI parses and prints.
#pragma once
#include "statescope/scan.h"
#include "statescope/scan_options.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace statescope::vk {
class VulkanContext;
} // namespace statescope::vk

namespace statescope::gpu {

struct ScanBenchOptions {
    std::string device;                  // index or name substring; empty: the default rule
    bool pipeline_statistics = false;    // capture the driver's compile statistics
    struct Config { int B, T; };
    std::vector<Config> configs = {{8, 4096}, {1, 65536}};
    int heads = 16, K = 128, V = 128;    // B sequences run as B * heads heads
    std::vector<TransitionKind> kinds;
    std::vector<ScanForm> forms;
    int repeat = 5;                      // timed runs, recorded back to back into one submission
    int warmup_ms = 1000;
    bool check = true;                   // float64 reference and chunked vs recurrent
    bool chunk_states = false;           // chunked-f16 keeps the state at every chunk start
    bool describe = false;               // fill ScanBenchRow::plan
    // ScanRunOptions for every run (chunk, tuning overrides, tc_prefetch, tc_segments); its form
    // is set per row and tc_profile applies to the chunked-f16 rows only.
    ScanRunOptions run;
};

struct ScanBenchRow {
    enum class Status { Timed, Skipped, NotApplicable, Failed };
    Status status = Status::Timed;
    TransitionKind kind = TransitionKind::Identity;
    ScanForm form = ScanForm::Recurrent;   // (a Skipped row has no form: its inputs did not fit)
    int B = 0, T = 0, H = 0;
    std::string message;   // Skipped, Failed: why
    std::string plan;      // options.describe: the launch parameters (ScanKernels::describe), once warm
    double ms = 0, gb_per_s = 0, tflop_per_s = 0;
    // "f64 <err>; <chunked vs recurrent>; <stage> <ms>, ..." (the checks only with options.check)
    std::string note;
    bool has_profile = false;
    TensorCoreProfile profile;   // tc_profile rows
};

class ScanBench {
public:
    // Opens the device (throws Error or VulkanError when it cannot).
    explicit ScanBench(ScanBenchOptions options);
    ~ScanBench();

    std::string device_name() const;
    std::string device_type() const;
    std::string api_version() const;
    bool timestamps() const;   // false: times are host wall-clock

    // Runs every row, handing each to on_row as soon as it is measured. Returns the number of
    // failures (failed rows, non-finite outputs, forms that disagree).
    int run(const std::function<void(const ScanBenchRow&)>& on_row);

    // The driver's compile statistics of every kernel used (options.pipeline_statistics);
    // captures_pipeline_statistics() is false where the device cannot report them.
    bool captures_pipeline_statistics() const;
    std::vector<std::string> pipeline_statistics() const;

private:
    ScanBenchOptions options_;
    std::unique_ptr<vk::VulkanContext> ctx_;
};

} // namespace statescope::gpu
