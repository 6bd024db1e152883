#include "statescope/analysis/state_stats.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace statescope::analysis {

std::vector<double> singular_values(const float* S, int K, int V) {
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::MatrixXd M = Eigen::Map<const RowMatrix>(S, K, V).cast<double>();
    // Eigenvalues of the smaller Gram matrix are the squared singular values: much cheaper than
    // an SVD for the many states the curves need, and accurate enough for ranks and norms.
    Eigen::MatrixXd G = K <= V ? Eigen::MatrixXd(M * M.transpose()) : Eigen::MatrixXd(M.transpose() * M);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(G, Eigen::EigenvaluesOnly);
    std::vector<double> out(size_t(G.rows()));
    for (Eigen::Index i = 0; i < G.rows(); ++i) out[size_t(i)] = std::sqrt(std::max(0.0, solver.eigenvalues()[i]));
    std::sort(out.begin(), out.end(), std::greater<>());
    return out;
}

double effective_rank(const std::vector<double>& sv) {
    double total = 0;
    for (double s : sv) total += s;
    if (total <= 0) return 0;
    double h = 0;
    for (double s : sv) {
        const double p = s / total;
        if (p > 0) h -= p * std::log(p);
    }
    return std::exp(h);
}

double frobenius_norm(const float* values, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += double(values[i]) * values[i];
    return std::sqrt(ss);
}

} // namespace statescope::analysis
