// The Vulkan runtime around the kernels: device selection (pure rule, flag and environment
// variable), the kernel table reflected from the SPIR-V, buffers, the dispatcher's checks against
// that table, timestamps, and errors for out-of-memory and device loss. Device-free parts always
// run; the rest skips only when no Vulkan device exists at all.
#include "statescope/error.h"
#include "gpu/scan_kernels.h"
#include "test_support.h"
#include "vulkan/buffer.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include <QtTest>
#include <cstdlib>
#include <numeric>

using namespace statescope;
using namespace statescope::vk;
using statescope::gpu::ScanBuffers;
using statescope::gpu::ScanForm;
using statescope::gpu::ScanKernels;
using statescope::gpu::ScanRunOptions;
using statescope::gpu::ScanTiming;

namespace {

DeviceInfo fake(int index, const char* name, VkPhysicalDeviceType type, bool usable = true) {
    DeviceInfo d;
    d.index = index;
    d.name = name;
    d.type = type;
    d.usable = usable;
    if (!usable) d.unusable_reason = "Vulkan 1.0.0 (1.1 or newer needed)";
    return d;
}

bool have_device() {
    static const bool ok = VulkanContext::any_device_available();
    return ok;
}

#define REQUIRE_DEVICE()                                                                          \
    do {                                                                                          \
        if (!have_device()) QSKIP("no Vulkan device on this machine (install mesa-vulkan-drivers)"); \
    } while (0)

ContextOptions validated() {
    ContextOptions o;
    o.validation = true;
    o.require_validation = true;
    return o;
}

} // namespace

class TestVulkanRuntime : public QObject {
    Q_OBJECT
private slots:
    void selection_prefers_discrete_then_integrated_then_cpu() {
        std::vector<DeviceInfo> devs = {fake(0, "llvmpipe (LLVM 15)", VK_PHYSICAL_DEVICE_TYPE_CPU),
                                        fake(1, "Intel UHD 770", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
                                        fake(2, "NVIDIA H100", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)};
        QCOMPARE(choose_device(devs, ""), 2);
        devs.pop_back();
        QCOMPARE(choose_device(devs, ""), 1);
        devs.pop_back();
        QCOMPARE(choose_device(devs, ""), 0);
        // An unusable discrete GPU is passed over.
        devs = {fake(0, "llvmpipe", VK_PHYSICAL_DEVICE_TYPE_CPU), fake(1, "Old GPU", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, false)};
        QCOMPARE(choose_device(devs, ""), 0);
    }

    void selection_by_index_or_name() {
        std::vector<DeviceInfo> devs = {fake(0, "llvmpipe (LLVM 15)", VK_PHYSICAL_DEVICE_TYPE_CPU),
                                        fake(1, "NVIDIA H100 80GB HBM3", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
                                        fake(2, "Old GPU", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, false)};
        QCOMPARE(choose_device(devs, "0"), 0);
        QCOMPARE(choose_device(devs, "LLVMpipe"), 0);
        QCOMPARE(choose_device(devs, "h100"), 1);
        try {
            choose_device(devs, "radeon");
            QFAIL("a request matching nothing must throw");
        } catch (const Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.contains("radeon") && msg.contains("llvmpipe") && msg.contains("H100"), qPrintable(msg));
        }
        QVERIFY_THROWS_EXCEPTION(Error, choose_device(devs, "7"));
        QVERIFY_THROWS_EXCEPTION(Error, choose_device(devs, "Old GPU")); // matches, but unusable
        QVERIFY_THROWS_EXCEPTION(Error, choose_device({}, ""));
    }

    void failure_messages_explain_device_loss_and_memory() {
        const QString lost = QString::fromStdString(vk_failure_message(VK_ERROR_DEVICE_LOST, "vkQueueSubmit"));
        QVERIFY2(lost.contains("vkQueueSubmit") && lost.contains("VK_ERROR_DEVICE_LOST") && lost.contains("lost"), qPrintable(lost));
        const QString oom = QString::fromStdString(vk_failure_message(VK_ERROR_OUT_OF_DEVICE_MEMORY, "allocating 3 GiB"));
        QVERIFY2(oom.contains("out of memory"), qPrintable(oom));
        QVERIFY_THROWS_EXCEPTION(VulkanError, check_vk(VK_ERROR_DEVICE_LOST, "x"));
        check_vk(VK_SUCCESS, "x");
        check_vk(VK_INCOMPLETE, "x"); // status codes are not failures
    }

    void devices_are_listed_with_capabilities() {
        REQUIRE_DEVICE();
        const auto devs = VulkanContext::list_devices();
        QVERIFY(!devs.empty());
        for (const auto& d : devs) {
            QVERIFY(!d.name.empty());
            if (!d.usable) continue;
            QVERIFY(d.subgroup_size >= 1);
            QVERIFY(d.max_shared_memory >= 16384);       // Vulkan's minimum
            QVERIFY(d.max_storage_buffer_range >= (1u << 27));
            QVERIFY(!subgroup_ops_string(d.subgroup_ops).empty());
        }
    }

    void environment_variable_selects_device() {
        REQUIRE_DEVICE();
        const auto devs = VulkanContext::list_devices();
        int usable = -1;
        for (const auto& d : devs)
            if (d.usable) usable = d.index;
        QVERIFY(usable >= 0);
        qputenv("STATESCOPE_VULKAN_DEVICE", QByteArray::number(usable));
        {
            VulkanContext ctx;
            QCOMPARE(ctx.device().index, usable);
        }
        qputenv("STATESCOPE_VULKAN_DEVICE", "no such device anywhere");
        QVERIFY_THROWS_EXCEPTION(Error, VulkanContext());
        // An explicit option wins over the environment.
        ContextOptions o;
        o.device = std::to_string(usable);
        VulkanContext ctx(o);
        QCOMPARE(ctx.device().index, usable);
        qunsetenv("STATESCOPE_VULKAN_DEVICE");
    }

    void buffers_round_trip() {
        REQUIRE_DEVICE();
        VulkanContext ctx(validated());
        std::vector<float> data(100003);
        std::iota(data.begin(), data.end(), -5.0f);
        for (MemoryKind kind : {MemoryKind::Device, MemoryKind::Host}) {
            Buffer b(ctx, data.size() * sizeof(float), kind, "round trip");
            upload(ctx, b, data.data(), data.size() * sizeof(float));
            std::vector<float> back(data.size());
            download(ctx, b, back.data(), back.size() * sizeof(float));
            QVERIFY(back == data);
            // Partial transfers at an offset.
            std::vector<float> part(10);
            download(ctx, b, part.data(), part.size() * sizeof(float), 500 * sizeof(float));
            QCOMPARE(part[0], data[500]);
            QVERIFY_THROWS_EXCEPTION(Error, download(ctx, b, part.data(), 64, b.size() - 8));
        }
        testsupport::expect_no_validation_errors(ctx);
    }

    void sync_validation_reports_a_missing_barrier() {
        // The *_syncval tests (STATESCOPE_VULKAN_SYNC_VALIDATION=1) rely on the layer checking
        // synchronization: two copies into one buffer without a barrier between them must be
        // reported, or those tests' "no validation error" would prove nothing.
        const char* sync = std::getenv("STATESCOPE_VULKAN_SYNC_VALIDATION");
        if (!sync || std::string(sync) != "1") QSKIP("synchronization validation is off (test_vulkan_runtime_syncval turns it on)");
        REQUIRE_DEVICE();
        VulkanContext ctx(validated());
        QVERIFY(ctx.sync_validation_enabled());
        Buffer a(ctx, 4096, MemoryKind::Device, "a"), b(ctx, 4096, MemoryKind::Device, "b"), c(ctx, 4096, MemoryKind::Device, "c");
        CommandBatch batch(ctx);
        batch.begin();
        batch.copy(a, 0, c, 0, 4096);
        batch.copy(b, 0, c, 0, 4096); // write after write
        batch.submit_and_wait();
        QVERIFY2(ctx.validation_counts().errors > 0, "no synchronization error reported for two unordered copies into one buffer");
        // With the barrier the same copies are clean.
        VulkanContext clean(validated());
        Buffer d(clean, 4096, MemoryKind::Device, "d"), e(clean, 4096, MemoryKind::Device, "e");
        CommandBatch ordered(clean);
        ordered.begin();
        ordered.copy(d, 0, e, 0, 4096);
        ordered.barrier();
        ordered.copy(d, 0, e, 0, 4096);
        ordered.submit_and_wait();
        testsupport::expect_no_validation_errors(clean);
    }

    void kernel_table_reflects_the_spirv() {
        // From the SPIR-V of shaders/ops_elementwise.comp: bindings 0..2 and its push block.
        const KernelInterface& e = kernel_interface(Kernel::ops_elementwise);
        QCOMPARE(QString(e.name), QString("ops_elementwise"));
        QCOMPARE(e.bindings, 3u);
        QCOMPARE(e.binding_mask, uint64_t(0x7));
        QCOMPARE(e.push_bytes, 88u);   // ElementwisePush: 22 words (shaders/common/ops_push.h)
        QVERIFY(!kernel_spirv(Kernel::ops_elementwise).empty());
        // A scan kernel declares only the bindings of the shared layout it uses.
        const KernelInterface& g = kernel_interface(Kernel::scan_chunk_gates);
        QVERIFY(g.bindings > 0 && (g.binding_mask >> (g.bindings - 1) & 1));
        QVERIFY(g.binding_mask != (uint64_t(1) << g.bindings) - 1);
        for (uint32_t k = 0; k < kKernelCount; ++k)
            QVERIFY2(!kernel_spirv(Kernel(k)).empty(), kKernelInterfaces[k].name);
    }

    void dispatcher_checks_calls_against_the_kernel_table() {
        REQUIRE_DEVICE();
        VulkanContext ctx(validated());
        Buffer dst(ctx, 256, MemoryKind::Device, "dst"), a(ctx, 256, MemoryKind::Device, "a"),
            bb(ctx, 256, MemoryKind::Device, "b");
        PipelineDesc desc;
        desc.kernel = Kernel::ops_elementwise;
        ComputePipeline& pipe = ctx.pipeline(desc);
        QCOMPARE(&ctx.pipeline(desc), &pipe); // cached
        // A zero push block is a valid call that does nothing (rows = cols = 0); one spare word
        // makes room for a block that is too long.
        const size_t push_bytes = kernel_push_bytes(Kernel::ops_elementwise);
        const std::vector<uint32_t> words(push_bytes / 4 + 1, 0u);
        const void* push = words.data();
        const std::vector<const Buffer*> three = {&dst, &a, &bb}, two = {&dst, &a}, four = {&dst, &a, &bb, &bb};
        CommandBatch batch(ctx);
        batch.begin();
        auto refused = [&](auto&& call, const char* why) {
            try {
                call();
                QFAIL(qPrintable(QString("accepted a dispatch with ") + why));
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("ops_elementwise"), e.what()); // names the kernel
            }
        };
        refused([&] { batch.dispatch(pipe, three, push, push_bytes - 4, 1); }, "a push block 4 bytes short");
        refused([&] { batch.dispatch(pipe, three, push, push_bytes + 4, 1); }, "a push block 4 bytes long");
        refused([&] { batch.dispatch(pipe, two, push, push_bytes, 1); }, "two buffers for three bindings");
        refused([&] { batch.dispatch(pipe, four, push, push_bytes, 1); }, "four buffers for three bindings");
        refused([&] { batch.dispatch(pipe, {&dst, nullptr, &bb}, push, push_bytes, 1); }, "no buffer at binding 1");
        refused([&] { batch.dispatch(pipe, three, push, push_bytes, 0); }, "no workgroups");
        batch.dispatch(pipe, three, push, push_bytes, 1); // the call the SPIR-V declares
        batch.submit_and_wait();
        testsupport::expect_no_validation_errors(ctx);
    }

    void timestamps_time_each_stage() {
        REQUIRE_DEVICE();
        VulkanContext ctx(validated());
        if (!ctx.device().timestamps) QSKIP("this device has no timestamps on its compute queue");
        std::mt19937 rng(4);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::DeltaRule, 300, 2, 16, 16, 1, rng);
        ScanKernels kernels(ctx);
        ScanBuffers b = kernels.upload(in, nullptr);
        ScanRunOptions opt;
        opt.form = ScanForm::Chunked;
        const ScanTiming t = kernels.run(b, opt);
        QStringList names;
        for (const auto& [name, ms] : t.stages_ms) {
            names << QString::fromStdString(name);
            QVERIFY2(ms >= 0 && ms < 60000, qPrintable(QString("%1: %2 ms").arg(QString::fromStdString(name)).arg(ms)));
        }
        QCOMPARE(names, QStringList({"gates", "wy", "state pass", "outputs"}));
        QVERIFY(t.gpu_ms > 0);
        testsupport::expect_no_validation_errors(ctx);
    }

    void out_of_memory_is_an_error_not_a_crash() {
        REQUIRE_DEVICE();
        // No validation here: asking for more than the device can hold is exactly what we test.
        VulkanContext ctx;
        const size_t huge = size_t(1) << 50; // 1 PiB
        try {
            Buffer b(ctx, huge, MemoryKind::Device, "impossible");
            QFAIL("allocating 1 PiB must fail");
        } catch (const Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.contains("impossible"), qPrintable(msg));
        }
        // The context is still usable afterwards.
        Buffer ok(ctx, 1024, MemoryKind::Device, "small");
        QVERIFY(ok.valid());
    }

    void device_loss_is_reported_and_sticky() {
        REQUIRE_DEVICE();
        VulkanContext ctx;
        try {
            ctx.check(VK_ERROR_DEVICE_LOST, "simulated submission");
            QFAIL("device loss must throw");
        } catch (const VulkanError& e) {
            QVERIFY(e.device_lost());
        }
        QVERIFY(ctx.lost());
        // Later work fails at once with a message instead of touching the device.
        try {
            Buffer b(ctx, 64, MemoryKind::Device, "after loss");
            QFAIL("work after a device loss must throw");
        } catch (const VulkanError& e) {
            QVERIFY(e.device_lost());
            QVERIFY2(QString(e.what()).contains("lost"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestVulkanRuntime)
#include "test_vulkan_runtime.moc"
