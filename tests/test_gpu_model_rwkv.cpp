// RWKV-7, RWKV-6 and linear attention on the Vulkan model path (forward_gpu in
// engine/models/rwkv7.cpp, rwkv6.cpp and linear_attn.cpp, with their kernels shaders/rwkv7_bonus.comp,
// linear_attn_rows.comp, linear_attn_key_sum.comp and the recurrent scan's bonus read) against
// the CPU forward, which is the judge:
//   - verify against the reference files on the GPU gives what it gives on the CPU (same tensors
//     passed, same provably invalid reference values skipped, nothing failed);
//   - 300 random tokens (past the 64 positions where linear attention's scan goes chunked), then a
//     one-token step and a short call from the carried state: logits and the library's cache;
//   - configurations the reference models do not use, on small synthetic checkpoints of awkward
//     sizes: every linear-attention feature map, norm_q / norm_k, norm_feature_map (its key-sum
//     state), grouped kv heads, tied feature maps; RWKV-7 with value_dim != hidden, the unfused
//     norms, no pre-norm and no norm biases; RWKV-6 with other head counts, key and value dims
//     and LoRA ranks, no pre-norm and no norm biases. (These also carry RWKV-7's bonus term: in the reference
//     checkpoint it changes the logits by less than this test's tolerance.)
// Runs under the validation layer and checks that it reported no error. Skips only when no
// Vulkan device exists at all (CI has lavapipe).
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "gpu/gpu_model.h"
#include "statescope/model.h"
#include "test_support.h"
#include "statescope/verify.h"
#include "vulkan/context.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <map>
#include <memory>
#include <random>

using namespace statescope;

namespace {

// GPU against CPU, both float32: the differences are rounding (summation order, the chunked
// scan), around 1e-6 relative. Tighter than verify's 1e-4 so that a small term computed wrongly
// (RWKV-7's bonus, a feature map's corner) cannot hide in it.
constexpr double kTolerance = 2e-5;

// The reference folder of a family: ../shared/reference/models, or tests/data/references for the
// families added after it (rwkv6).
std::string reference_folder(const QString& family) {
    if (family == "rwkv6") return testsupport::family_reference_dir() + "/" + family.toStdString();
    return testsupport::reference_dir() + "/models/" + family.toStdString();
}

} // namespace

class TestGpuModelRwkv : public QObject {
    Q_OBJECT
    std::unique_ptr<vk::VulkanContext> ctx_;

    bool have_device() const { return ctx_ != nullptr; }

    void expect_no_validation_errors() { testsupport::expect_no_validation_errors(*ctx_); }

    // The same calls on both models from their initial states: `lengths` tokens at a time, random
    // ids; logits of every call and the library's cache after each are compared.
    void compare_runs(const Model& cpu, const Model& gpu, const std::vector<size_t>& lengths, uint32_t seed) {
        testsupport::Agreement worst;
        testsupport::compare_in_pieces(cpu, gpu, lengths, seed, kTolerance, true, worst);
    }

    // A synthetic checkpoint from the reference folder's config with `changes` applied.
    static std::unique_ptr<Model> synthetic(const QTemporaryDir& dir, const QString& family, const QJsonObject& changes) {
        QFile in(QString::fromStdString(reference_folder(family)) + "/config.json");
        if (!in.open(QIODevice::ReadOnly)) throw Error(in.fileName().toStdString() + ": cannot open");
        QJsonObject cfg = QJsonDocument::fromJson(in.readAll()).object();
        if (cfg.isEmpty()) throw Error(in.fileName().toStdString() + ": not a JSON object");
        for (auto it = changes.begin(); it != changes.end(); ++it) cfg[it.key()] = it.value();
        const QString path = dir.filePath(family + ".json");
        QFile out(path);
        if (!out.open(QIODevice::WriteOnly) || out.write(QJsonDocument(cfg).toJson()) <= 0)
            throw Error(path.toStdString() + ": cannot write");
        out.close();
        return load_model(Checkpoint::synthetic(path.toStdString(), 7));
    }

private slots:
    void initTestCase() {
        std::string why;
        if (!vk::VulkanContext::any_device_available(&why)) return;
        vk::ContextOptions o;
        o.validation = true;
        o.require_validation = false;
        ctx_ = std::make_unique<vk::VulkanContext>(o);
    }

    void reference_verify_data() {
        QTest::addColumn<QString>("family");
        QTest::newRow("rwkv7") << QStringLiteral("rwkv7");
        QTest::newRow("linear_attn") << QStringLiteral("linear_attn");
        QTest::newRow("rwkv6") << QStringLiteral("rwkv6");
    }

    // verify --backend vulkan: every reference tensor the CPU passes passes on the GPU, and the
    // reference values the CPU recognises as garbage (rwkv7's token-shift caches after one token)
    // are the same ones.
    void reference_verify() {
        if (!have_device()) QSKIP("no Vulkan device on this machine (install mesa-vulkan-drivers)");
        QFETCH(QString, family);
        const std::string dir = reference_folder(family);
        try {
            std::shared_ptr<const Model> cpu = load_model(dir);
            gpu::GpuModel gpu(cpu, *ctx_);
            const VerifyReport c = verify_against_reference(*cpu, dir + "/reference.safetensors", 1e-4);
            const VerifyReport g = verify_against_reference(gpu, dir + "/reference.safetensors", 1e-4);
            QCOMPARE(c.failed(), 0);
            QCOMPARE(g.failed(), 0);
            QVERIFY(g.passed() > 10);
            QCOMPARE(g.lines.size(), c.lines.size());
            for (size_t i = 0; i < c.lines.size(); ++i) {
                QCOMPARE(g.lines[i].name, c.lines[i].name);
                QVERIFY2(g.lines[i].ok == c.lines[i].ok && g.lines[i].invalid_reference == c.lines[i].invalid_reference,
                         qPrintable(QString::fromStdString(g.lines[i].name + ": the GPU's verdict differs from the CPU's")));
            }
            if (family == "rwkv7") QCOMPARE(g.invalid(), 4);   // the token-shift caches after one token
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        expect_no_validation_errors();
    }

    void long_sequence_data() { reference_verify_data(); }

    // 300 tokens in one call, then one token (a decoding step) and 7 more from the carried state.
    void long_sequence() {
        if (!have_device()) QSKIP("no Vulkan device on this machine (install mesa-vulkan-drivers)");
        QFETCH(QString, family);
        try {
            std::shared_ptr<const Model> cpu = load_model(reference_folder(family));
            gpu::GpuModel gpu(cpu, *ctx_);
            compare_runs(*cpu, gpu, {300, 1, 7}, 300);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        expect_no_validation_errors();
    }

    void synthetic_variants_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QJsonObject>("changes");
        // Linear attention: hidden 36 over 3 heads gives K = 12 (hedgehog F = 24, dpfp F = 96).
        const QJsonObject la{{"hidden_size", 36}, {"num_heads", 3}, {"vocab_size", 61}, {"intermediate_size", 52}};
        auto linear = [&](const char* row, QJsonObject extra) {
            for (auto it = la.begin(); it != la.end(); ++it) extra[it.key()] = it.value();
            QTest::newRow(row) << QStringLiteral("linear_attn") << extra;
        };
        for (const char* map : {"hedgehog", "t2r", "elementwise_product", "dpfp", "elu", "relu", "identity"})
            linear(map, {{"feature_map", map}});
        linear("hedgehog, one kv head, tied maps", {{"feature_map", "hedgehog"}, {"num_kv_heads", 1}, {"tie_feature_map_qk", true}});
        linear("dpfp, one kv head", {{"feature_map", "dpfp"}, {"num_kv_heads", 1}});
        linear("elu, norm_q and norm_k", {{"feature_map", "elu"}, {"norm_q", true}, {"norm_k", true}});
        linear("hedgehog, norm_feature_map", {{"feature_map", "hedgehog"}, {"norm_feature_map", true}});
        linear("elu, norm_feature_map, one kv head, expand_v 2",
               {{"feature_map", "elu"}, {"norm_feature_map", true}, {"num_kv_heads", 1}, {"expand_v", 2.0}});
        // RWKV-7: hidden 40 in heads of 8 (5 heads).
        const QJsonObject rw{{"hidden_size", 40}, {"head_dim", 8}, {"num_heads", 5}, {"vocab_size", 61},
                             {"value_dim", QJsonValue::Null}, {"num_hidden_layers", 3}};
        auto rwkv = [&](const char* row, QJsonObject extra) {
            for (auto it = rw.begin(); it != rw.end(); ++it)
                if (!extra.contains(it.key())) extra[it.key()] = it.value();
            QTest::newRow(row) << QStringLiteral("rwkv7") << extra;
        };
        rwkv("rwkv7", {});
        rwkv("rwkv7, value_dim 2 x hidden", {{"value_dim", 80}});
        rwkv("rwkv7, unfused norms, no pre-norm, no norm bias", {{"fuse_norm", false}, {"norm_first", false}, {"norm_bias", false}});
        // RWKV-6: hidden 40 over 5 heads, K = 4 and V = 8; then 4 heads of K = V = 10.
        const QJsonObject r6{{"hidden_size", 40},      {"num_heads", 5},         {"vocab_size", 61},
                             {"num_hidden_layers", 3}, {"proj_low_rank_dim", 7}, {"gate_low_rank_dim", 9}};
        auto rwkv6 = [&](const char* row, QJsonObject extra) {
            for (auto it = r6.begin(); it != r6.end(); ++it)
                if (!extra.contains(it.key())) extra[it.key()] = it.value();
            QTest::newRow(row) << QStringLiteral("rwkv6") << extra;
        };
        rwkv6("rwkv6 K4 V8 ranks 7 and 9", {});
        rwkv6("rwkv6 4 heads K10 V10, no pre-norm, no norm bias, intermediate 52", {{"num_heads", 4},
                                                                                    {"expand_k", 1.0},
                                                                                    {"norm_first", false},
                                                                                    {"norm_bias", false},
                                                                                    {"intermediate_size", 52}});
    }

    // 100 tokens (chunked scan for linear attention), then 1, then 5.
    void synthetic_variants() {
        if (!have_device()) QSKIP("no Vulkan device on this machine (install mesa-vulkan-drivers)");
        QFETCH(QString, family);
        QFETCH(QJsonObject, changes);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        try {
            std::shared_ptr<const Model> cpu = synthetic(dir, family, changes);
            gpu::GpuModel gpu(cpu, *ctx_);
            compare_runs(*cpu, gpu, {100, 1, 5}, 11);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        expect_no_validation_errors();
    }
};

QTEST_GUILESS_MAIN(TestGpuModelRwkv)
#include "test_gpu_model_rwkv.moc"
