// statescope-cli devices / bench: the Vulkan devices this machine has, and the GPU scan kernels'
// speed on synthetic inputs of model size (every transition kind, recurrent and chunked form).
#include "commands.h"
#include "statescope/error.h"
#include "statescope/scan.h"
#include "statescope/devices.h"
#include "statescope/scan_bench.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace statescope::cli {

using namespace statescope::gpu;

namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(sep, i);
        if (j == std::string::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// No positional arguments: only flags.
void no_positional(const Arguments& o) {
    if (!o.positional().empty()) throw Error("unexpected argument '" + o.positional()[0] + "'");
}

void print_device(const DeviceSummary& d, bool selected) {
    std::printf("%d: %s (%s)%s\n", d.index, d.name.c_str(), d.type.c_str(), selected ? "  [selected]" : "");
    std::printf("   Vulkan %s", d.api_version.c_str());
    if (!d.driver_name.empty()) std::printf(", driver %s %s", d.driver_name.c_str(), d.driver_info.c_str());
    std::printf("\n");
    if (!d.usable) {
        std::printf("   unusable: %s\n", d.unusable_reason.c_str());
        return;
    }
    std::printf("   subgroup: size %u (min %u, max %u, size control %s), in compute: %s, ops: %s\n", d.subgroup_size,
                d.subgroup_min, d.subgroup_max, yes_no(d.subgroup_size_control).c_str(),
                yes_no(d.subgroup_in_compute).c_str(), d.subgroup_ops.c_str());
    std::printf("   float16: %s, int8: %s, 16-bit storage: %s, float atomics: %s, buffer device address: %s\n",
                yes_no(d.float16).c_str(), yes_no(d.int8).c_str(), yes_no(d.storage16).c_str(),
                yes_no(d.float_atomics).c_str(), yes_no(d.buffer_device_address).c_str());
    std::printf("   shader clock (subgroup): %s\n", yes_no(d.shader_clock).c_str());
    std::printf("   shared memory: %u KiB per workgroup, workgroup: up to %u invocations, push constants: %u bytes\n",
                d.max_shared_memory / 1024, d.max_workgroup_invocations, d.max_push_constants);
    std::printf("   memory: %s device-local (unified with host: %s), storage buffer range %s\n",
                mib(d.device_local_bytes).c_str(), yes_no(d.unified_memory).c_str(),
                mib(d.max_storage_buffer_range).c_str());
    std::printf("   cooperative matrix: NV %s, KHR %s\n", yes_no(d.coop_matrix_nv).c_str(), yes_no(d.coop_matrix_khr).c_str());
    if (!d.coop_matrix_nv_shapes.empty()) {
        std::printf("   NV shapes (subgroup scope):");
        for (const auto& s : d.coop_matrix_nv_shapes) std::printf(" [%s]", s.c_str());
        std::printf("\n");
    }
    if (d.timestamps)
        std::printf("   timestamps: yes (%.3g ns per tick, %u valid bits)\n", d.timestamp_period_ns, d.timestamp_valid_bits);
    else
        std::printf("   timestamps: no\n");
}

// ---- bench -------------------------------------------------------------------------------------

void bench_usage() {
    std::fputs("usage: statescope-cli bench [--device D] [--configs BxT,...] [--heads H] [--dk K] [--dv V]\n"
               "                            [--kinds identity,scalar,diagonal,delta,dplr] [--forms recurrent,chunked,chunked-f16]\n"
               "                            [--chunk C] [--repeat N] [--warmup-ms MS] [--no-check] [--verbose] [--chunk-states]\n"
               "                            [--pipeline-stats] [--tc-prefetch P] [--tc-profile] [--tc-segments N] [--rec-workgroup N] [--rec-tokens N] [--out-vblock N] [--out-ktile N]\n"
               "  defaults: --configs 8x4096,1x65536 --heads 16 --dk 128 --dv 128 --repeat 5; B sequences\n"
               "  are batched as B*H heads. Times are GPU timestamps, the median of N runs recorded back to\n"
               "  back in one submission after --warmup-ms (default 1000) of warm-up runs;\n"
               "  --verbose prints each kernel's launch parameters. chunked-f16 (tensor cores, NVIDIA) converts\n"
               "  q, k, v to float16 once, in the first warm-up run, and is timed on those fp16 inputs; it is\n"
               "  one fused kernel with chunks of 32 (--chunk applies to the chunked form) and keeps the state\n"
               "  at every chunk start only with --chunk-states (the chunked form always keeps them).\n"
               "  --pipeline-stats prints the driver's compile statistics of every kernel used (registers,\n"
               "  spills; where the device has VK_KHR_pipeline_executable_properties). --tc-prefetch P: chunked-f16\n"
               "  issues each chunk's loads at its start (P = 0), the next chunk's before the current chunk's\n"
               "  products (P = 1), or spread over P = 2 or 3 of its phases (default: measured per kind and\n"
               "  value block, tensor_core_prefetch in scan_plan_tensor_core.cpp); --tc-profile runs its\n"
               "  clock-instrumented variant and prints the cycles per chunk of each phase of the kernel.\n"
               "  --tc-segments N: chunked-f16 splits each sequence into N segments run side by side (no decay\n"
               "  and scalar decay; default: enough for ~128 workgroups when there are few heads, 1 = none).\n",
               stderr);
}

} // namespace

int cmd_devices(const Arguments& o) {
    no_positional(o);
    std::string request = o.get("device");
    if (request.empty())
        if (const char* e = std::getenv("STATESCOPE_VULKAN_DEVICE")) request = e;
    const DeviceListing listing = list_devices(request);
    if (listing.devices.empty()) {
        std::printf("no Vulkan devices (is a driver installed? mesa-vulkan-drivers provides lavapipe)\n");
        return 1;
    }
    for (size_t i = 0; i < listing.devices.size(); ++i) print_device(listing.devices[i], int(i) == listing.selected);
    if (listing.selected < 0) std::printf("no device selected: %s\n", listing.why_none.c_str());
    return listing.selected < 0 ? 1 : 0;
}

int cmd_bench(const Arguments& o) {
    if (o.has("help")) {
        bench_usage();
        return 0;
    }
    no_positional(o);
    ScanBenchOptions bo;
    bo.heads = int(parse_positive("--heads", o.get("heads", "16")));
    bo.K = int(parse_positive("--dk", o.get("dk", "128")));
    bo.V = int(parse_positive("--dv", o.get("dv", "128")));
    bo.repeat = int(parse_positive("--repeat", o.get("repeat", "5")));
    if (bo.repeat > 256) throw Error("--repeat: at most 256 runs (they are recorded into one submission)");
    bo.warmup_ms = int(parse_positive("--warmup-ms", o.get("warmup-ms", "1000")));
    bo.run.chunk = int(parse_positive("--chunk", o.get("chunk", "64")));
    bo.check = !o.has("no-check");
    bo.describe = o.has("verbose");
    bo.chunk_states = o.has("chunk-states");

    bo.configs.clear();
    for (const auto& c : split(o.get("configs", "8x4096,1x65536"), ',')) {
        const auto x = c.find('x');
        if (x == std::string::npos) throw Error("--configs: '" + c + "' is not BxT (e.g. 8x4096)");
        bo.configs.push_back({int(parse_positive("--configs B", c.substr(0, x))), int(parse_positive("--configs T", c.substr(x + 1)))});
    }
    for (const auto& k : split(o.get("kinds", "identity,scalar,diagonal,delta,dplr"), ',')) {
        if (k == "identity") bo.kinds.push_back(TransitionKind::Identity);
        else if (k == "scalar") bo.kinds.push_back(TransitionKind::Scalar);
        else if (k == "diagonal") bo.kinds.push_back(TransitionKind::Diagonal);
        else if (k == "delta") bo.kinds.push_back(TransitionKind::DeltaRule);
        else if (k == "dplr") bo.kinds.push_back(TransitionKind::DiagPlusRankOne);
        else throw Error("--kinds: unknown kind '" + k + "' (identity, scalar, diagonal, delta, dplr)");
    }
    for (const auto& f : split(o.get("forms", "recurrent,chunked"), ',')) {
        if (f == "recurrent") bo.forms.push_back(ScanForm::Recurrent);
        else if (f == "chunked") bo.forms.push_back(ScanForm::Chunked);
        else if (f == "chunked-f16") bo.forms.push_back(ScanForm::ChunkedF16);
        else throw Error("--forms: unknown form '" + f + "' (recurrent, chunked, chunked-f16)");
    }
    if (o.has("tc-prefetch")) {
        const std::string v = o.get("tc-prefetch");
        if (v != "0" && v != "1" && v != "2" && v != "3") throw Error("--tc-prefetch: '" + v + "' is not 0, 1, 2 or 3");
        bo.run.tc_prefetch = v[0] - '0';
    }
    bo.run.tc_profile = o.has("tc-profile");
    if (o.has("tc-segments")) bo.run.tc_segments = int(parse_positive("--tc-segments", o.get("tc-segments")));
    if (o.has("rec-workgroup")) bo.run.recurrent_workgroup = int(parse_positive("--rec-workgroup", o.get("rec-workgroup")));
    if (o.has("rec-tokens")) bo.run.recurrent_tokens = int(parse_positive("--rec-tokens", o.get("rec-tokens")));
    if (o.has("out-vblock")) bo.run.output_vblock = int(parse_positive("--out-vblock", o.get("out-vblock")));
    if (o.has("out-ktile")) bo.run.output_ktile = int(parse_positive("--out-ktile", o.get("out-ktile")));
    bo.device = o.get("device");
    bo.pipeline_statistics = o.has("pipeline-stats");
    const bool check = bo.check, verbose = bo.describe;

    ScanBench bench(bo);
    std::printf("device: %s (%s), Vulkan %s\n", bench.device_name().c_str(), bench.device_type().c_str(),
                bench.api_version().c_str());
    std::printf("float32 inputs and state (chunked-f16: float16 q, k, v), K=%d V=%d, chunk %d, median of %d runs "
                "(GPU timestamps)\n",
                bo.K, bo.V, bo.run.chunk, bo.repeat);
    if (!bench.timestamps()) std::printf("(no timestamps on this device: times are host wall-clock)\n");
    std::printf("%-24s %-11s %4s %6s %5s %10s %9s %9s  %s\n", "kind", "form", "B", "T", "H", "ms", "GB/s", "TFLOP/s",
                check ? "vs float64 / chunked vs recurrent (rel. L2) / stages" : "stages");

    const int failures = bench.run([&](const ScanBenchRow& r) {
        const char* kind = transition_name(r.kind);
        const char* form = scan_form_name(r.form);
        if (verbose && !r.plan.empty()) std::printf("  %s %s: %s\n", kind, form, r.plan.c_str());
        switch (r.status) {
        case ScanBenchRow::Status::Skipped:
            std::printf("%-24s %-11s %4d %6d %5d  skipped: %s\n", kind, "-", r.B, r.T, r.H, r.message.c_str());
            return;
        case ScanBenchRow::Status::NotApplicable:
            std::printf("%-24s %-11s %4d %6d %5d %10s\n", kind, form, r.B, r.T, r.H, "n/a");
            return;
        case ScanBenchRow::Status::Failed:
            std::printf("%-24s %-11s %4d %6d %5d  failed: %s\n", kind, form, r.B, r.T, r.H, r.message.c_str());
            return;
        case ScanBenchRow::Status::Timed: break;
        }
        std::printf("%-24s %-11s %4d %6d %5d %10.3f %9.1f %9.3f  %s\n", kind, form, r.B, r.T, r.H, r.ms, r.gb_per_s,
                    r.tflop_per_s, r.note.c_str());
        if (r.has_profile) {
            const TensorCoreProfile& p = r.profile;
            std::printf("  cycles per chunk (%d workgroups, %d chunks; subgroup 0's SM clock): total %.0f\n",
                        p.workgroups, p.chunks, p.total);
            for (const auto& [name, cycles] : p.phases)
                std::printf("    %-30s %8.0f  %5.1f%%\n", name.c_str(), cycles, 100.0 * cycles / std::max(1.0, p.total));
        }
        std::fflush(stdout);
    });
    std::printf("GB/s: each input read once, outputs and state written once; TFLOP/s: the form's own algorithm.\n");
    if (o.has("pipeline-stats")) {
        if (!bench.captures_pipeline_statistics())
            std::printf("pipeline statistics: %s lacks VK_KHR_pipeline_executable_properties\n", bench.device_name().c_str());
        for (const std::string& line : bench.pipeline_statistics()) std::printf("pipeline %s\n", line.c_str());
    }
    if (failures) std::printf("%d failures (see above)\n", failures);
    return failures ? 1 : 0;
}

} // namespace statescope::cli
