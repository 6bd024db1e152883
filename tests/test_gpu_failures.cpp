// GPU failures come back as messages, and a lenient request (the app's) keeps running on the CPU
// reference: out of device memory (forced by STATESCOPE_GPU_MEMORY_LIMIT, which the allocator
// honours) and device loss (forced by STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT, which makes the N-th
// queue submission report VK_ERROR_DEVICE_LOST). Each limit or submission count is swept, so the
// failure lands in every place it can: while the weights upload (the model opens on the CPU) and
// in the middle of a forward pass (the call and all later ones run on the CPU). In every case the
// logits equal the CPU reference's, and a strict request (a command-line flag) gets the error.
// Skips only when no Vulkan device exists at all (CI has lavapipe).
#include "statescope/backend.h"
#include "statescope/error.h"
#include "statescope/model.h"
#include "vulkan/context.h"

#include <QtTest>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace statescope;

namespace {

const std::string kModel = std::string(STATESCOPE_SOURCE_DIR) + "/assets/models/parity-deltanet-negeig";
const std::vector<int32_t> kTokens = {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0};

struct Outcome {
    std::string where;  // "open" (ran on the CPU from the start), "forward" (fell back mid-run), "none"
    std::string message;
    std::vector<float> logits;
};

// Opens the model leniently on Vulkan with the environment as set and runs the tokens twice (the
// second call shows that a fallen-back model keeps working with the same state).
Outcome run_lenient(const std::shared_ptr<Model>& cpu) {
    BackendRequest req;
    req.kind = BackendKind::Vulkan;
    req.strict = false;
    Backends backends(req);
    OpenedModel m = backends.open(cpu);
    Outcome o;
    SequenceState st = m.model()->initial_state();
    ForwardOptions fo;
    fo.all_logits = true;
    ForwardResult r = m.model()->forward(std::span(kTokens).first(5), st, fo);
    ForwardResult r2 = m.model()->forward(std::span(kTokens).subspan(5), st, fo);
    o.logits = r.logits.data;
    o.logits.insert(o.logits.end(), r2.logits.data.begin(), r2.logits.data.end());
    if (m.backend() == BackendKind::Cpu) {
        o.where = "open";
        o.message = m.description();
    } else if (!m.fallback_reason().empty()) {
        o.where = "forward";
        o.message = m.fallback_reason();
        // Models opened later run on the CPU and say why when the device is gone.
        if (o.message.find("VK_ERROR_DEVICE_LOST") != std::string::npos) {
            OpenedModel again = backends.open(cpu);
            if (again.backend() != BackendKind::Cpu || again.description().find("was lost") == std::string::npos)
                o.where = "reopened on a lost device: " + again.description();
        }
    } else {
        o.where = "none";
    }
    return o;
}

std::vector<float> cpu_logits(const std::shared_ptr<Model>& cpu) {
    SequenceState st = cpu->initial_state();
    ForwardOptions fo;
    fo.all_logits = true;
    ForwardResult r = cpu->forward(kTokens, st, fo);
    return r.logits.data;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    float d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
    return d;
}

} // namespace

class TestGpuFailures : public QObject {
    Q_OBJECT
    std::shared_ptr<Model> cpu_;
    std::vector<float> expected_;

private slots:
    void initTestCase() {
        std::string why;
        if (!vk::VulkanContext::any_device_available(&why)) QSKIP(qPrintable("no Vulkan device: " + QString::fromStdString(why)));
        cpu_ = std::shared_ptr<Model>(load_model(kModel));
        expected_ = cpu_logits(cpu_);
    }
    void cleanup() {
        unsetenv("STATESCOPE_GPU_MEMORY_LIMIT");
        unsetenv("STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT");
    }

    void device_loss_anywhere_falls_back_to_the_cpu() {
        int at_open = 0, mid_run = 0;
        for (int n = 1; n < 400; ++n) {
            setenv("STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT", std::to_string(n).c_str(), 1);
            const Outcome o = run_lenient(cpu_);
            QVERIFY2(o.where == "open" || o.where == "forward" || o.where == "none", o.where.c_str());
            if (o.where == "none") break; // the run needs fewer than n submissions
            QVERIFY2(o.message.find("VK_ERROR_DEVICE_LOST") != std::string::npos || o.message.find("lost") != std::string::npos,
                     o.message.c_str());
            // The CPU ran the calls that failed on the GPU: the logits are the reference's (the
            // calls before the loss ran on the GPU, within its usual error).
            QVERIFY2(max_diff(o.logits, expected_) < 1e-4f, qPrintable(QString("n=%1: logits differ by %2").arg(n).arg(max_diff(o.logits, expected_))));
            (o.where == "open" ? at_open : mid_run)++;
        }
        qInfo("device lost while opening in %d cases, during a forward pass in %d", at_open, mid_run);
        QVERIFY(mid_run >= 2); // the first and the second call
    }

    void out_of_memory_anywhere_falls_back_to_the_cpu() {
        int at_open = 0, mid_run = 0;
        for (double limit = 4096; limit < 1e9; limit *= 1.15) {
            setenv("STATESCOPE_GPU_MEMORY_LIMIT", std::to_string(size_t(limit)).c_str(), 1);
            const Outcome o = run_lenient(cpu_);
            QVERIFY2(o.where == "open" || o.where == "forward" || o.where == "none", o.where.c_str());
            QVERIFY2(max_diff(o.logits, expected_) < 1e-4f, qPrintable(QString("limit %1: logits differ").arg(limit)));
            if (o.where == "none") break;
            QVERIFY2(o.message.find("STATESCOPE_GPU_MEMORY_LIMIT") != std::string::npos, o.message.c_str());
            (o.where == "open" ? at_open : mid_run)++;
        }
        qInfo("out of memory while opening in %d cases, during a forward pass in %d", at_open, mid_run);
        QVERIFY(mid_run > 0);
    }

    void a_strict_request_gets_the_error() {
        setenv("STATESCOPE_GPU_MEMORY_LIMIT", "4K", 1);
        BackendRequest req;
        req.kind = BackendKind::Vulkan;
        req.strict = true;
        Backends backends(req);
        try {
            OpenedModel m = backends.open(cpu_); // the weights go to the device with the first pass
            SequenceState st = m.model()->initial_state();
            m.model()->forward(kTokens, st);
            QFAIL("expected an out-of-memory error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("STATESCOPE_GPU_MEMORY_LIMIT") != std::string::npos, e.what());
        }
    }

    void a_bad_limit_is_named() {
        setenv("STATESCOPE_GPU_MEMORY_LIMIT", "lots", 1);
        BackendRequest req;
        req.kind = BackendKind::Vulkan;
        req.strict = true;
        try {
            Backends backends(req);
            backends.prepare_device();
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("STATESCOPE_GPU_MEMORY_LIMIT='lots'") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestGpuFailures)
#include "test_gpu_failures.moc"
