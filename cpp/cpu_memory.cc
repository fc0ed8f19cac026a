// CPU memory, fills and data movement: alloc/release, copies, fill, gather of shuffled rows, one-hot, bytes
// to floats.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu_backend.h"
#include "env.h"

namespace kn {

bool poison_scratch() {
  return env::flag(env::Var::kPoisonScratch);
}

Backend& cpu_backend() {
  static CpuBackend* backend = new CpuBackend();  // lives for the process: tensors of any env may use it
  return *backend;
}

void* CpuBackend::alloc(std::size_t bytes) {
  // 64-byte alignment for vector loads; aligned_alloc needs a size that is a multiple of the alignment.
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded ? rounded : 64);
}

void CpuBackend::release(void* p) {
  std::free(p);
}

Status CpuBackend::upload(void* dst, const void* src, std::size_t bytes) {
  std::memcpy(dst, src, bytes);
  return Status::Ok();
}

Status CpuBackend::download(void* dst, const void* src, std::size_t bytes) {
  std::memcpy(dst, src, bytes);
  return Status::Ok();
}

Status CpuBackend::fill(float* dst, float value, std::size_t count) {
  parallel_chunks(count, kGrain * 4, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) dst[i] = value;
  });
  return Status::Ok();
}

Status CpuBackend::gather_rows(const float* src, std::size_t src_rows, std::size_t row_size,
                               const int32_t* indices, std::size_t n_indices, std::size_t start,
                               const int32_t* counter, std::size_t rows, float* dst) {
  const std::size_t first = start + counter_value(counter) * rows;
  parallel_chunks(rows, (kGrain + row_size - 1) / row_size, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const int32_t i = first + r < n_indices ? indices[first + r] : -1;
      float* out = dst + r * row_size;
      if (i < 0 || static_cast<std::size_t>(i) >= src_rows)
        std::memset(out, 0, sizeof(float) * row_size);
      else
        std::memcpy(out, src + static_cast<std::size_t>(i) * row_size, sizeof(float) * row_size);
    }
  });
  return Status::Ok();
}

Status CpuBackend::advance(int32_t* counter) {
  if (*counter < INT32_MAX) ++*counter;
  return Status::Ok();
}

Status CpuBackend::one_hot(const int32_t* labels, std::size_t n, int k, float* out) {
  std::memset(out, 0, sizeof(float) * n * k);
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] >= 0 && labels[i] < k) out[i * k + labels[i]] = 1.0f;
  return Status::Ok();
}

Status CpuBackend::from_bytes(const uint8_t* src, std::size_t count, float divisor, float* dst) {
  parallel_chunks(count, kGrain * 4, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) dst[i] = static_cast<float>(src[i]) / divisor;
  });
  return Status::Ok();
}

}  // namespace kn
