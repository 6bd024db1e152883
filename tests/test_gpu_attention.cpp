// Softmax attention on the GPU (engine/gpu/attention_ops.h, the softmax layer's forward_gpu)
// against the CPU code, which is the judge:
//   - the rotary embedding against Rope::apply, at positions where a driver's own sin/cos would
//     be visibly off (up to a million), with standard and llama3-scaled frequencies, in place
//     and into a strided view;
//   - both attention kernels (tile and decode), with automatic and with forced small splits of
//     the keys (merged by the combine kernel), against causal_attention on random inputs of
//     awkward sizes: odd head counts, kv heads fewer than heads, odd head dims up to 256, one
//     query over a long cache (long enough that lavapipe's loop limit must be respected),
//     query counts that are no multiple of any tile, a sliding window;
//   - the llama reference model and random-weight models (llama with grouped queries, head_dim
//     not hidden / heads, llama3 RoPE and biases; an fla hybrid with a sliding-window attention
//     layer) on a random 300-token sequence fed in pieces, then decoding: logits and the
//     library's cache;
//   - the observer gets from the GPU what it gets from the CPU;
//   - verify against the llama reference folder with the GPU model, at the default tolerance.
// Runs under the validation layer (when installed) and checks that it reported no error. Skips
// only when no Vulkan device exists at all (CI has lavapipe).
#include "core/checkpoint.h"
#include "statescope/error.h"
#include "gpu/attention_ops.h"
#include "gpu/gpu_model.h"
#include "statescope/model.h"
#include "models/attention.h"
#include "test_support.h"
#include "statescope/verify.h"
#include "vulkan/context.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <memory>
#include <random>

using namespace statescope;

namespace {

std::string reference_folder(const char* name) { return testsupport::reference_dir() + "/models/" + name; }

cpu::Mat random_mat(int rows, int cols, std::mt19937& rng) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    cpu::Mat m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
    return m;
}

// [kv, P, D] -> [P, kv * D] (the device's token-major cache rows)
std::vector<float> token_major(const Tensor& cache) {
    const int64_t kv = cache.shape[0], P = cache.shape[1], D = cache.shape[2];
    std::vector<float> out(cache.data.size());
    for (int64_t h = 0; h < kv; ++h)
        for (int64_t p = 0; p < P; ++p)
            std::copy_n(cache.ptr() + (h * P + p) * D, D, out.data() + (p * kv + h) * D);
    return out;
}

struct Errors {
    double max_abs = 0, scale = 0;
};
Errors compare(const Tensor& gpu, const cpu::Mat& cpu) {
    Errors e;
    for (Eigen::Index i = 0; i < cpu.size(); ++i) {
        e.max_abs = std::max(e.max_abs, double(std::abs(gpu.data[size_t(i)] - cpu.data()[i])));
        e.scale = std::max(e.scale, double(std::abs(cpu.data()[i])));
    }
    return e;
}

// Random-weight configurations (Checkpoint::synthetic) for the paths the llama reference leaves out.
const testsupport::SyntheticConfig kSynthetic[] = {
    {"llama 6 heads over 2 kv heads D24 llama3 rope biases",
     R"({"model_type": "llama", "hidden_size": 40, "num_hidden_layers": 2, "num_attention_heads": 6,
         "num_key_value_heads": 2, "head_dim": 24, "intermediate_size": 72, "vocab_size": 300,
         "attention_bias": true, "tie_word_embeddings": true,
         "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 64}})"},
    {"fla gla hybrid with a 48-token window attention layer",
     R"({"model_type": "gla", "hidden_size": 48, "num_hidden_layers": 3, "num_heads": 2, "vocab_size": 300,
         "attn": {"layers": [1], "num_heads": 3, "num_kv_heads": 1, "window_size": 48, "rope_theta": 10000.0}})"},
};

// Remembers what a model shows its observer of the softmax layers.
class AttentionRecorder : public ForwardObserver {
public:
    struct Call {
        int layer;
        int64_t position;
        Tensor q, k, v;
    };
    std::vector<Call> calls;
    bool wants_layer(int) const override { return true; }
    void on_attention(int layer, int64_t position, const Tensor& q, const Tensor& k, const Tensor& v) override {
        calls.push_back({layer, position, q, k, v});
    }
};

} // namespace

class TestGpuAttention : public QObject {
    Q_OBJECT
    std::unique_ptr<vk::VulkanContext> ctx_;
    std::unique_ptr<gpu::WeightCache> weights_;
    std::unique_ptr<gpu::Ops> ops_;

    static void expect_close(const Tensor& gpu, const Tensor& cpu, double tol, const QString& what) {
        testsupport::expect_tensors_close(gpu, cpu, tol, what);
    }

    void expect_no_validation_errors() { testsupport::expect_no_validation_errors(*ctx_); }

    // The same random tokens through the CPU model and its GPU twin in the same pieces (a
    // prefill, a second prefill over the cache the first left, three decoding steps): the logits
    // of every piece and the library's cache at the end.
    void compare_long_sequence(const std::shared_ptr<const Model>& cpu) {
        gpu::GpuModel gpu_model(cpu, *ctx_);
        testsupport::Agreement worst;
        testsupport::compare_in_pieces(*cpu, gpu_model, {37, 263, 1, 1, 1}, 4242u + uint32_t(cpu->info().vocab_size),
                                       1e-4, false, worst);
        if (QTest::currentTestFailed()) return;
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
        weights_ = std::make_unique<gpu::WeightCache>(*ctx_, gpu::WeightType::F32);
        ops_ = std::make_unique<gpu::Ops>(*ctx_, *weights_);
        qInfo("device: %s, validation %s", ctx_->device().name.c_str(), ctx_->validation_enabled() ? "on" : "off");
    }

    void rope_matches_cpu_data() {
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("T");
        QTest::addColumn<qint64>("position");
        QTest::addColumn<bool>("llama3");
        QTest::newRow("3 heads D6 from 0") << 3 << 6 << 17 << qint64(0) << false;
        QTest::newRow("5 heads D20 at 9000") << 5 << 20 << 9 << qint64(9000) << false;
        QTest::newRow("1 head D256 at 70000") << 1 << 256 << 5 << qint64(70000) << false;
        QTest::newRow("2 heads D18 at 1000000") << 2 << 18 << 7 << qint64(1000000) << false;
        QTest::newRow("llama3-scaled 2 heads D128 at 8000") << 2 << 128 << 33 << qint64(8000) << true;
    }
    void rope_matches_cpu() {
        QFETCH(int, heads);
        QFETCH(int, head_dim);
        QFETCH(int, T);
        QFETCH(qint64, position);
        QFETCH(bool, llama3);
        Rope rope = Rope::standard(head_dim, 10000.0);
        if (llama3) {
            const Config c(Json::parse(R"({"rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0,
                "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}})", "test config"), "test config");
            rope = Rope::from_transformers_config(c, head_dim);
        }
        std::mt19937 rng(uint32_t(heads * 1000 + head_dim));
        const cpu::Mat x = random_mat(T, heads * head_dim, rng);
        cpu::Mat want = x;
        rope.apply(want, heads, position);

        ops_->begin();
        const uint32_t C = uint32_t(heads * head_dim);
        const gpu::Mat inv = ops_->upload(rope.inv_freq.data(), 1, uint32_t(head_dim / 2), "inverse frequencies");
        // In place, and from a plain matrix into a column range of a wider one.
        const gpu::Mat in_place = ops_->upload(x.data(), uint32_t(T), C, "x");
        gpu::rope(*ops_, in_place, in_place, uint32_t(heads), uint32_t(head_dim), inv, position);
        const gpu::Mat src = ops_->upload(x.data(), uint32_t(T), C, "x again");
        const gpu::Mat wide = ops_->zeros(uint32_t(T), C + 7, "wide");
        const gpu::Mat view = wide.cols_range(5, C);
        gpu::rope(*ops_, view, src, uint32_t(heads), uint32_t(head_dim), inv, position);
        for (const gpu::Mat& m : {in_place, view}) {
            const Errors e = compare(ops_->download(m), want);
            // A float32 rotation by a correctly rounded angle: a few units in the last place.
            QVERIFY2(e.max_abs <= 1e-6 * e.scale, qPrintable(QString("max error %1 of values up to %2").arg(e.max_abs).arg(e.scale)));
        }
        expect_no_validation_errors();
    }

    void attention_matches_cpu_data() {
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("P_old");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kv_heads");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("window");
        QTest::newRow("T37 fresh, 5 heads, D20") << 37 << 0 << 5 << 5 << 20 << 0;
        QTest::newRow("T70 after 13, 6 heads over 2, D24") << 70 << 13 << 6 << 2 << 24 << 0;
        QTest::newRow("T3 after 90, 3 heads over 1, D7") << 3 << 90 << 3 << 1 << 7 << 0;
        QTest::newRow("T130 after 200, 3 heads over 1, D256") << 130 << 200 << 3 << 1 << 256 << 0;
        QTest::newRow("T5 after 700, 8 heads over 2, D64") << 5 << 700 << 8 << 2 << 64 << 0;
        QTest::newRow("T1 after 3000, 4 heads over 1, D96") << 1 << 3000 << 4 << 1 << 96 << 0;
        QTest::newRow("T1 after 40000, 2 heads over 1, D128") << 1 << 40000 << 2 << 1 << 128 << 0;
        QTest::newRow("T50 after 30, 4 heads over 2, D16, window 17") << 50 << 30 << 4 << 2 << 16 << 17;
        QTest::newRow("T1 after 500, 4 heads, D33, window 64") << 1 << 500 << 4 << 4 << 33 << 64;
    }
    void attention_matches_cpu() {
        QFETCH(int, T);
        QFETCH(int, P_old);
        QFETCH(int, heads);
        QFETCH(int, kv_heads);
        QFETCH(int, head_dim);
        QFETCH(int, window);
        const int P = P_old + T, D = head_dim;
        std::mt19937 rng(uint32_t(T * 7919 + P * 31 + heads * 7 + D));
        const cpu::Mat q = random_mat(T, heads * D, rng);
        Tensor keys({kv_heads, P, D}), values({kv_heads, P, D});
        testsupport::fill_normal(keys, rng);
        testsupport::fill_normal(values, rng);
        const cpu::Mat want = causal_attention(q, keys, values, heads, window);
        const std::vector<float> k_rows = token_major(keys), v_rows = token_major(values);

        gpu::AttentionParams p;
        p.heads = uint32_t(heads);
        p.kv_heads = uint32_t(kv_heads);
        p.head_dim = uint32_t(D);
        p.scale = 1.0f / std::sqrt(float(D));
        p.window = uint32_t(window);
        using Kernel = gpu::AttentionTuning::Kernel;
        // Splits: automatic, many small ones (merged by attn_combine), and one asked for over the
        // whole cache (which a CPU driver must still cut to stay under its loop limit).
        for (Kernel kernel : {Kernel::Auto, Kernel::Tile, Kernel::Decode}) {
            for (uint32_t keys_per_split : {0u, 64u, 1u << 20}) {
                gpu::AttentionTuning tuning;
                tuning.kernel = kernel;
                tuning.keys_per_split = keys_per_split;
                const gpu::AttentionPlan plan =
                    gpu::plan_attention(ctx_->device(), uint32_t(T), uint32_t(P), p, tuning);
                const QString what = QString("%1 kernel, %2 workgroups of %3, %4 splits of %5 keys")
                                         .arg(plan.decode ? "decode" : "tile")
                                         .arg(plan.row_blocks)
                                         .arg(plan.workgroup)
                                         .arg(plan.splits)
                                         .arg(plan.keys_per_split);
                ops_->begin();
                const gpu::Mat qd = ops_->upload(q.data(), uint32_t(T), uint32_t(heads * D), "q");
                const gpu::Mat kd = ops_->upload(k_rows.data(), uint32_t(P), uint32_t(kv_heads * D), "keys");
                const gpu::Mat vd = ops_->upload(v_rows.data(), uint32_t(P), uint32_t(kv_heads * D), "values");
                Tensor got;
                try {
                    got = ops_->download(gpu::attention(*ops_, qd, kd, vd, p, tuning));
                } catch (const std::exception& e) {
                    QFAIL(qPrintable(what + ": " + e.what()));
                }
                const Errors e = compare(got, want);
                const double rel = relative_l2(got.ptr(), want.data(), size_t(want.size()));
                QVERIFY2(rel < 1e-5 && e.max_abs < 1e-4 * std::max(1.0, e.scale),
                         qPrintable(QString("%1: relative L2 error %2, max error %3").arg(what).arg(rel).arg(e.max_abs)));
            }
        }
        expect_no_validation_errors();
    }

    // The decode kernel takes the heads of a kv head together: check the plan it gets.
    void decoding_uses_the_decode_kernel_with_splits() {
        gpu::AttentionParams p;
        p.heads = 32;
        p.kv_heads = 8;
        p.head_dim = 128;
        const gpu::AttentionPlan decode = gpu::plan_attention(ctx_->device(), 1, 32768, p);
        QVERIFY(decode.decode);
        QCOMPARE(decode.row_blocks, 1u);
        QVERIFY(decode.splits > 1);
        const gpu::AttentionPlan prefill = gpu::plan_attention(ctx_->device(), 512, 512, p);
        QVERIFY(!prefill.decode);
    }

    void llama_reference_long_sequence() {
        std::shared_ptr<const Model> cpu;
        try {
            cpu = load_model(reference_folder("llama"));
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
        const std::shared_ptr<const Model> cpu = testsupport::load_synthetic(tmp.path(), kSynthetic[index].json, 11);
        if (!cpu) return;
        compare_long_sequence(cpu);
    }

    void observer_sees_the_same_attention() {
        std::shared_ptr<const Model> cpu = load_model(reference_folder("llama"));
        gpu::GpuModel gpu_model(cpu, *ctx_);
        std::mt19937 rng(99);
        std::uniform_int_distribution<int32_t> pick(0, cpu->info().vocab_size - 1);
        std::vector<int32_t> tokens(23);
        for (int32_t& t : tokens) t = pick(rng);
        AttentionRecorder c_rec, g_rec;
        SequenceState cs = cpu->initial_state(), gs = gpu_model.initial_state();
        for (size_t first : {size_t(0), size_t(20)}) {
            const std::span<const int32_t> piece(tokens.data() + first, first == 0 ? 20 : 3);
            ForwardOptions co, go;
            co.observer = &c_rec;
            go.observer = &g_rec;
            cpu->forward(piece, cs, co);
            gpu_model.forward(piece, gs, go);
        }
        QCOMPARE(g_rec.calls.size(), c_rec.calls.size());
        QCOMPARE(c_rec.calls.size(), size_t(2 * cpu->info().num_layers));
        for (size_t i = 0; i < c_rec.calls.size(); ++i) {
            const auto &c = c_rec.calls[i], &g = g_rec.calls[i];
            QCOMPARE(g.layer, c.layer);
            QCOMPARE(g.position, c.position);
            expect_close(g.q, c.q, 1e-5, QString("q of call %1").arg(i));
            expect_close(g.k, c.k, 1e-5, QString("keys of call %1").arg(i));
            expect_close(g.v, c.v, 1e-5, QString("values of call %1").arg(i));
        }
        expect_no_validation_errors();
    }

    void llama_reference_verify_on_gpu() {
        const std::string dir = reference_folder("llama");
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
        qInfo("llama: %d passed, %d failed, %d skipped, worst relative L2 %.3e", rep.passed(), rep.failed(), rep.invalid(), worst);
        QVERIFY2(rep.failed() == 0, qPrintable(QString("%1 reference tensors failed:%2").arg(rep.failed()).arg(failures)));
        QVERIFY(rep.passed() > 10);
        expect_no_validation_errors();
    }

    void cleanupTestCase() {
        ops_.reset();
        weights_.reset();
        if (ctx_) expect_no_validation_errors();
    }
};

QTEST_GUILESS_MAIN(TestGpuAttention)
#include "test_gpu_attention.moc"
