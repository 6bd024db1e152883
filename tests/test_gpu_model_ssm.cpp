// The GPU forward of Mamba, Mamba-2, HGRN2 and RetNet (their Mixer::forward_gpu) against the CPU
// forward, which verify already holds to the libraries' own outputs: logits, hidden states and the
// library's cache after a random 300-token prompt (long enough for the chunked scan, which starts
// at 64 positions, and not a multiple of its chunk), then after a few single-token decoding steps
// (the recurrent scan continuing from that state); the same on random-weight models of the
// configurations the reference folders leave out; and `verify` on the GPU against the reference
// folders at the default tolerance. Runs under the validation layer where it is installed and
// checks that it reported no error. Skips only when no Vulkan device exists at all.
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "gpu/gpu_model.h"
#include "statescope/model.h"
#include "test_support.h"
#include "statescope/verify.h"
#include "vulkan/context.h"

#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <iterator>
#include <memory>
#include <random>

using namespace statescope;

namespace {

constexpr double kTolerance = 1e-4;   // verify's default tolerance, relative L2

QString relative_error_message(const QString& what, double err) {
    return QString("%1: relative L2 error %2 (tolerance %3)").arg(what).arg(err).arg(kTolerance);
}

// Fails the test when gpu differs from cpu by kTolerance or more; the largest error seen so far
// goes to *largest (printed, not judged: it shows the margin).
void expect_close(const Tensor& gpu, const Tensor& cpu, const QString& what, double* largest = nullptr) {
    QVERIFY2(gpu.shape == cpu.shape, qPrintable(what + ": shapes differ"));
    const double err = relative_l2(gpu.ptr(), cpu.ptr(), gpu.data.size());
    if (largest) *largest = std::max(*largest, err);
    QVERIFY2(err < kTolerance, qPrintable(relative_error_message(what, err)));
}

void expect_same_library_state(const Model& cpu_model, const SequenceState& gpu_state, const SequenceState& cpu_state,
                               const QString& when) {
    const std::vector<NamedTensor> g = cpu_model.library_state(gpu_state);
    const std::vector<NamedTensor> c = cpu_model.library_state(cpu_state);
    QCOMPARE(g.size(), c.size());
    QVERIFY(!c.empty());
    double largest = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        QVERIFY2(g[i].name == c[i].name, qPrintable(when + " names differ: " + QString::fromStdString(g[i].name)));
        expect_close(g[i].tensor, c[i].tensor, when + " " + QString::fromStdString(c[i].name), &largest);
        if (QTest::currentTestFailed()) return;
    }
    qInfo("%s %zu cache tensors, largest relative L2 error %.3e", qPrintable(when), c.size(), largest);
}

// Random-weight configurations (Checkpoint::synthetic) for the code paths the reference models
// leave out: Mamba without intermediate_size, odd d_state, biases; Mamba-2 with several groups
// and a finite time_step_limit (the clamp); HGRN2 with short convolutions and three layers of
// lower bounds; RetNet with grouped kv heads, K != V, a feature map, an odd number of heads of
// K = 10 (the rotary kernel's awkward sizes), and without the output gate.
const testsupport::SyntheticConfig kSynthetic[] = {
    {"mamba expand 1.5 d_state 7 rank 5 conv 3 biases",
     R"({"model_type": "mamba", "hidden_size": 40, "num_hidden_layers": 2, "expand": 1.5, "state_size": 7,
         "time_step_rank": 5, "conv_kernel": 3, "use_bias": true, "use_conv_bias": false, "vocab_size": 300})"},
    {"mamba2 6 heads 3 groups d_state 10 dt limit",
     R"({"model_type": "mamba2", "hidden_size": 48, "num_hidden_layers": 2, "expand": 2, "num_heads": 6,
         "head_dim": 16, "n_groups": 3, "state_size": 10, "time_step_limit": [0.01, 0.5], "use_bias": true,
         "vocab_size": 300})"},
    {"hgrn2 short conv 3 layers K12",
     R"({"model_type": "hgrn2", "hidden_size": 48, "num_hidden_layers": 3, "expand_ratio": 12,
         "use_short_conv": true, "conv_size": 3, "vocab_size": 300})"},
    {"retnet 4 heads 2 kv heads K12 V18 relu",
     R"({"model_type": "retnet", "hidden_size": 48, "num_hidden_layers": 2, "num_heads": 4, "num_kv_heads": 2,
         "expand_k": 1.0, "expand_v": 1.5, "feature_map": "relu", "vocab_size": 300})"},
    {"retnet 3 heads K10 V20 without output gate",
     R"({"model_type": "retnet", "hidden_size": 30, "num_hidden_layers": 2, "num_heads": 3,
         "use_output_gate": false, "vocab_size": 300})"},
};

} // namespace

class TestGpuModelSsm : public QObject {
    Q_OBJECT
    std::unique_ptr<vk::VulkanContext> ctx_;

    std::string model_dir(const QString& family) const {
        return testsupport::reference_dir() + "/models/" + family.toStdString();
    }

    void check_validation() { testsupport::expect_no_validation_errors(*ctx_); }

    static void add_families() {
        QTest::addColumn<QString>("family");
        for (const char* f : {"mamba", "mamba2", "hgrn2", "retnet"}) QTest::newRow(f) << QString(f);
    }

private slots:
    void initTestCase() {
        std::string why;
        if (!vk::VulkanContext::any_device_available(&why))
            QSKIP(qPrintable(QString("no Vulkan device on this machine (%1); install mesa-vulkan-drivers for lavapipe")
                                 .arg(QString::fromStdString(why))));
        vk::ContextOptions opt;
        opt.validation = true;
        opt.require_validation = false;
        ctx_ = std::make_unique<vk::VulkanContext>(opt);
        qInfo("device: %s, validation %s", ctx_->device().name.c_str(), ctx_->validation_enabled() ? "on" : "off");
    }

    void long_prompt_matches_cpu_data() { add_families(); }
    void long_prompt_matches_cpu() {
        QFETCH(QString, family);
        std::shared_ptr<Model> cpu;
        std::unique_ptr<gpu::GpuModel> gpu_model;
        try {
            cpu = load_model(model_dir(family));
            gpu_model = std::make_unique<gpu::GpuModel>(cpu, *ctx_);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        const gpu::GpuModel& gpu = *gpu_model;

        std::mt19937 rng(4242 + uint32_t(family.size()));
        std::uniform_int_distribution<int32_t> token(0, int32_t(cpu->info().vocab_size) - 1);
        std::vector<int32_t> prompt(300);
        for (int32_t& t : prompt) t = token(rng);

        ForwardOptions opt;
        opt.all_logits = true;
        opt.hidden_states = true;
        SequenceState cs = cpu->initial_state(), gs = gpu.initial_state();
        const ForwardResult c = cpu->forward(prompt, cs, opt);
        const ForwardResult g = gpu.forward(prompt, gs, opt);
        double logits_err = 0, hidden_err = 0;
        expect_close(g.logits, c.logits, family + " logits of 300 tokens", &logits_err);
        QCOMPARE(g.hidden.size(), c.hidden.size());
        for (size_t i = 0; i < c.hidden.size(); ++i)
            expect_close(g.hidden[i], c.hidden[i], family + QString(" hidden.%1").arg(i), &hidden_err);
        qInfo("%s 300 tokens: logits relative L2 error %.3e, hidden states at most %.3e", qPrintable(family),
              logits_err, hidden_err);
        expect_same_library_state(*cpu, gs, cs, family + " after 300 tokens:");
        if (QTest::currentTestFailed()) return;

        // Decoding from that state, one token per call.
        for (int step = 0; step < 3; ++step) {
            const int32_t t = token(rng);
            const ForwardResult cd = cpu->forward(std::span<const int32_t>(&t, 1), cs);
            const ForwardResult gd = gpu.forward(std::span<const int32_t>(&t, 1), gs);
            expect_close(gd.logits, cd.logits, family + QString(" logits of decoding step %1").arg(step));
        }
        expect_same_library_state(*cpu, gs, cs, family + " after 3 decoding steps:");
        check_validation();
    }

    // A synthetic model fed in pieces: 37 tokens through the recurrent scan, 263 through the
    // chunked one from the state the first piece left, then three decoding steps.
    void synthetic_model_matches_cpu_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < std::size(kSynthetic); ++i) QTest::newRow(kSynthetic[i].name) << int(i);
    }
    void synthetic_model_matches_cpu() {
        QFETCH(int, index);
        QTemporaryDir tmp;
        const std::shared_ptr<Model> cpu = testsupport::load_synthetic(tmp.path(), kSynthetic[index].json, 11);
        if (!cpu) return;
        std::unique_ptr<gpu::GpuModel> gpu_model;
        try {
            gpu_model = std::make_unique<gpu::GpuModel>(cpu, *ctx_);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        testsupport::Agreement worst;
        testsupport::compare_in_pieces(*cpu, *gpu_model, {37, 263, 1, 1, 1}, 777u + uint32_t(index), kTolerance, false,
                                       worst);
        if (QTest::currentTestFailed()) return;
        qInfo("%s: logits relative L2 error at most %.3e, cache tensors %.3e", kSynthetic[index].name, worst.logits,
              worst.state);
        check_validation();
    }

    void verify_on_gpu_data() { add_families(); }
    void verify_on_gpu() {
        QFETCH(QString, family);
        std::shared_ptr<Model> cpu;
        std::unique_ptr<gpu::GpuModel> gpu_model;
        try {
            cpu = load_model(model_dir(family));
            gpu_model = std::make_unique<gpu::GpuModel>(cpu, *ctx_);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        const gpu::GpuModel& gpu = *gpu_model;
        const VerifyReport rep = verify_against_reference(gpu, model_dir(family) + "/reference.safetensors", kTolerance);
        QString failures;
        for (const VerifyLine& l : rep.lines)
            if (!l.ok && !l.invalid_reference)
                failures += QString("\n  %1 %2 %3").arg(QString::fromStdString(l.name)).arg(l.error).arg(
                    QString::fromStdString(l.note));
        QVERIFY2(rep.failed() == 0, qPrintable(family + ": verify on the GPU failed:" + failures));
        QVERIFY2(rep.passed() > 10, qPrintable(family + QString(": only %1 reference tensors compared").arg(rep.passed())));
        check_validation();
    }
};

QTEST_GUILESS_MAIN(TestGpuModelSsm)
#include "test_gpu_model_ssm.moc"
