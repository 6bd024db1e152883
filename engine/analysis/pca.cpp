#include "statescope/analysis/pca.h"

#include "statescope/error.h"

#include <Eigen/Dense>
#include <algorithm>

namespace statescope::analysis {

Projection pca(const std::vector<float>& rows, int n, int d, int dims) {
    require(n >= 0 && d >= 0 && rows.size() == size_t(n) * size_t(d), "pca: data size does not match its shape");
    Projection p;
    p.points = n;
    p.dims = std::max(0, std::min({dims, n, d}));
    p.coords.assign(size_t(n) * p.dims, 0.0);
    p.variance.assign(size_t(p.dims), 0.0);
    if (p.dims == 0) return p;
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::MatrixXd X = Eigen::Map<const RowMatrix>(rows.data(), n, d).cast<double>();
    X.rowwise() -= X.colwise().mean();
    // Work with the smaller of the two Gram matrices: trajectories are usually a few hundred
    // points in thousands of dimensions.
    Eigen::MatrixXd axes; // [d, dims] unit principal axes
    if (n < d) {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(X * X.transpose());
        axes.resize(d, p.dims);
        for (int i = 0; i < p.dims; ++i) {
            const Eigen::Index col = n - 1 - i; // eigenvalues ascend
            Eigen::VectorXd a = X.transpose() * es.eigenvectors().col(col);
            const double norm = a.norm();
            axes.col(i) = norm > 0 ? Eigen::VectorXd(a / norm) : Eigen::VectorXd::Zero(d);
        }
    } else {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(X.transpose() * X);
        axes = es.eigenvectors().rightCols(p.dims).rowwise().reverse();
    }
    for (int i = 0; i < p.dims; ++i) {
        Eigen::Index arg;
        axes.col(i).cwiseAbs().maxCoeff(&arg);
        if (axes(arg, i) < 0) axes.col(i) *= -1.0;
    }
    Eigen::MatrixXd C = X * axes;
    const double denom = n > 1 ? n - 1 : 1;
    for (int r = 0; r < n; ++r)
        for (int i = 0; i < p.dims; ++i) p.coords[size_t(r) * p.dims + i] = C(r, i);
    for (int i = 0; i < p.dims; ++i) p.variance[size_t(i)] = C.col(i).squaredNorm() / denom;
    p.total_variance = X.squaredNorm() / denom;
    return p;
}

} // namespace statescope::analysis
