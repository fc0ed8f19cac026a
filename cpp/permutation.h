// The shuffle permutation, shared by both backends so a seed gives the same epoch order on CPU and GPU:
// Fisher-Yates from the top, j drawn by Lemire's multiply-shift from a Philox word keyed by (seed, offset).
#pragma once
#include <cstddef>
#include <cstdint>

#include "philox.h"

namespace kn {

inline void fisher_yates(int32_t* indices, std::size_t n, uint64_t seed, uint64_t offset) {
  for (std::size_t i = 0; i < n; ++i) indices[i] = static_cast<int32_t>(i);
  for (std::size_t i = n; i > 1; --i) {
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32),
                                    static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    const std::size_t j = static_cast<std::size_t>((static_cast<uint64_t>(r.v[0]) * i) >> 32);
    const int32_t t = indices[i - 1];
    indices[i - 1] = indices[j];
    indices[j] = t;
  }
}

}  // namespace kn
