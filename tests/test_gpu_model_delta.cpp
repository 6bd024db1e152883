// The delta-rule families (delta_net, gated_deltanet, gated_deltaproduct, kda) on the GPU model path
// (engine/gpu) against their CPU forward, which is the judge:
//   - logits and the library's cache (recurrent state, conv windows) after a random 300-token
//     sequence fed as 37 + 263 tokens (recurrent scan, then the chunked scan from a non-zero state
//     and conv windows; KDA's diagonal-plus-rank-one scan stays recurrent) and three decoding
//     steps, for the four reference models, the two KDA references of tests/data/references, and
//     random-weight models of configurations the reference folders do not cover (more value heads
//     than q/k heads, qk_norm 'sum' with elu and no short convolution and no beta projection,
//     three Householder steps without forget gate, KDA with value heads and without short
//     convolutions, all with awkward head sizes);
//   - verify against the reference folders with the GPU model, at the default tolerance.
// Runs under the validation layer (when installed) and checks that it reported no error. Skips only
// when no Vulkan device exists at all (CI has lavapipe).
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "gpu/gpu_model.h"
#include "statescope/model.h"
#include "test_support.h"
#include "statescope/verify.h"
#include "vulkan/context.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <algorithm>
#include <memory>
#include <random>

using namespace statescope;

namespace {

const char* const kReferenceModels[] = {"delta_net", "delta_net_negeig", "gated_deltanet", "gated_deltaproduct"};
// In tests/data/references.
const char* const kFamilyReferences[] = {"kda", "kda_negeig_lowerbound"};

// Random-weight configurations (Checkpoint::synthetic) for the code paths the reference models
// leave out.
const testsupport::SyntheticConfig kSynthetic[] = {
    {"gated_deltanet 2 qk heads 6 value heads K12 V18",
     R"({"model_type": "gated_deltanet", "hidden_size": 48, "num_hidden_layers": 2, "num_heads": 2,
         "num_v_heads": 6, "head_dim": 12, "expand_v": 1.5, "vocab_size": 300})"},
    {"delta_net elu sum-norm no conv no beta negeig gated output",
     R"({"model_type": "delta_net", "hidden_size": 48, "num_hidden_layers": 2, "num_heads": 3,
         "qk_activation": "elu", "qk_norm": "sum", "use_short_conv": false, "use_beta": false,
         "allow_neg_eigval": true, "use_gate": true, "vocab_size": 300})"},
    {"gated_deltaproduct 3 householder steps no forget gate K20",
     R"({"model_type": "gated_deltaproduct", "hidden_size": 40, "num_hidden_layers": 2, "num_heads": 2,
         "head_dim": 20, "expand_v": 1.0, "num_householder": 3, "use_forget_gate": false,
         "allow_neg_eigval": false, "vocab_size": 300})"},
    {"kda 2 qk heads 6 value heads K12 V18",
     R"({"model_type": "kda", "hidden_size": 40, "num_hidden_layers": 2, "num_heads": 2, "num_v_heads": 6,
         "head_dim": 12, "expand_v": 1.5, "vocab_size": 300})"},
    {"kda no short conv negeig lower bound K20 V10",
     R"({"model_type": "kda", "hidden_size": 40, "num_hidden_layers": 2, "num_heads": 3, "head_dim": 20,
         "expand_v": 0.5, "use_short_conv": false, "allow_neg_eigval": true, "lower_bound": -3.5,
         "vocab_size": 300})"},
};

std::string reference_folder(const QString& name) {
    for (const char* f : kFamilyReferences)
        if (name == f) return testsupport::family_reference_dir() + "/" + name.toStdString();
    return testsupport::reference_dir() + "/models/" + name.toStdString();
}

} // namespace

class TestGpuModelDelta : public QObject {
    Q_OBJECT
    std::unique_ptr<vk::VulkanContext> ctx_;

    void expect_no_validation_errors() { testsupport::expect_no_validation_errors(*ctx_); }

    // The same random tokens through the CPU model and its GPU twin: 37 tokens through the
    // recurrent scan, 263 through the chunked one (from the state the first piece left), then three
    // single decoding steps; the logits of every piece and the library's cache at the end.
    void compare_long_sequence(const std::shared_ptr<const Model>& cpu) {
        gpu::GpuModel gpu_model(cpu, *ctx_);
        testsupport::Agreement worst;
        testsupport::compare_in_pieces(*cpu, gpu_model, {37, 263, 1, 1, 1},
                                       20240607u + uint32_t(cpu->info().vocab_size), 1e-4, false, worst);
        if (QTest::currentTestFailed()) return;
        qInfo("worst relative L2: logits %.3e, library state %.3e", worst.logits, worst.state);
        expect_no_validation_errors();
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

    void reference_model_long_sequence_data() {
        QTest::addColumn<QString>("folder");
        for (const char* m : kReferenceModels) QTest::newRow(m) << QString(m);
        for (const char* m : kFamilyReferences) QTest::newRow(m) << QString(m);
    }
    void reference_model_long_sequence() {
        QFETCH(QString, folder);
        std::shared_ptr<const Model> cpu;
        try {
            cpu = load_model(reference_folder(folder));
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        compare_long_sequence(cpu);
    }

    void synthetic_model_long_sequence_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < std::size(kSynthetic); ++i) QTest::newRow(kSynthetic[i].name) << int(i);
    }
    void synthetic_model_long_sequence() {
        QFETCH(int, index);
        QTemporaryDir tmp;
        const std::shared_ptr<const Model> cpu = testsupport::load_synthetic(tmp.path(), kSynthetic[index].json, 7);
        if (!cpu) return;
        compare_long_sequence(cpu);
    }

    // --profile's source: with profiling on, every kernel of a forward has a GPU time under its
    // module's name (the scan under "scan <form> (<kind>)"), and the results do not change.
    void profiling_times_every_kernel_and_changes_nothing() {
        if (!ctx_->device().timestamps) QSKIP("this device has no timestamp queries");
        std::shared_ptr<const Model> cpu = load_model(reference_folder("gated_deltanet"));
        gpu::GpuModel gpu_model(cpu, *ctx_);
        const std::vector<int32_t> ids = {5, 17, 3, 9, 11, 2, 7, 30, 1, 4};
        SequenceState plain_state = cpu->initial_state(), profiled_state = cpu->initial_state();
        const Tensor plain = gpu_model.forward(ids, plain_state).logits;
        gpu_model.set_profiling(true);
        const Tensor profiled = gpu_model.forward(ids, profiled_state).logits;
        gpu_model.set_profiling(false);
        QCOMPARE(profiled.data, plain.data);
        const auto& prof = gpu_model.profile();
        QVERIFY(prof.count("ops_matmul") == 1 && prof.at("ops_matmul").calls > 0);
        QVERIFY(prof.count("scan recurrent (delta rule)") == 1);
        for (const auto& [name, k] : prof) {
            QVERIFY2(k.calls > 0 && k.ms >= 0 && std::isfinite(k.ms), name.c_str());
        }
        // Switched off, later forwards add nothing.
        const size_t kernels = prof.size();
        const long calls = prof.at("ops_matmul").calls;
        SequenceState again = cpu->initial_state();
        gpu_model.forward(ids, again);
        QCOMPARE(gpu_model.profile().size(), kernels);
        QCOMPARE(gpu_model.profile().at("ops_matmul").calls, calls);
        gpu_model.clear_profile();
        QVERIFY(gpu_model.profile().empty());
    }

    void reference_verify_on_gpu_data() { reference_model_long_sequence_data(); }
    void reference_verify_on_gpu() {
        QFETCH(QString, folder);
        const std::string dir = reference_folder(folder);
        std::shared_ptr<const Model> cpu = load_model(dir);
        gpu::GpuModel gpu_model(cpu, *ctx_);
        const VerifyReport rep = verify_against_reference(gpu_model, dir + "/reference.safetensors", 1e-4);
        QString failures;
        double worst = 0;
        for (const VerifyLine& l : rep.lines) {
            if (!l.invalid_reference) worst = std::max(worst, l.error);
            if (!l.ok && !l.invalid_reference)
                failures += QString("\n  %1 %2 %3").arg(QString::fromStdString(l.name)).arg(l.error).arg(QString::fromStdString(l.note));
        }
        qInfo("%s: %d passed, %d failed, %d skipped, worst relative L2 %.3e", qPrintable(folder), rep.passed(),
              rep.failed(), rep.invalid(), worst);
        QVERIFY2(rep.failed() == 0, qPrintable(QString("%1 reference tensors failed:%2").arg(rep.failed()).arg(failures)));
        QVERIFY(rep.passed() > 10);
        expect_no_validation_errors();
    }

    void cleanupTestCase() {
        if (ctx_) expect_no_validation_errors();
    }
};

QTEST_GUILESS_MAIN(TestGpuModelDelta)
#include "test_gpu_model_delta.moc"
