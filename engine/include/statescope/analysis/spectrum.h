// Transitions and their spectra: what a layer remembers and for how long.
//
// A_t is the K x K matrix that carries head h's state from token t-1 to token t (core/scan.h);
// the product P = A_last ... A_first carries it across a window. Eigenvalues of modulus below 1
// decay, negative and complex ones flip and rotate (what state tracking needs). The spectral
// radius rho of a product over n tokens gives the per-token rate rho^(1/n) and a half-life
// ln(1/2) / ln(rate) in tokens: the number of tokens after which the slowest-decaying direction
// keeps half of its size.
#pragma once
#include "statescope/scan.h"

#include <complex>
#include <vector>

namespace statescope::analysis {

// Row-major K x K matrix in double precision.
struct DenseMatrix {
    int n = 0;
    std::vector<double> values;
    double at(int r, int c) const { return values[size_t(r) * n + c]; }
};

DenseMatrix transition(const ScanInputs& in, int t, int head);
// A_last ... A_first (first <= last, token indices of `in`).
DenseMatrix transition_product(const ScanInputs& in, int first, int last, int head);

// Eigenvalues of a real square matrix (complex in general), sorted by decreasing modulus.
std::vector<std::complex<double>> eigenvalues(const DenseMatrix& m);
double spectral_radius(const std::vector<std::complex<double>>& eig);
// Half-life in tokens of a per-token contraction rate: infinity for rate >= 1, 0 for rate 0.
double half_life_tokens(double rate_per_token);

struct Spectrum {
    int tokens = 1;                              // tokens the product spans
    std::vector<std::complex<double>> eigenvalues; // of the product (may underflow to 0 for long windows)
    std::vector<double> rates;                   // |mu_i|^(1/tokens) per eigenvalue, computed in logs
    double radius = 0;                           // spectral radius of the product
    double rate_per_token = 0;                   // radius^(1/tokens), computed in logs
    double half_life = 0;                        // in tokens, from rate_per_token
};

// Spectrum of A_last ... A_first for head `head`. The product is rescaled as it is built and the
// scale kept as a logarithm, so that per-token rates stay exact over windows whose product
// underflows (0.5^1100 is below the smallest double).
Spectrum window_spectrum(const ScanInputs& in, int first, int last, int head);

} // namespace statescope::analysis
