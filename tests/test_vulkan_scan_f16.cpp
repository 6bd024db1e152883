// The tensor-core chunked form (ScanForm::ChunkedF16, shaders/scan_tc_fused.comp) against the
// CPU reference scan_recurrent() on the same inputs rounded to float16 first, so that the
// comparison is fair (the form converts q, k, v to fp16): outputs, final state and every
// chunk-start state, for Identity, Scalar and Diagonal (with and without beta) and the delta
// rule (beta up to 1, and gated with beta up to 2), on awkward sizes (T not a multiple of the
// chunk of 32, T < 32, H = 1, odd H, K != V, V not a multiple of the value block, both value
// blocks), and against the recurrent GPU form over 10,000 tokens.
//
// The form needs VK_NV_cooperative_matrix (16x16x16 f16*f16+f32) and subgroups of 32: lavapipe
// has neither, so on CI the correctness tests skip and only the refusal test runs (a device
// without tensor cores must get a clear Error). They run on the NVIDIA GPU machine.
//
// Tolerance (kTolerance): besides q, k, v (rounded here too), the kernel rounds four float32
// intermediates to fp16 once each where they enter a product: the masked, gated scores, the
// gated queries, the decayed keys and the chunk-start state. Unit roundoff 2^-11 = 4.9e-4 per
// value, independent across the terms of each sum, gives a relative L2 error of a few 1e-4;
// the state is carried in float32, so it does not grow along the sequence (the 10,007-token
// test checks that). A bug (a wrong tile, mask, gate or chunk boundary) gives errors of order 1.
// The delta rule adds the fp16 roundings of its UT transform (TB, TG) and of K S, the vector
// decay those of its scaled sub-chunk halves: the same order.
#include "statescope/error.h"
#include "statescope/scan.h"
#include "test_support.h"
#include "vulkan/context.h"
#include "gpu/scan_kernels.h"

#include <QtTest>
#include <cmath>
#include <memory>

namespace {
constexpr double kTolerance = 1e-3;
}

using namespace statescope;
using namespace statescope::vk;
using namespace statescope::gpu;

namespace {

// x rounded to the nearest float16 (ties to even; the inputs here are far from fp16's range
// limits): the quantum is 2^(e - 10) for normal fp16 values and 2^-24 below 2^-14.
float round_to_f16(float x) {
    if (x == 0.0f || !std::isfinite(x)) return x;
    int e = 0;
    std::frexp(x, &e);   // x = m * 2^e, 0.5 <= |m| < 1
    const int quantum_exp = std::max(e - 1 - 10, -24);
    return float(std::ldexp(std::nearbyint(std::ldexp(double(x), -quantum_exp)), quantum_exp));
}

void round_qkv(ScanInputs& in) {
    for (Tensor* t : {&in.q, &in.k, &in.v})
        for (float& x : t->data) x = round_to_f16(x);
}

struct CpuResult {
    Tensor S, o;
    std::vector<Tensor> boundary;   // state before position n * 32
};

CpuResult cpu_scan(const ScanInputs& in, const Tensor& S0) {
    CpuResult r;
    r.S = S0;
    r.o = Tensor({in.T, in.H, in.V});
    r.boundary.push_back(S0);
    scan_recurrent(in, r.S.ptr(), r.o.ptr(), [&](int t, const float* S) {
        if ((t + 1) % 32 == 0 && t + 1 < in.T)
            r.boundary.push_back(Tensor({in.H, in.K, in.V}, std::vector<float>(S, S + r.S.data.size())));
    });
    return r;
}

} // namespace

class TestVulkanScanF16 : public QObject {
    Q_OBJECT
    std::unique_ptr<VulkanContext> ctx_;
    bool tensor_cores_ = false;
    QString why_not_;

    // The form and the CPU reference on `in` with its q, k, v rounded to fp16, from a random
    // initial state; boundary receives the chunk-start states.
    struct F16Run {
        CpuResult ref;
        Tensor S, o, boundary;
    };
    F16Run run_against_cpu(ScanInputs& in, std::mt19937& rng, int vblock = 0, int prefetch = 0, int segments = -1) {
        round_qkv(in);
        Tensor S0({in.H, in.K, in.V});
        testsupport::fill_normal(S0, rng, 0.5f);
        F16Run r;
        r.ref = cpu_scan(in, S0);
        ScanRunOptions opt;
        opt.form = ScanForm::ChunkedF16;
        opt.output_vblock = vblock;
        opt.tc_prefetch = prefetch;
        opt.tc_segments = segments;
        r.S = S0;
        r.o = Tensor({in.T, in.H, in.V});
        gpu_scan(*ctx_, in, r.S.ptr(), r.o.ptr(), opt, &r.boundary);
        return r;
    }

    static void expect_close(const float* gpu, const float* cpu, size_t n, double tol, const QString& what) {
        const double err = relative_l2(gpu, cpu, n);
        qInfo("%s: relative L2 error %.2e", qPrintable(what), err);
        QVERIFY2(err < tol, qPrintable(QString("%1: relative L2 error %2 (tolerance %3)").arg(what).arg(err).arg(tol)));
    }

    // Write scales beta in [0, 1), [T, 1, H].
    static Tensor uniform_write_scales(int T, int H, std::mt19937& rng) {
        Tensor beta({T, 1, H});
        std::uniform_real_distribution<float> u01(0.0f, 1.0f);
        for (float& b : beta.data) b = u01(rng);
        return beta;
    }

    // Outputs, final state and every chunk-start state of a run against the CPU's.
    static void expect_matches_cpu(const F16Run& r, const QString& what) {
        expect_close(r.o.ptr(), r.ref.o.ptr(), r.o.data.size(), kTolerance, what + " outputs");
        expect_close(r.S.ptr(), r.ref.S.ptr(), r.S.data.size(), kTolerance, what + " final state");
        QCOMPARE(r.boundary.shape.size(), size_t(4));
        QCOMPARE(size_t(r.boundary.shape[0]), r.ref.boundary.size());
        const size_t per = r.S.data.size();   // H * K * V
        for (size_t n = 0; n < r.ref.boundary.size(); ++n)
            expect_close(r.boundary.ptr() + n * per, r.ref.boundary[n].ptr(), per, kTolerance,
                         what + QString(" state at chunk %1").arg(n));
    }

private slots:
    void initTestCase() {
        std::string why;
        if (!VulkanContext::any_device_available(&why))
            QSKIP(qPrintable(QString("no Vulkan device on this machine (%1)").arg(QString::fromStdString(why))));
        ContextOptions opt;
        opt.validation = true;
        opt.require_validation = true;
        ctx_ = std::make_unique<VulkanContext>(opt);
        ScanKernels kernels(*ctx_);
        std::string reason;
        tensor_cores_ = kernels.tensor_cores_available(&reason);
        why_not_ = QString::fromStdString(reason);
        qInfo("device: %s, tensor-core form: %s", ctx_->device().name.c_str(),
              tensor_cores_ ? "available" : reason.c_str());
    }

    // Without NV cooperative matrices the form is refused with an Error that says why; every
    // kind but DPLR claims support.
    void unavailable_or_unsupported_is_an_error() {
        QVERIFY(ScanKernels::supports(TransitionKind::Identity, ScanForm::ChunkedF16));
        QVERIFY(ScanKernels::supports(TransitionKind::Scalar, ScanForm::ChunkedF16));
        QVERIFY(ScanKernels::supports(TransitionKind::DeltaRule, ScanForm::ChunkedF16));
        QVERIFY(ScanKernels::supports(TransitionKind::Diagonal, ScanForm::ChunkedF16));
        QVERIFY(!ScanKernels::supports(TransitionKind::DiagPlusRankOne, ScanForm::ChunkedF16));
        std::mt19937 rng(9);
        ScanRunOptions opt;
        opt.form = ScanForm::ChunkedF16;
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::Scalar, 20, 1, 16, 16, 1, rng);
        Tensor S({1, 16, 16}), o({20, 1, 16});
        if (!tensor_cores_) {
            QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), opt));
            return;
        }
        // With tensor cores: sizes outside the kernels' limits are refused.
        ScanInputs odd_k = testsupport::random_scan_inputs(TransitionKind::Scalar, 20, 1, 24, 16, 1, rng);
        Tensor S24({1, 24, 16});
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, odd_k, S24.ptr(), o.ptr(), opt));
        ScanInputs two_steps = testsupport::random_scan_inputs(TransitionKind::Scalar, 20, 1, 16, 16, 2, rng);
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, two_steps, S.ptr(), o.ptr(), opt));
        ScanInputs dplr = testsupport::random_scan_inputs(TransitionKind::DiagPlusRankOne, 20, 1, 16, 16, 1, rng);
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, dplr, S.ptr(), o.ptr(), opt));
        // Vector decay: K in {16, 32, 64, 128} and value blocks of 64 or 128.
        ScanInputs diag48 = testsupport::random_scan_inputs(TransitionKind::Diagonal, 20, 1, 48, 16, 1, rng);
        Tensor S48({1, 48, 16});
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, diag48, S48.ptr(), o.ptr(), opt));
        ScanInputs diag = testsupport::random_scan_inputs(TransitionKind::Diagonal, 20, 1, 16, 16, 1, rng);
        ScanRunOptions block32 = opt;
        block32.output_vblock = 32;
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, diag, S.ptr(), o.ptr(), block32));
        ScanInputs big_k = testsupport::random_scan_inputs(TransitionKind::Scalar, 20, 1, 144, 16, 1, rng);
        Tensor S144({1, 144, 16});
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, big_k, S144.ptr(), o.ptr(), opt));
        ScanRunOptions odd_block = opt;
        odd_block.output_vblock = 48;
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), odd_block));
        // Sequences split into segments: no decay and scalar decay only, a count of at least 1,
        // and not with the profiled kernel.
        ScanRunOptions split = opt;
        split.tc_segments = 2;
        ScanInputs delta = testsupport::random_scan_inputs(TransitionKind::DeltaRule, 70, 1, 16, 16, 1, rng);
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, delta, S.ptr(), o.ptr(), split));
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, diag, S.ptr(), o.ptr(), split));
        split.tc_segments = 0;
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), split));
        if (ctx_->device().shader_clock) {
            split.tc_segments = 2;
            split.tc_profile = true;
            QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), split));
        }

        // A run that did not keep its chunk-start states has none to download.
        ScanKernels kernels(*ctx_);
        ScanBuffers b = kernels.upload(in, nullptr);
        ScanRunOptions no_states = opt;
        no_states.keep_chunk_states = false;
        kernels.run(b, no_states);
        QVERIFY_THROWS_EXCEPTION(Error, kernels.download_chunk_states(b));
        kernels.run(b, opt);
        QCOMPARE(kernels.download_chunk_states(b).shape[0], 1);
    }

    void matches_cpu_on_f16_inputs_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        QTest::addColumn<int>("vblock");
        QTest::addColumn<bool>("beta");   // write scales; for the delta rule: up to 2 and gated
        QTest::addColumn<int>("prefetch");   // ScanRunOptions::tc_prefetch
        struct Size {
            int T, H, K, V, vblock;
        };
        // T below, at and not a multiple of the chunk; V = 48, 80 and 16 leave subgroups of the
        // last value block without columns; every value block; H = 1 and odd H.
        const Size sizes[] = {{37, 1, 16, 32, 0},  {150, 3, 64, 48, 0}, {130, 5, 128, 128, 64}, {130, 5, 128, 128, 32},
                              {200, 2, 32, 80, 64}, {64, 1, 48, 16, 0},  {1, 2, 16, 16, 0},      {70, 3, 112, 48, 64},
                              {130, 5, 128, 128, 128}, {200, 2, 32, 80, 128}};
        for (TransitionKind kind : {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::DeltaRule,
                                    TransitionKind::Diagonal})
            for (int variant = 0; variant < 5; ++variant)   // no beta; beta with prefetch 0, 1, 2, 3
                for (Size s : sizes) {
                    const bool beta = variant > 0;
                    const int prefetch = std::max(0, variant - 1);
                    if (kind == TransitionKind::Diagonal) {   // its K and value-block limits
                        if (s.K != 16 && s.K != 32 && s.K != 64 && s.K != 128) s.K = s.K < 64 ? 32 : 64;
                        if (s.vblock == 32) continue;
                    }
                    QTest::addRow("%s%s prefetch%d T%d H%d K%d V%d block%d", transition_name(kind), beta ? "+beta" : "",
                                  prefetch, s.T, s.H, s.K, s.V, s.vblock)
                        << int(kind) << s.T << s.H << s.K << s.V << s.vblock << beta << prefetch;
                }
    }
    void matches_cpu_on_f16_inputs() {
        if (!tensor_cores_) QSKIP(qPrintable("no tensor-core form on this device: " + why_not_));
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        QFETCH(int, vblock);
        QFETCH(bool, beta);
        QFETCH(int, prefetch);
        std::mt19937 rng(4000 + kind * 31 + T + K * 7 + V + vblock);
        const auto tk = TransitionKind(kind);
        const bool delta = tk == TransitionKind::DeltaRule;
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, 1, rng, beta ? 2.0f : 1.0f, /*gated=*/beta);
        if (delta) {
        } else if (!beta) {
            in.beta = Tensor();
        } else if (in.beta.data.empty()) {   // random_scan_inputs gives Identity no write scales
            in.beta = uniform_write_scales(T, H, rng);
        }
        expect_matches_cpu(run_against_cpu(in, rng, vblock, prefetch),
                           QString("%1 T=%2 H=%3 K=%4 V=%5").arg(transition_name(tk)).arg(T).arg(H).arg(K).arg(V));
    }

    // A sequence split into segments that run side by side (no decay, scalar decay): the
    // outputs, the final state and every chunk-start state match the CPU, for segment counts
    // that do and do not divide the chunks, a last segment ending inside a tile, and the
    // automatic count (a long sequence with one head).
    void segments_match_cpu_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        QTest::addColumn<int>("vblock");
        QTest::addColumn<bool>("beta");
        QTest::addColumn<int>("segments");
        for (TransitionKind kind : {TransitionKind::Identity, TransitionKind::Scalar})
            for (bool beta : {false, true}) {
                const char* name = transition_name(kind);
                const char* b = beta ? "+beta" : "";
                QTest::addRow("%s%s T1000 H3 segments 3", name, b) << int(kind) << 1000 << 3 << 64 << 48 << 0 << beta << 3;
                QTest::addRow("%s%s T300 H2 segments 4 block128", name, b) << int(kind) << 300 << 2 << 32 << 80 << 128 << beta << 4;
                QTest::addRow("%s%s T2100 H1 segments auto", name, b) << int(kind) << 2100 << 1 << 128 << 128 << 0 << beta << -1;
                QTest::addRow("%s%s T100 H1 segments 9", name, b) << int(kind) << 100 << 1 << 16 << 32 << 0 << beta << 9;
            }
    }
    void segments_match_cpu() {
        if (!tensor_cores_) QSKIP(qPrintable("no tensor-core form on this device: " + why_not_));
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        QFETCH(int, vblock);
        QFETCH(bool, beta);
        QFETCH(int, segments);
        std::mt19937 rng(8000 + kind * 31 + T + segments);
        const auto tk = TransitionKind(kind);
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, 1, rng, 1.0f);
        in.beta = beta ? uniform_write_scales(T, H, rng) : Tensor();
        expect_matches_cpu(run_against_cpu(in, rng, vblock, -1, segments),
                           QString("%1 T=%2 H=%3 segments %4").arg(transition_name(tk)).arg(T).arg(H).arg(segments));
    }

    // Over 10,007 tokens (313 chunks) the tensor-core form agrees with the recurrent GPU form on
    // the same fp16-rounded inputs: the state pass's errors must not accumulate. The float16
    // copies are made once (run) and the second run reuses them (f16_stale cleared).
    void agrees_with_recurrent_long_data() {
        QTest::addColumn<int>("kind");
        QTest::newRow("identity") << int(TransitionKind::Identity);
        QTest::newRow("scalar") << int(TransitionKind::Scalar);
        QTest::newRow("gated delta rule") << int(TransitionKind::DeltaRule);
        QTest::newRow("vector decay") << int(TransitionKind::Diagonal);
    }
    void agrees_with_recurrent_long() {
        if (!tensor_cores_) QSKIP(qPrintable("no tensor-core form on this device: " + why_not_));
        QFETCH(int, kind);
        const int T = 10007, H = 3, K = 32, V = 48;
        std::mt19937 rng(5000 + kind);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind(kind), T, H, K, V, 1, rng, 2.0f);
        round_qkv(in);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        ScanKernels kernels(*ctx_);
        ScanBuffers b = kernels.upload(in, S0.ptr());
        ScanRunOptions rec;
        rec.form = ScanForm::Recurrent;
        kernels.run(b, rec);
        Tensor S_rec({H, K, V}), o_rec({T, H, V});
        kernels.download_state(b, S_rec.ptr());
        kernels.download_outputs(b, o_rec.ptr());
        ScanRunOptions tc;
        tc.form = ScanForm::ChunkedF16;
        for (int run = 0; run < 2; ++run) {
            kernels.run(b, tc);
            QVERIFY(!b.f16_stale);
            Tensor S_tc({H, K, V}), o_tc({T, H, V});
            kernels.download_state(b, S_tc.ptr());
            kernels.download_outputs(b, o_tc.ptr());
            const QString what = QString("%1 T=%2 run %3").arg(transition_name(TransitionKind(kind))).arg(T).arg(run);
            expect_close(o_tc.ptr(), o_rec.ptr(), o_rec.data.size(), kTolerance, what + " outputs vs recurrent");
            expect_close(S_tc.ptr(), S_rec.ptr(), S_rec.data.size(), kTolerance, what + " state vs recurrent");
        }
    }

    // Vector decay with log decays down to -30 per token (a factor 1e-13): the diagonal tiles'
    // gates and the scaled halves of the off-diagonal tile stay within [0, 1], so nothing
    // overflows to inf or NaN, and the result matches.
    void vector_decay_survives_strong_decay() {
        if (!tensor_cores_) QSKIP(qPrintable("no tensor-core form on this device: " + why_not_));
        const int T = 100, H = 2, K = 64, V = 32;
        std::mt19937 rng(6000);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::Diagonal, T, H, K, V, 1, rng);
        std::uniform_real_distribution<float> strong(-30.0f, -0.01f);
        for (float& g : in.log_decay.data) g = strong(rng);
        const auto [ref, S, o, boundary] = run_against_cpu(in, rng);
        expect_close(o.ptr(), ref.o.ptr(), o.data.size(), kTolerance, "strong vector decay outputs");
        expect_close(S.ptr(), ref.S.ptr(), S.data.size(), kTolerance, "strong vector decay final state");
    }

    // The clock-instrumented variant computes the same result and reports a cycle count for
    // every phase; the phases (subgroup 0's time in the chunk loop) fit inside the total.
    void profiled_variant_matches_and_reports_phases() {
        if (!tensor_cores_) QSKIP(qPrintable("no tensor-core form on this device: " + why_not_));
        if (!ctx_->device().shader_clock) QSKIP("the device has no subgroup shader clock (VK_KHR_shader_clock)");
        for (TransitionKind kind : {TransitionKind::Scalar, TransitionKind::DeltaRule, TransitionKind::Diagonal}) {
            const int T = 300, H = 3, K = 64, V = 80;
            std::mt19937 rng(7000 + int(kind));
            ScanInputs in = testsupport::random_scan_inputs(kind, T, H, K, V, 1, rng, 2.0f);
            round_qkv(in);
            Tensor S_ref({H, K, V}), o_ref({T, H, V});
            scan_recurrent(in, S_ref.ptr(), o_ref.ptr());
            ScanKernels kernels(*ctx_);
            ScanBuffers b = kernels.upload(in, nullptr);
            ScanRunOptions opt;
            opt.form = ScanForm::ChunkedF16;
            QVERIFY_THROWS_EXCEPTION(Error, kernels.tensor_core_profile(b));   // no profiled run yet
            opt.tc_profile = true;
            kernels.run(b, opt);
            Tensor o({T, H, V});
            kernels.download_outputs(b, o.ptr());
            expect_close(o.ptr(), o_ref.ptr(), o.data.size(), kTolerance, QString("profiled %1").arg(transition_name(kind)));
            const TensorCoreProfile p = kernels.tensor_core_profile(b);
            QCOMPARE(p.chunks, (T + 31) / 32);
            const int vblock = kind == TransitionKind::Diagonal ? 64 : 32;   // few heads: blocks of 32
            QCOMPARE(p.workgroups, H * ((V + vblock - 1) / vblock));
            QCOMPARE(int(p.phases.size()), 10);
            double sum = 0;
            for (const auto& [name, cycles] : p.phases) {
                QVERIFY2(cycles >= 0, name.c_str());
                sum += cycles;
            }
            QVERIFY(p.phases[2].second > 0);   // the loads' wait and staging take time
            QVERIFY2(sum > 0 && sum <= p.total * 1.001, qPrintable(QString("phases %1 > total %2").arg(sum).arg(p.total)));
        }
    }

    void validation_reported_no_errors() {
        QVERIFY(ctx_->validation_enabled());
        testsupport::expect_no_validation_errors(*ctx_);
    }

    void cleanupTestCase() { ctx_.reset(); }
};

QTEST_GUILESS_MAIN(TestVulkanScanF16)
#include "test_vulkan_scan_f16.moc"
