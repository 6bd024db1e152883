// The Vulkan runtime around the kernels: device selection (pure rule, flag and environment
// variable), buffers, the dispatcher's interface checks, timestamps, errors for out-of-memory and
// device loss, and the worker thread that owns the device (futures, errors, dropped stale work,
// reopening after a device loss). Device-free parts always run; the rest skips only when no
// Vulkan device exists at all.
#include "core/error.h"
#include "test_support.h"
#include "vulkan/buffer.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"
#include "vulkan/scan_kernels.h"
#include "vulkan/worker.h"

#include <QtTest>
#include <atomic>
#include <cstdlib>
#include <numeric>

using namespace statescope;
using namespace statescope::vk;

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

    void dispatcher_checks_the_pipeline_interface() {
        REQUIRE_DEVICE();
        VulkanContext ctx(validated());
        std::mt19937 rng(3);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::Scalar, 5, 1, 4, 4, 1, rng);
        ScanKernels kernels(ctx);
        ScanBuffers b = kernels.upload(in, nullptr);
        PipelineDesc desc;
        desc.module = "scan_recurrent";
        desc.spec = {{0, 64}, {1, 1}, {2, 1}, {3, 4}};
        desc.bindings = 14;
        desc.push_bytes = 48;
        ComputePipeline& pipe = ctx.pipeline(desc);
        QCOMPARE(&ctx.pipeline(desc), &pipe); // cached
        CommandBatch batch(ctx);
        batch.begin();
        const std::vector<const Buffer*> too_few = {&b.q, &b.k};
        uint32_t push[12] = {};
        QVERIFY_THROWS_EXCEPTION(Error, batch.dispatch(pipe, too_few, push, sizeof push, 1));
        std::vector<const Buffer*> all(14, &b.q);
        QVERIFY_THROWS_EXCEPTION(Error, batch.dispatch(pipe, all, push, 16, 1));       // wrong push size
        QVERIFY_THROWS_EXCEPTION(Error, batch.dispatch(pipe, all, push, sizeof push, 0)); // no workgroups
        batch.submit_and_wait(); // an empty batch is fine
        PipelineDesc missing = desc;
        missing.module = "no_such_shader";
        QVERIFY_THROWS_EXCEPTION(Error, ctx.pipeline(missing));
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

    void worker_runs_jobs_and_returns_results() {
        REQUIRE_DEVICE();
        VulkanWorker worker(validated());
        QVERIFY(!worker.device().name.empty());
        std::mt19937 rng(9);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::Diagonal, 40, 3, 8, 6, 1, rng);
        auto fut = worker.submit([in](VulkanContext& ctx) {
            Tensor S({in.H, in.K, in.V}), o({in.T, in.H, in.V});
            gpu_scan(ctx, in, S.ptr(), o.ptr());
            return o;
        });
        Tensor o_cpu({in.T, in.H, in.V}), S_cpu({in.H, in.K, in.V});
        scan_recurrent(in, S_cpu.ptr(), o_cpu.ptr());
        const Tensor o_gpu = fut.get();
        QVERIFY(relative_l2(o_gpu.ptr(), o_cpu.ptr(), o_cpu.data.size()) < 2e-5);
        // Errors travel through the future.
        auto bad = worker.submit([](VulkanContext&) -> int { throw Error("job failed on purpose"); });
        QVERIFY_THROWS_EXCEPTION(Error, bad.get());
        auto counts = worker.submit([](VulkanContext& ctx) { return ctx.validation_counts(); }).get();
        QCOMPARE(counts.errors, 0);
    }

    void worker_drops_stale_work() {
        REQUIRE_DEVICE();
        VulkanWorker worker;
        // Hold the worker busy until the queue is set up.
        std::promise<void> release;
        std::shared_future<void> gate = release.get_future().share();
        auto blocker = worker.submit([gate](VulkanContext&) { gate.wait(); return 1; });
        std::atomic<int> ran{0};
        auto first = worker.submit([&ran](VulkanContext&) { ran += 1; return 10; }, "view");
        auto other = worker.submit([&ran](VulkanContext&) { ran += 100; return 20; }, "other lane");
        auto second = worker.submit([&ran](VulkanContext&) { ran += 1000; return 30; }, "view");
        // 'first' was dropped the moment 'second' arrived, while the worker was still busy.
        QVERIFY(first.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        QVERIFY(worker.queued() >= 2);
        release.set_value();
        QCOMPARE(blocker.get(), 1);
        QVERIFY_THROWS_EXCEPTION(StaleWorkError, first.get());
        QCOMPARE(other.get(), 20);
        QCOMPARE(second.get(), 30);
        QCOMPARE(ran.load(), 1100);
    }

    void worker_reopens_the_device_after_a_loss() {
        REQUIRE_DEVICE();
        VulkanWorker worker;
        auto lose = worker.submit([](VulkanContext& ctx) { ctx.check(VK_ERROR_DEVICE_LOST, "simulated"); return 0; });
        try {
            lose.get();
            QFAIL("the simulated loss must reach the caller");
        } catch (const VulkanError& e) {
            QVERIFY(e.device_lost());
        }
        auto after = worker.submit([](VulkanContext& ctx) {
            Buffer b(ctx, 256, MemoryKind::Device, "after reopen");
            return !ctx.lost() && b.valid();
        });
        QVERIFY(after.get());
    }

    void worker_shutdown_drops_queued_jobs() {
        REQUIRE_DEVICE();
        std::future<int> queued;
        std::promise<void> release;
        std::shared_future<void> gate = release.get_future().share();
        {
            auto worker = std::make_unique<VulkanWorker>();
            std::promise<void> started;
            auto blocker = worker->submit([gate, &started](VulkanContext&) {
                started.set_value();
                gate.wait();
                return 0;
            });
            started.get_future().wait(); // the blocker runs: it is no longer in the queue
            queued = worker->submit([](VulkanContext&) { return 1; });
            // Shut down from another thread while the blocker runs; then let the blocker finish.
            std::thread stopper([&] { worker.reset(); });
            QTRY_VERIFY_WITH_TIMEOUT(queued.wait_for(std::chrono::seconds(0)) == std::future_status::ready, 5000);
            release.set_value();
            stopper.join();
            QCOMPARE(blocker.get(), 0);
        }
        QVERIFY_THROWS_EXCEPTION(StaleWorkError, queued.get());
    }
};

QTEST_GUILESS_MAIN(TestVulkanRuntime)
#include "test_vulkan_runtime.moc"
