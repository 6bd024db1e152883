#include "test_support.h"

#include "core/checkpoint.h"

#include <QDir>
#include <QFile>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace statescope;

namespace testsupport {

void fill_normal(Tensor& t, std::mt19937& rng, float stddev) {
    std::normal_distribution<float> n(0.0f, stddev);
    for (float& x : t.data) x = n(rng);
}

ScanInputs random_scan_inputs(TransitionKind kind, int T, int H, int K, int V, int substeps, std::mt19937& rng,
                              float beta_max, bool gated) {
    ScanInputs in;
    const bool with_beta = kind == TransitionKind::DeltaRule || kind != TransitionKind::Identity;
    in.allocate(kind, T, H, K, V, substeps, with_beta);
    fill_normal(in.q, rng, 1.0f / std::sqrt(float(K)));
    fill_normal(in.k, rng, 1.0f / std::sqrt(float(K)));
    fill_normal(in.v, rng);
    std::uniform_real_distribution<float> u01(0.0f, 1.0f);
    std::uniform_real_distribution<float> logd(-1.0f, -0.01f);
    for (float& b : in.beta.data) b = u01(rng) * beta_max;
    switch (kind) {
    case TransitionKind::Identity: break;
    case TransitionKind::Scalar:
        in.log_decay = Tensor({T, H});
        for (float& g : in.log_decay.data) g = logd(rng);
        break;
    case TransitionKind::Diagonal:
        in.log_decay = Tensor({T, H, K});
        for (float& g : in.log_decay.data) g = logd(rng);
        break;
    case TransitionKind::DeltaRule: {
        // Unit-norm keys keep I - beta k k^T a contraction for beta in [0, 2].
        for (int t = 0; t < T; ++t)
            for (int j = 0; j < substeps; ++j)
                for (int h = 0; h < H; ++h) {
                    float* k = in.k_at(t, j, h);
                    double ss = 0;
                    for (int i = 0; i < K; ++i) ss += double(k[i]) * k[i];
                    for (int i = 0; i < K; ++i) k[i] = float(k[i] / std::sqrt(ss + 1e-12));
                }
        if (gated) {
            in.log_decay = Tensor({T, H});
            for (float& g : in.log_decay.data) g = logd(rng);
        }
        break;
    }
    case TransitionKind::DiagPlusRankOne: {
        // RWKV-7 style: a = -kappa, b = kappa * alpha with unit kappa and alpha in (0, 1) keeps it stable.
        in.log_decay = Tensor({T, H, K});
        for (float& g : in.log_decay.data) g = logd(rng);
        in.a = Tensor({T, H, K});
        in.b = Tensor({T, H, K});
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H; ++h) {
                float* a = in.a.ptr() + (size_t(t) * H + h) * K;
                float* b = in.b.ptr() + (size_t(t) * H + h) * K;
                std::normal_distribution<float> n(0.0f, 1.0f);
                double ss = 0;
                for (int i = 0; i < K; ++i) { a[i] = n(rng); ss += double(a[i]) * a[i]; }
                for (int i = 0; i < K; ++i) {
                    float kap = float(a[i] / std::sqrt(ss + 1e-12));
                    a[i] = -kap;
                    b[i] = kap * u01(rng);
                }
            }
        break;
    }
    }
    return in;
}

void expect_tensors_close(const statescope::Tensor& gpu, const statescope::Tensor& cpu, double tol, const QString& what) {
    QVERIFY2(gpu.shape == cpu.shape, qPrintable(what + ": shape " + QString::fromStdString(statescope::shape_string(gpu.shape)) +
                                                " on the GPU, " + QString::fromStdString(statescope::shape_string(cpu.shape)) +
                                                " on the CPU"));
    const double err = statescope::relative_l2(gpu.ptr(), cpu.ptr(), cpu.data.size());
    QVERIFY2(err < tol, qPrintable(QString("%1: relative L2 error %2 (tolerance %3)").arg(what).arg(err).arg(tol)));
}

void expect_no_validation_errors(const statescope::vk::VulkanContext& ctx) {
    // In the *_syncval runs "no error" must include the synchronization checks.
    const char* sync = std::getenv("STATESCOPE_VULKAN_SYNC_VALIDATION");
    if (sync && std::string(sync) == "1" && ctx.validation_enabled())
        QVERIFY2(ctx.sync_validation_enabled(), "STATESCOPE_VULKAN_SYNC_VALIDATION=1 but the context checks no synchronization");
    const statescope::vk::ValidationCounts c = ctx.validation_counts();
    QString first;
    for (const auto& m : c.first_messages) first += "\n  " + QString::fromStdString(m);
    QVERIFY2(c.errors == 0, qPrintable(QString("%1 validation errors:%2").arg(c.errors).arg(first)));
    if (c.warnings) qInfo("validation warnings: %d%s", c.warnings, qPrintable(first));
}

namespace {

// expect_tensors_close that also refuses empty tensors and keeps the worst error.
void compare_tensor(const statescope::Tensor& gpu, const statescope::Tensor& cpu, double tol, const QString& what,
                    double& worst) {
    QVERIFY2(!cpu.data.empty(), qPrintable(what + ": empty"));
    expect_tensors_close(gpu, cpu, tol, what);
    if (gpu.shape == cpu.shape) worst = std::max(worst, statescope::relative_l2(gpu.ptr(), cpu.ptr(), cpu.data.size()));
}

} // namespace

void compare_in_pieces(const statescope::Model& cpu, const statescope::Model& gpu, const std::vector<size_t>& pieces,
                       uint32_t seed, double tol, bool state_after_each_piece, Agreement& worst) {
    using namespace statescope;
    worst = {};
    size_t total = 0;
    for (size_t n : pieces) total += n;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> pick(0, cpu.info().vocab_size - 1);
    std::vector<int32_t> tokens(total);
    for (int32_t& t : tokens) t = pick(rng);
    SequenceState cs = cpu.initial_state(), gs = gpu.initial_state();
    size_t first = 0;
    for (size_t p = 0; p < pieces.size(); ++p) {
        const size_t n = pieces[p];
        const std::span<const int32_t> piece(tokens.data() + first, n);
        const QString at = QString("tokens %1..%2").arg(first).arg(first + n - 1);
        ForwardResult c, g;
        try {
            c = cpu.forward(piece, cs);
            g = gpu.forward(piece, gs);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        compare_tensor(g.logits, c.logits, tol, "logits of " + at, worst.logits);
        if (QTest::currentTestFailed()) return;
        first += n;
        if (!state_after_each_piece && p + 1 < pieces.size()) continue;
        const std::vector<NamedTensor> cst = cpu.library_state(cs), gst = gpu.library_state(gs);
        QCOMPARE(gst.size(), cst.size());
        QVERIFY(!cst.empty());
        for (size_t i = 0; i < cst.size(); ++i) {
            QCOMPARE(gst[i].name, cst[i].name);
            compare_tensor(gst[i].tensor, cst[i].tensor, tol, "after " + at + ": " + QString::fromStdString(cst[i].name),
                           worst.state);
            if (QTest::currentTestFailed()) return;
        }
    }
}

std::shared_ptr<statescope::Model> load_synthetic(const QString& dir, const char* json, uint64_t seed) {
    const QString config = dir + "/config.json";
    QFile f(config);
    if (dir.isEmpty() || !f.open(QIODevice::WriteOnly) || f.write(json) != qint64(std::strlen(json))) {
        QTest::qFail(qPrintable("cannot write " + config), __FILE__, __LINE__);
        return nullptr;
    }
    f.close();
    try {
        return statescope::load_model(statescope::Checkpoint::synthetic(config.toStdString(), seed));
    } catch (const std::exception& e) {
        QTest::qFail(e.what(), __FILE__, __LINE__);
        return nullptr;
    }
}

} // namespace testsupport
