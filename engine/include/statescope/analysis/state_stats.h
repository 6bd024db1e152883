// Summaries of one head's state S (K x V): how big it is and how many directions it uses.
#pragma once
#include <cstddef>
#include <vector>

namespace statescope::analysis {

// Singular values of the row-major K x V matrix S, in decreasing order (min(K, V) of them).
std::vector<double> singular_values(const float* S, int K, int V);

// Effective rank (Roy & Vetterli 2007): exp of the Shannon entropy of p_i = sigma_i / sum sigma.
// Between 1 (one direction) and min(K, V) (all equal); 0 for the zero matrix.
double effective_rank(const std::vector<double>& singular_values);

// Frobenius norm of n values.
double frobenius_norm(const float* values, size_t n);

} // namespace statescope::analysis
