// The GPU tensor operations (engine/gpu/ops.h) against CPU references on random inputs of awkward
// sizes: matrix products with F32/F16/BF16 weights (the tiled kernel and the matrix-vector one,
// views with row strides and column offsets), embedding gather, every norm over groups with
// periodic weights, element-wise functions and operand addressing (broadcasts, repeated heads),
// short convolutions whose window state carries over between calls, and the scan recorded into a
// batch from a layer's resident state. Then the whole GLA model, GPU against CPU, over 300 tokens
// (the chunked scan) and in single steps. Runs under the validation layer and asserts no error.
#include "core/checkpoint.h"
#include "statescope/scan.h"
#include "cpu/ops.h"
#include "gpu/gpu_model.h"
#include "gpu/layers.h"
#include "gpu/ops.h"
#include "gpu/sequence.h"
#include "test_support.h"
#include "vulkan/context.h"

#include <QtTest>
#include <cmath>
#include <memory>
#include <random>

using namespace statescope;

namespace {

std::vector<float> normal(size_t n, std::mt19937& rng, float sd = 1.0f) {
    std::normal_distribution<float> d(0.0f, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// What the device sees of a float32 weight stored as type t.
float stored(float x, gpu::WeightType t) {
    if (t == gpu::WeightType::BF16) return bf16_to_f32(f32_to_bf16(x));
    if (t == gpu::WeightType::F16) return f16_to_f32(f32_to_f16(x));
    return x;
}

void expect_close(const float* gpu, const float* cpu, size_t n, double tol, const QString& what) {
    const double err = relative_l2(gpu, cpu, n);
    QVERIFY2(err < tol, qPrintable(QString("%1: relative L2 error %2 (tolerance %3)").arg(what).arg(err).arg(tol)));
}

} // namespace

class TestGpuOps : public QObject {
    Q_OBJECT
    std::unique_ptr<vk::VulkanContext> ctx_;

private slots:
    void initTestCase() {
        std::string why;
        if (!vk::VulkanContext::any_device_available(&why))
            QSKIP(qPrintable(QString("no Vulkan device (%1)").arg(QString::fromStdString(why))));
        vk::ContextOptions opt;
        opt.validation = true;
        opt.require_validation = true;
        ctx_ = std::make_unique<vk::VulkanContext>(opt);
        qInfo("device: %s%s", ctx_->device().name.c_str(), ctx_->sync_validation_enabled() ? ", synchronization validation on" : "");
        const char* sync = std::getenv("STATESCOPE_VULKAN_SYNC_VALIDATION");
        if (sync && std::string(sync) == "1") QVERIFY(ctx_->sync_validation_enabled());
    }

    void linear_matches_cpu_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("M");
        QTest::addColumn<int>("N");
        QTest::addColumn<int>("K");
        for (int t = 0; t < 3; ++t)
            for (auto [M, N, K] : {std::tuple{1, 65, 17}, {3, 130, 301}, {8, 7, 64}, {9, 1, 5}, {67, 129, 33}, {130, 64, 128}})
                QTest::addRow("%s M%d N%d K%d", gpu::weight_type_name(gpu::WeightType(t)), M, N, K) << t << M << N << K;
    }
    void linear_matches_cpu() {
        QFETCH(int, type);
        QFETCH(int, M);
        QFETCH(int, N);
        QFETCH(int, K);
        const auto wt = gpu::WeightType(type);
        std::mt19937 rng(M * 131 + N * 7 + K + type);
        // x is a column range (offset 3) of a wider matrix, so strides and offsets are exercised.
        const int wide = K + 5;
        std::vector<float> xw = normal(size_t(M) * wide, rng), w = normal(size_t(N) * K, rng, 0.1f), b = normal(N, rng);
        std::vector<float> ref(size_t(M) * N);
        for (int m = 0; m < M; ++m)
            for (int n = 0; n < N; ++n) {
                double acc = b[n];
                for (int k = 0; k < K; ++k) acc += double(xw[size_t(m) * wide + 3 + k]) * stored(w[size_t(n) * K + k], wt);
                ref[size_t(m) * N + n] = float(acc);
            }
        gpu::WeightCache cache(*ctx_, wt);
        // Up to 8 rows take the matrix-vector kernel: its subgroup variant (where the device
        // has subgroup arithmetic) and its portable one.
        for (bool portable : {false, true}) {
            gpu::Ops ops(*ctx_, cache);
            ops.set_portable_kernels(portable);
            ops.begin();
            const gpu::Mat x = ops.upload(xw.data(), M, wide, "x").cols_range(3, K);
            const gpu::Mat bias = cache.vector(b.data(), N, "bias");
            const gpu::Mat y = ops.linear(x, cache.matrix(w.data(), N, K, "w"), &bias);
            const Tensor got = ops.download(y);
            expect_close(got.ptr(), ref.data(), ref.size(), 2e-6, portable ? "linear (portable)" : "linear");
        }
        QCOMPARE(ctx_->validation_counts().errors, 0);
    }

    void weights_split_into_blocks_of_rows() {
        // A matrix over the storage-buffer range is split into buffers of whole rows (lavapipe's
        // 128 MiB is less than a 50k-token embedding table); here blocks of 4 rows are forced.
        std::mt19937 rng(5);
        const int M = 11, N = 23, K = 9;
        std::vector<float> x = normal(size_t(M) * K, rng), w = normal(size_t(N) * K, rng), b = normal(N, rng);
        for (auto wt : {gpu::WeightType::F32, gpu::WeightType::F16}) {
            const size_t elem = wt == gpu::WeightType::F32 ? 4 : 2;
            gpu::WeightCache cache(*ctx_, wt, 4 * K * elem + 4);
            const gpu::Weight wm = cache.matrix(w.data(), N, K, "w");
            QCOMPARE(int(wm.blocks.size()), 6);   // 23 rows in blocks of 4
            gpu::Ops ops(*ctx_, cache);
            for (int rows : {M, 2}) {   // the tiled kernel and the matrix-vector one
                ops.begin();
                const gpu::Mat bias = cache.vector(b.data(), N, "bias");
                const Tensor got = ops.download(ops.linear(ops.upload(x.data(), rows, K, "x"), wm, &bias));
                std::vector<float> ref(size_t(rows) * N);
                for (int m = 0; m < rows; ++m)
                    for (int n = 0; n < N; ++n) {
                        double acc = b[n];
                        for (int k = 0; k < K; ++k) acc += double(x[size_t(m) * K + k]) * stored(w[size_t(n) * K + k], wt);
                        ref[size_t(m) * N + n] = float(acc);
                    }
                expect_close(got.ptr(), ref.data(), ref.size(), 2e-6, QString("blocked linear, %1 rows").arg(rows));
            }
            ops.begin();
            const std::vector<int32_t> ids{22, 0, 4, 3, 17, 8};
            const Tensor e = ops.download(ops.embed(ids, wm));
            for (size_t t = 0; t < ids.size(); ++t)
                for (int c = 0; c < K; ++c) QCOMPARE(e.data[t * K + c], stored(w[size_t(ids[t]) * K + c], wt));
        }
    }

    void embedding_gathers_rows() {
        std::mt19937 rng(3);
        const int vocab = 37, C = 300;
        std::vector<float> table = normal(size_t(vocab) * C, rng);
        const std::vector<int32_t> ids{0, 36, 5, 5, 17};
        for (auto wt : {gpu::WeightType::F32, gpu::WeightType::BF16}) {
            gpu::WeightCache cache(*ctx_, wt);
            gpu::Ops ops(*ctx_, cache);
            ops.begin();
            const Tensor got = ops.download(ops.embed(ids, cache.matrix(table.data(), vocab, C, "table")));
            for (size_t t = 0; t < ids.size(); ++t)
                for (int c = 0; c < C; ++c)
                    QCOMPARE(got.data[t * C + c], stored(table[size_t(ids[t]) * C + c], wt));
            bool threw = false;
            try {
                const std::vector<int32_t> bad{1, vocab};
                ops.embed(bad, cache.matrix(table.data(), vocab, C, "table"));
            } catch (const Error& e) {
                threw = QString(e.what()).contains("out of range");
            }
            QVERIFY(threw);
        }
    }

    void norms_match_cpu_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("group");
        QTest::addColumn<bool>("periodic_weight");
        for (int k = 0; k < 4; ++k)
            for (int g : {0, 7, 64})
                for (bool per : {false, true}) {
                    if (g == 0 && per) continue;
                    QTest::addRow("kind%d group%d %s", k, g, per ? "per-group weight" : "full weight") << k << g << per;
                }
    }
    void norms_match_cpu() {
        QFETCH(int, kind);
        QFETCH(int, group);
        QFETCH(bool, periodic_weight);
        const int rows = 5, cols = 448;   // 448 = 64 * 7
        std::mt19937 rng(kind * 10 + group);
        std::vector<float> x = normal(size_t(rows) * cols, rng, 2.0f);
        if (kind == int(gpu::NormKind::Sum))
            for (auto& v : x) v = std::abs(v) + 0.1f;   // fla's sum norm divides by a positive sum
        const int g = group ? group : cols;
        const int wn = periodic_weight ? g : cols;
        std::vector<float> w = normal(wn, rng), b = normal(wn, rng);
        cpu::Mat ref = cpu::ConstMap(x.data(), rows, cols);
        cpu::Param wp{w.data(), wn}, bp{b.data(), wn};
        const bool affine = kind == int(gpu::NormKind::RMS) || kind == int(gpu::NormKind::Layer);
        if (kind == int(gpu::NormKind::RMS)) cpu::rms_norm(ref, wp, 1e-5f, g);
        else if (kind == int(gpu::NormKind::Layer)) cpu::layer_norm(ref, wp, bp, 1e-5f, g);
        else if (kind == int(gpu::NormKind::L2)) cpu::l2_norm(ref, g, 1e-6f);
        else
            for (int r = 0; r < rows; ++r)
                for (int c0 = 0; c0 < cols; c0 += g) {
                    float s = 0;
                    for (int i = 0; i < g; ++i) s += ref(r, c0 + i);
                    for (int i = 0; i < g; ++i) ref(r, c0 + i) /= s;
                }
        gpu::WeightCache cache(*ctx_, gpu::WeightType::F32);
        gpu::Ops ops(*ctx_, cache);
        ops.begin();
        const gpu::Mat xm = ops.upload(x.data(), rows, cols, "x");
        const gpu::Mat wm = cache.vector(w.data(), wn, "w"), bm = cache.vector(b.data(), wn, "b");
        const bool layer = kind == int(gpu::NormKind::Layer);
        ops.norm(xm, gpu::NormKind(kind), affine ? &wm : nullptr, layer ? &bm : nullptr,
                 kind == int(gpu::NormKind::L2) ? 1e-6f : 1e-5f, uint32_t(group));
        const Tensor got = ops.download(xm);
        expect_close(got.ptr(), ref.data(), ref.size(), 2e-6, "norm");
    }

    void elementwise_functions_and_operands() {
        std::mt19937 rng(11);
        const int T = 6, H = 4, K = 5, groups = 2;
        std::vector<float> a = normal(size_t(T) * H * K, rng, 3.0f), src = normal(size_t(T) * (H / groups) * K, rng);
        std::vector<float> per_head = normal(size_t(T) * H, rng), col = normal(size_t(H) * K, rng);
        gpu::WeightCache cache(*ctx_, gpu::WeightType::F32);
        gpu::Ops ops(*ctx_, cache);
        ops.begin();
        const gpu::Mat am = ops.upload(a.data(), T, H * K, "a");
        const gpu::Mat sm = ops.upload(src.data(), T, (H / groups) * K, "src");
        const gpu::Mat hm = ops.upload(per_head.data(), T, H, "per head");
        const gpu::Mat cm = ops.upload(col.data(), 1, H * K, "columns");
        const gpu::Mat out = ops.alloc(T, H * K, "out");
        auto run = [&](gpu::Operand x, gpu::Operand y, gpu::ElementwiseParams p) {
            ops.elementwise(out, x, y, p);
            return ops.download(out);
        };
        using F = gpu::Func;
        const std::vector<std::pair<F, std::function<double(double)>>> funcs{
            {F::Silu, [](double x) { return x / (1 + std::exp(-x)); }},
            {F::Sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }},
            {F::Softplus, [](double x) { return std::log1p(std::exp(x)); }},
            {F::Exp, [](double x) { return std::exp(x); }},
            {F::Relu, [](double x) { return std::max(x, 0.0); }},
            {F::EluPlusOne, [](double x) { return x > 0 ? x + 1 : std::exp(x); }},
            {F::LogSigmoid, [](double x) { return -std::log1p(std::exp(-x)); }},
            {F::Tanh, [](double x) { return std::tanh(x); }},
            {F::ReluSquared, [](double x) { return x > 0 ? x * x : 0.0; }},
            {F::Square, [](double x) { return x * x; }}};
        for (const auto& [f, ref_f] : funcs) {
            gpu::ElementwiseParams p;
            p.f = f;
            p.alpha = 0.5f;
            p.beta = 0.25f;
            const Tensor got = run(gpu::Operand::of(am), {}, p);
            std::vector<float> ref(a.size());
            for (size_t i = 0; i < a.size(); ++i) ref[i] = float(0.5 * ref_f(a[i]) + 0.25);
            expect_close(got.ptr(), ref.data(), ref.size(), 1e-6, QString("function %1").arg(int(f)));
        }
        // a * b with b one value per head (per_group), then repeated heads times a per-column
        // vector, then a * silu(b), then clamping.
        {
            gpu::ElementwiseParams p;
            p.op = gpu::Combine::Mul;
            const Tensor got = run(gpu::Operand::of(am), gpu::Operand::per_group(hm, K), p);
            for (int t = 0; t < T; ++t)
                for (int c = 0; c < H * K; ++c)
                    QCOMPARE(got.data[size_t(t) * H * K + c], a[size_t(t) * H * K + c] * per_head[size_t(t) * H + c / K]);
        }
        {
            gpu::ElementwiseParams p;
            p.op = gpu::Combine::Mul;
            const Tensor got = run(gpu::Operand::repeat_heads(sm, K, groups), gpu::Operand::columns(cm), p);
            for (int t = 0; t < T; ++t)
                for (int h = 0; h < H; ++h)
                    for (int i = 0; i < K; ++i)
                        QCOMPARE(got.data[size_t(t) * H * K + h * K + i],
                                 src[size_t(t) * (H / groups) * K + (h / groups) * K + i] * col[h * K + i]);
        }
        {
            gpu::ElementwiseParams p;
            p.op = gpu::Combine::MulSiluB;
            p.lo = -0.5f;
            p.hi = 0.5f;
            const Tensor got = run(gpu::Operand::of(am), gpu::Operand::periodic(cm, K), p);
            for (int t = 0; t < T; ++t)
                for (int c = 0; c < H * K; ++c) {
                    const float y = col[c % K];
                    const float v = std::clamp(a[size_t(t) * H * K + c] * (y / (1 + std::exp(-y))), -0.5f, 0.5f);
                    QVERIFY(std::abs(got.data[size_t(t) * H * K + c] - v) < 1e-6f);
                }
        }
        ops.fill(out, 3.0f);
        for (float v : ops.download(out).data) QCOMPARE(v, 3.0f);
    }

    void short_conv_carries_its_window() {
        // Two calls (11 then 2 tokens, fewer than the width) must equal one CPU pass of 13.
        std::mt19937 rng(21);
        const int C = 70, W = 4, T1 = 11, T2 = 2;
        std::vector<float> x = normal(size_t(T1 + T2) * C, rng), w = normal(size_t(C) * W, rng), b = normal(C, rng);
        cpu::ShortConv conv{w.data(), b.data(), C, W, true};
        Tensor cpu_state = conv.initial_state();
        testsupport::fill_normal(cpu_state, rng);
        Tensor start = cpu_state;
        const cpu::Mat ref = conv(cpu::ConstMap(x.data(), T1 + T2, C), cpu_state);

        gpu::WeightCache cache(*ctx_, gpu::WeightType::F32);
        gpu::Ops ops(*ctx_, cache);
        statescope::SequenceState host;
        host.layers.resize(1);
        host.layers[0].aux.push_back({"conv.x", start});
        gpu::SequenceState dev = gpu::upload_sequence(*ctx_, host);
        std::vector<float> got;
        for (auto [first, n] : {std::pair{0, T1}, {T1, T2}}) {
            ops.begin();
            const gpu::Mat xm = ops.upload(x.data() + size_t(first) * C, n, C, "x");
            const Tensor y = ops.download(gpu::short_conv(ops, conv, xm, dev.layers[0].get("conv.x")));
            got.insert(got.end(), y.data.begin(), y.data.end());
        }
        expect_close(got.data(), ref.data(), ref.size(), 1e-6, "convolution outputs");
        gpu::download_sequence(*ctx_, dev, host);
        expect_close(host.layers[0].aux[0].tensor.ptr(), cpu_state.ptr(), cpu_state.data.size(), 1e-7, "window state");
    }

    void gla_model_matches_cpu_over_long_and_single_steps() {
        auto cpu = std::shared_ptr<Model>(load_model(testsupport::reference_dir() + "/models/gla"));
        gpu::GpuModel g(cpu, *ctx_);
        // 297 tokens in one call (chunked scan, T not a multiple of 64), then 3 single steps.
        testsupport::Agreement worst;
        testsupport::compare_in_pieces(*cpu, g, {297, 1, 1, 1}, 9, 1e-5, false, worst);
        if (QTest::currentTestFailed()) return;
        QCOMPARE(ctx_->validation_counts().errors, 0);
    }

    void cleanupTestCase() {
        if (ctx_) QCOMPARE(ctx_->validation_counts().errors, 0);
    }
};

QTEST_MAIN(TestGpuOps)
#include "test_gpu_ops.moc"
