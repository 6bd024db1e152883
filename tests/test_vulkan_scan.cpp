// The GPU scan kernels (engine/gpu/scan_kernels.h) against the CPU reference scan_recurrent():
// every transition kind in the recurrent form, Identity/Scalar/Diagonal/DeltaRule in the chunked
// form (outputs, final state and every chunk-boundary state), on random inputs of awkward sizes
// (T not a multiple of the chunk, K != V, H = 1, odd H, several micro-steps), and chunked against
// recurrent over more than 10,000 tokens. Runs under the validation layer and checks that it
// reported no error. Skips only when no Vulkan device exists at all (CI has lavapipe).
#include "statescope/error.h"
#include "statescope/scan.h"
#include "test_support.h"
#include "vulkan/context.h"
#include "gpu/scan_kernels.h"

#include <QtTest>
#include <memory>
#include <string>

using namespace statescope;
using namespace statescope::vk;
using namespace statescope::gpu;

namespace {

struct CpuResult {
    Tensor S, o;
    std::vector<Tensor> boundary;   // state before position n * chunk (n = 0, 1, ...)
};

// The reference: scan_recurrent from S0, keeping the states at chunk boundaries (chunk given in
// positions; boundaries fall after tokens because chunk is a multiple of substeps).
CpuResult cpu_scan(const ScanInputs& in, const Tensor& S0, int chunk) {
    CpuResult r;
    r.S = S0;
    r.o = Tensor({in.T, in.H, in.V});
    if (chunk > 0) r.boundary.push_back(S0);
    scan_recurrent(in, r.S.ptr(), r.o.ptr(), [&](int t, const float* S) {
        const long done = long(t + 1) * in.substeps;  // positions completed
        if (chunk > 0 && done % chunk == 0 && t + 1 < in.T)
            r.boundary.push_back(Tensor({in.H, in.K, in.V}, std::vector<float>(S, S + r.S.data.size())));
    });
    return r;
}

QString describe(TransitionKind kind, int T, int H, int K, int V, int n) {
    return QString("%1 T=%2 H=%3 K=%4 V=%5 substeps=%6").arg(transition_name(kind)).arg(T).arg(H).arg(K).arg(V).arg(n);
}

void add_kind_rows(const char* form, const std::vector<TransitionKind>& kinds) {
    struct Size {
        int T, H, K, V, n;
    };
    // T never a multiple of the chunk; K != V; H = 1 and odd H; K, V below and above a warp.
    const Size sizes[] = {{37, 1, 16, 24, 1}, {50, 3, 7, 5, 1}, {45, 5, 33, 17, 1}, {29, 2, 40, 64, 2}, {21, 3, 12, 9, 3}};
    for (TransitionKind kind : kinds)
        for (const Size& s : sizes)
            for (int gated = 0; gated < 2; ++gated) {
                // Only the delta rule has an optional gate; the others would repeat a row.
                if (gated && kind != TransitionKind::DeltaRule) continue;
                // The chunked DPLR form takes one micro-step per token (refused otherwise, below).
                if (kind == TransitionKind::DiagPlusRankOne && s.n > 1 && std::string(form) == "chunked") continue;
                QTest::addRow("%s %s T%d H%d K%d V%d n%d%s", form, transition_name(kind), s.T, s.H, s.K, s.V, s.n,
                              gated ? " gated" : "")
                    << int(kind) << s.T << s.H << s.K << s.V << s.n << bool(gated);
            }
}

void add_columns() {
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("T");
    QTest::addColumn<int>("H");
    QTest::addColumn<int>("K");
    QTest::addColumn<int>("V");
    QTest::addColumn<int>("substeps");
    QTest::addColumn<bool>("gated");
}

} // namespace

class TestVulkanScan : public QObject {
    Q_OBJECT
    std::unique_ptr<VulkanContext> ctx_;

    // Relative L2 below tol, with the sizes in the failure message.
    static void expect_close(const float* gpu, const float* cpu, size_t n, double tol, const QString& what) {
        const double err = relative_l2(gpu, cpu, n);
        QVERIFY2(err < tol, qPrintable(QString("%1: relative L2 error %2 (tolerance %3)").arg(what).arg(err).arg(tol)));
    }

private slots:
    void initTestCase() {
        std::string why;
        if (!VulkanContext::any_device_available(&why))
            QSKIP(qPrintable(QString("no Vulkan device on this machine (%1); install mesa-vulkan-drivers for lavapipe")
                                 .arg(QString::fromStdString(why))));
        ContextOptions opt;
        opt.validation = true;
        opt.require_validation = true;   // vulkan-validationlayers is part of the build dependencies
        ctx_ = std::make_unique<VulkanContext>(opt);
        qInfo("device: %s (%s), subgroup %u, validation %s", ctx_->device().name.c_str(),
              device_type_name(ctx_->device().type), ctx_->device().subgroup_size,
              ctx_->validation_enabled() ? "on" : "off");
    }

    void recurrent_matches_cpu_data() {
        add_columns();
        add_kind_rows("recurrent", {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::Diagonal,
                                    TransitionKind::DeltaRule, TransitionKind::DiagPlusRankOne});
    }
    void recurrent_matches_cpu() {
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        QFETCH(int, substeps);
        QFETCH(bool, gated);
        std::mt19937 rng(1000 + kind * 31 + T + K * 7 + V);
        const auto tk = TransitionKind(kind);
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, substeps, rng, 1.0f, gated);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        CpuResult ref = cpu_scan(in, S0, 0);
        // Every variant: the device's choice, one thread per column, and columns shared by 2 and
        // 4 lanes through subgroup shuffles where the device has them.
        const DeviceInfo& d = ctx_->device();
        const bool shuffles = d.subgroup_in_compute && (d.subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
        for (int lanes : {0, 1, 2, 4}) {
            if (lanes > 1 && (!shuffles || uint32_t(lanes) > d.subgroup_size)) continue;
            Tensor S = S0, o({T, H, V});
            ScanRunOptions opt;
            opt.form = ScanForm::Recurrent;
            opt.lanes = lanes;
            gpu_scan(*ctx_, in, S.ptr(), o.ptr(), opt);
            const QString what = describe(tk, T, H, K, V, substeps) + QString(" (lanes %1)").arg(lanes);
            expect_close(o.ptr(), ref.o.ptr(), o.data.size(), 1e-5, what + " outputs");
            expect_close(S.ptr(), ref.S.ptr(), S.data.size(), 1e-5, what + " state");
        }
    }

    // The bonus read (RWKV-6's u, core/scan.h): the recurrent kernel against scan_recurrent for
    // every kind with one micro-step, every lane variant, awkward sizes, beta where a kind has it.
    void recurrent_bonus_matches_cpu_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        struct Size {
            int T, H, K, V;
        };
        const Size sizes[] = {{1, 1, 1, 1},    {37, 1, 16, 24}, {50, 3, 7, 5},
                              {45, 5, 33, 17}, {29, 2, 40, 64}, {70, 3, 12, 9}};
        for (TransitionKind kind : {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::Diagonal,
                                    TransitionKind::DeltaRule, TransitionKind::DiagPlusRankOne})
            for (const Size& s : sizes)
                QTest::addRow("bonus %s T%d H%d K%d V%d", transition_name(kind), s.T, s.H, s.K, s.V)
                    << int(kind) << s.T << s.H << s.K << s.V;
    }
    void recurrent_bonus_matches_cpu() {
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        std::mt19937 rng(4000 + kind * 31 + T + K * 7 + V);
        const auto tk = TransitionKind(kind);
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, 1, rng, 1.0f, true);
        in.bonus = Tensor({H, K});
        testsupport::fill_normal(in.bonus, rng, 1.0f);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        CpuResult ref = cpu_scan(in, S0, 0);
        const DeviceInfo& d = ctx_->device();
        const bool shuffles = d.subgroup_in_compute && (d.subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
        for (int lanes : {0, 1, 2, 4}) {
            if (lanes > 1 && (!shuffles || uint32_t(lanes) > d.subgroup_size)) continue;
            Tensor S = S0, o({T, H, V});
            ScanRunOptions opt;
            opt.form = ScanForm::Recurrent;
            opt.lanes = lanes;
            gpu_scan(*ctx_, in, S.ptr(), o.ptr(), opt);
            const QString what = "bonus " + describe(tk, T, H, K, V, 1) + QString(" (lanes %1)").arg(lanes);
            expect_close(o.ptr(), ref.o.ptr(), o.data.size(), 1e-5, what + " outputs");
            expect_close(S.ptr(), ref.S.ptr(), S.data.size(), 1e-5, what + " state");
        }
        // The bonus changes the outputs (a kernel that ignored it would fail above only by chance).
        ScanInputs plain = in;
        plain.bonus = Tensor();
        CpuResult without = cpu_scan(plain, S0, 0);
        QVERIFY(relative_l2(without.o.ptr(), ref.o.ptr(), ref.o.data.size()) > 1e-3);
    }

    void chunked_matches_cpu_data() {
        add_columns();
        add_kind_rows("chunked", {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::Diagonal,
                                  TransitionKind::DeltaRule, TransitionKind::DiagPlusRankOne});
    }
    void chunked_matches_cpu() {
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        QFETCH(int, substeps);
        QFETCH(bool, gated);
        std::mt19937 rng(2000 + kind * 31 + T + K * 7 + V);
        const auto tk = TransitionKind(kind);
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, substeps, rng, 1.0f, gated);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        // A small chunk so that these short sequences cross several chunk boundaries and end in a
        // partial chunk; 64 (the default) for the long test below.
        for (int chunk : {8, 16}) {
            ScanRunOptions opt;
            opt.form = ScanForm::Chunked;
            opt.chunk = chunk;
            // (DPLR's chunk counts two virtual micro-steps per token: scan_chunk_dplr.comp.)
            const int C = tk == TransitionKind::DiagPlusRankOne ? chunk / 2 : chunk / substeps * substeps;
            CpuResult ref = cpu_scan(in, S0, C);
            Tensor S = S0, o({T, H, V}), boundary;
            gpu_scan(*ctx_, in, S.ptr(), o.ptr(), opt, &boundary);
            const QString what = describe(tk, T, H, K, V, substeps) + QString(" chunk %1").arg(C);
            expect_close(o.ptr(), ref.o.ptr(), o.data.size(), 2e-5, what + " outputs");
            expect_close(S.ptr(), ref.S.ptr(), S.data.size(), 2e-5, what + " final state");
            QCOMPARE(boundary.shape.size(), size_t(4));
            QCOMPARE(size_t(boundary.shape[0]), ref.boundary.size());
            const size_t per = size_t(H) * K * V;
            for (size_t n = 0; n < ref.boundary.size(); ++n)
                expect_close(boundary.ptr() + n * per, ref.boundary[n].ptr(), per, 2e-5,
                             what + QString(" state at chunk %1").arg(n));
        }
    }

    // Chunked and recurrent agree (and match the CPU) over a long sequence: errors of the chunked
    // form's state pass must not accumulate across ~160 chunks.
    // Also model-sized heads (K = V = 128) over 2,000 tokens: CPU drivers stop a shader's loops
    // after 65,535 iterations, which the runtime must split around (a K = 128 recurrent step
    // costs ~400 of them on lavapipe).
    void chunked_agrees_with_recurrent_long_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("substeps");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        QTest::newRow("identity") << int(TransitionKind::Identity) << 1 << 10007 << 3 << 16 << 12;
        QTest::newRow("scalar") << int(TransitionKind::Scalar) << 1 << 10007 << 3 << 16 << 12;
        QTest::newRow("diagonal") << int(TransitionKind::Diagonal) << 1 << 10007 << 3 << 16 << 12;
        QTest::newRow("delta rule") << int(TransitionKind::DeltaRule) << 1 << 10007 << 3 << 16 << 12;
        QTest::newRow("diagonal plus rank one") << int(TransitionKind::DiagPlusRankOne) << 1 << 10007 << 3 << 16 << 12;
        QTest::newRow("delta product (2 micro-steps)") << int(TransitionKind::DeltaRule) << 2 << 10007 << 3 << 16 << 12;
        QTest::newRow("scalar, K=V=128") << int(TransitionKind::Scalar) << 1 << 2003 << 1 << 128 << 128;
        QTest::newRow("delta rule, K=V=128") << int(TransitionKind::DeltaRule) << 1 << 2003 << 1 << 128 << 128;
    }
    void chunked_agrees_with_recurrent_long() {
        QFETCH(int, kind);
        QFETCH(int, substeps);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        std::mt19937 rng(3000 + kind);
        const auto tk = TransitionKind(kind);
        ScanInputs in = testsupport::random_scan_inputs(tk, T, H, K, V, substeps, rng);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        CpuResult ref = cpu_scan(in, S0, 0);

        ScanKernels kernels(*ctx_);
        ScanBuffers b = kernels.upload(in, S0.ptr());
        ScanRunOptions rec;
        rec.form = ScanForm::Recurrent;
        kernels.run(b, rec);
        Tensor S_rec({H, K, V}), o_rec({T, H, V});
        kernels.download_state(b, S_rec.ptr());
        kernels.download_outputs(b, o_rec.ptr());
        ScanRunOptions chk;
        chk.form = ScanForm::Chunked;
        kernels.run(b, chk);
        Tensor S_chk({H, K, V}), o_chk({T, H, V});
        kernels.download_state(b, S_chk.ptr());
        kernels.download_outputs(b, o_chk.ptr());

        const QString what = describe(tk, T, H, K, V, substeps);
        expect_close(o_chk.ptr(), o_rec.ptr(), o_rec.data.size(), 1e-4, what + " chunked vs recurrent outputs");
        expect_close(S_chk.ptr(), S_rec.ptr(), S_rec.data.size(), 1e-4, what + " chunked vs recurrent state");
        expect_close(o_rec.ptr(), ref.o.ptr(), o_rec.data.size(), 1e-4, what + " recurrent vs CPU outputs");
        expect_close(S_chk.ptr(), ref.S.ptr(), S_chk.data.size(), 1e-4, what + " chunked vs CPU state");
    }

    // Running twice on resident buffers gives the same answer (S0 is not consumed) and every
    // output is written: poison the outputs between runs.
    void runs_are_repeatable() {
        const int T = 70, H = 2, K = 9, V = 11;
        std::mt19937 rng(77);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::DeltaRule, T, H, K, V, 1, rng);
        ScanKernels kernels(*ctx_);
        ScanBuffers b = kernels.upload(in, nullptr);
        for (ScanForm form : {ScanForm::Recurrent, ScanForm::Chunked}) {
            ScanRunOptions opt;
            opt.form = form;
            Tensor first({T, H, V}), second({T, H, V});
            kernels.run(b, opt);
            kernels.download_outputs(b, first.ptr());
            std::vector<float> poison(first.data.size(), std::numeric_limits<float>::quiet_NaN());
            upload(*ctx_, b.o, poison.data(), poison.size() * sizeof(float));
            kernels.run(b, opt);
            kernels.download_outputs(b, second.ptr());
            for (size_t i = 0; i < first.data.size(); ++i)
                QVERIFY2(first.data[i] == second.data[i],
                         qPrintable(QString("%1: output %2 differs between runs").arg(scan_form_name(form)).arg(i)));
        }
    }

    void unsupported_form_is_an_error() {
        std::mt19937 rng(5);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::DiagPlusRankOne, 10, 1, 4, 4, 1, rng);
        Tensor S({1, 4, 4}), o({10, 1, 4});
        ScanRunOptions opt;
        opt.form = ScanForm::ChunkedF16;
        QVERIFY(!ScanKernels::supports(TransitionKind::DiagPlusRankOne, ScanForm::ChunkedF16));
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), opt));
        // The chunked DPLR form takes one micro-step per token.
        ScanInputs two = testsupport::random_scan_inputs(TransitionKind::DiagPlusRankOne, 10, 1, 4, 4, 2, rng);
        ScanRunOptions chunked;
        chunked.form = ScanForm::Chunked;
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, two, S.ptr(), o.ptr(), chunked));
        // The bonus read exists in the recurrent form only.
        ScanInputs bonus = testsupport::random_scan_inputs(TransitionKind::Diagonal, 10, 1, 4, 4, 1, rng);
        bonus.bonus = Tensor({1, 4});
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, bonus, S.ptr(), o.ptr(), chunked));
        // Mismatched inputs are refused before anything reaches the device.
        in.v.data.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, gpu_scan(*ctx_, in, S.ptr(), o.ptr(), {}));
    }

    // Last: everything above ran under VK_LAYER_KHRONOS_validation without a single error.
    // run_repeated (the benchmark's back-to-back runs): one timing per run with the stages that
    // run() reports, and the same outputs as one run.
    void repeated_runs_time_each_run() {
        std::mt19937 rng(77);
        const int T = 150, H = 3, K = 16, V = 24;
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::DeltaRule, T, H, K, V, 1, rng);
        ScanKernels kernels(*ctx_);
        ScanBuffers b = kernels.upload(in, nullptr);
        ScanRunOptions opt;
        opt.form = ScanForm::Chunked;
        opt.chunk = 32;
        const ScanTiming one = kernels.run(b, opt);
        Tensor o1({T, H, V});
        kernels.download_outputs(b, o1.ptr());
        const std::vector<ScanTiming> three = kernels.run_repeated(b, opt, 3);
        QCOMPARE(three.size(), size_t(3));
        for (const ScanTiming& t : three) {
            QCOMPARE(t.stages_ms.size(), one.stages_ms.size());
            for (size_t s = 0; s < t.stages_ms.size(); ++s) QCOMPARE(t.stages_ms[s].first, one.stages_ms[s].first);
            QVERIFY(t.wall_ms > 0);
        }
        Tensor o3({T, H, V});
        kernels.download_outputs(b, o3.ptr());
        QCOMPARE(o3.data, o1.data);
        QVERIFY_THROWS_EXCEPTION(Error, kernels.run_repeated(b, opt, 0));
    }

    void validation_reported_no_errors() {
        QVERIFY(ctx_->validation_enabled());
        testsupport::expect_no_validation_errors(*ctx_);
    }

    void cleanupTestCase() { ctx_.reset(); }
};

QTEST_GUILESS_MAIN(TestVulkanScan)
#include "test_vulkan_scan.moc"
