#include "statescope/analysis/spectrum.h"

#include "statescope/error.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

namespace statescope::analysis {

namespace {
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_token(const ScanInputs& in, int t, int head) {
    require(t >= 0 && t < in.T, "token " + std::to_string(t) + " is outside the " + std::to_string(in.T) + " scanned tokens");
    require(head >= 0 && head < in.H, "head " + std::to_string(head) + " does not exist (the layer has " +
                                          std::to_string(in.H) + ")");
}
} // namespace

DenseMatrix transition(const ScanInputs& in, int t, int head) {
    check_token(in, t, head);
    DenseMatrix m;
    m.n = in.K;
    m.values.resize(size_t(in.K) * in.K);
    transition_matrix(in, t, head, m.values.data());
    return m;
}

namespace {
// P <- F P for micro-step j of token t (the factor table of core/scan.h), in O(K^2) instead of a
// dense K x K product: the window product of a 32-token window of K = 256 heads drops from a
// second to milliseconds.
void apply_factor_on_left(const ScanInputs& in, int t, int j, int h, RowMatrix& P) {
    const int K = in.K;
    const size_t th = size_t(t) * in.H + h;
    switch (in.kind) {
    case TransitionKind::Identity: return;
    case TransitionKind::Scalar:
        if (j == 0) P *= std::exp(double(in.log_decay.data[th]));
        return;
    case TransitionKind::Diagonal:
        if (j == 0)
            for (int r = 0; r < K; ++r) P.row(r) *= std::exp(double(in.log_decay.data[th * K + r]));
        return;
    case TransitionKind::DeltaRule: {
        if (j == 0 && !in.log_decay.data.empty()) P *= std::exp(double(in.log_decay.data[th]));
        const Eigen::VectorXd k = Eigen::Map<const Eigen::VectorXf>(in.k_at(t, j, h), K).cast<double>();
        const Eigen::RowVectorXd kP = k.transpose() * P;
        P.noalias() -= double(in.beta_at(t, j, h)) * k * kP;
        return;
    }
    case TransitionKind::DiagPlusRankOne: {
        if (j != 0) return;
        const Eigen::VectorXd a = Eigen::Map<const Eigen::VectorXf>(in.a.ptr() + th * K, K).cast<double>();
        const Eigen::VectorXd b = Eigen::Map<const Eigen::VectorXf>(in.b.ptr() + th * K, K).cast<double>();
        const Eigen::RowVectorXd bP = b.transpose() * P;
        for (int r = 0; r < K; ++r) P.row(r) *= std::exp(double(in.log_decay.data[th * K + r]));
        P.noalias() += a * bP;
        return;
    }
    }
}
} // namespace

namespace {
// A_last ... A_first as P * exp(log_scale), P rescaled to max |entry| = 1 after every token.
RowMatrix scaled_product(const ScanInputs& in, int first, int last, int head, double* log_scale) {
    check_token(in, first, head);
    check_token(in, last, head);
    require(first <= last, "transition product: first token after last");
    RowMatrix P = RowMatrix::Identity(in.K, in.K);
    *log_scale = 0;
    // Later transitions apply on the left, micro-steps in order within a token.
    for (int t = first; t <= last; ++t) {
        for (int j = 0; j < in.substeps; ++j) apply_factor_on_left(in, t, j, head, P);
        const double m = P.cwiseAbs().maxCoeff();
        if (m > 0 && std::isfinite(m)) {
            P /= m;
            *log_scale += std::log(m);
        }
    }
    return P;
}
} // namespace

DenseMatrix transition_product(const ScanInputs& in, int first, int last, int head) {
    double log_scale = 0;
    RowMatrix P = scaled_product(in, first, last, head, &log_scale);
    P *= std::exp(log_scale);
    DenseMatrix m;
    m.n = in.K;
    m.values.assign(P.data(), P.data() + P.size());
    return m;
}

std::vector<std::complex<double>> eigenvalues(const DenseMatrix& m) {
    if (m.n == 0) return {};
    Eigen::Map<const RowMatrix> M(m.values.data(), m.n, m.n);
    std::vector<std::complex<double>> out(size_t(m.n));
    // Diagonal matrices (vector decay, scalar decay, identity) need no solve; the general solver
    // would return the same values more slowly.
    if (M.isDiagonal(0.0)) {
        for (int i = 0; i < m.n; ++i) out[size_t(i)] = M(i, i);
    } else {
        Eigen::EigenSolver<Eigen::MatrixXd> solver(Eigen::MatrixXd(M), /*computeEigenvectors=*/false);
        if (solver.info() != Eigen::Success) throw Error("eigenvalue solver did not converge");
        for (int i = 0; i < m.n; ++i) out[size_t(i)] = solver.eigenvalues()[i];
    }
    std::stable_sort(out.begin(), out.end(), [](auto a, auto b) { return std::abs(a) > std::abs(b); });
    return out;
}

double spectral_radius(const std::vector<std::complex<double>>& eig) {
    double r = 0;
    for (auto e : eig) r = std::max(r, std::abs(e));
    return r;
}

double half_life_tokens(double rate) {
    if (rate >= 1.0) return std::numeric_limits<double>::infinity();
    if (rate <= 0.0) return 0.0;
    return std::log(0.5) / std::log(rate);
}

Spectrum window_spectrum(const ScanInputs& in, int first, int last, int head) {
    double log_scale = 0;
    const RowMatrix P = scaled_product(in, first, last, head, &log_scale);
    DenseMatrix scaled;
    scaled.n = in.K;
    scaled.values.assign(P.data(), P.data() + P.size());
    Spectrum s;
    s.tokens = last - first + 1;
    const double scale = std::exp(log_scale);
    double log_radius = -std::numeric_limits<double>::infinity();
    for (std::complex<double> e : eigenvalues(scaled)) {
        const double log_mod = std::log(std::abs(e)) + log_scale; // -inf for a zero eigenvalue
        s.eigenvalues.push_back(e * scale);
        s.rates.push_back(std::exp(log_mod / s.tokens));
        log_radius = std::max(log_radius, log_mod);
    }
    s.radius = std::exp(log_radius);
    s.rate_per_token = std::exp(log_radius / s.tokens);
    s.half_life = half_life_tokens(s.rate_per_token);
    return s;
}

} // namespace statescope::analysis
