// CPU memory, fills and data movement: alloc/release, copies, fill, gather of shuffled rows, one-hot, bytes
// to floats.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

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

namespace {

// Freed tensor blocks of up to 1 MiB are kept for reuse, by power-of-two size class, up to 32 MiB in all: a
// small op's output (kernelnet/tfjs's tensor math makes one per call) then costs no malloc, where glibc's
// allocator would give the pages back to the kernel on each free at the top of the heap and fault them in
// again on the next malloc (about 5 us for a 1 kB tensor, 14 us for 4 kB, measured). Each block starts with a
// 64-byte header holding its class (-1: a larger block, freed at once), so release() needs no size. Under
// AddressSanitizer nothing is cached, so a use after free is still reported.
constexpr std::size_t kHeader = 64;
constexpr int kClasses = 15;  // 64 B << 0 .. 14: up to 1 MiB
constexpr std::size_t kCacheCap = std::size_t{32} << 20;

struct BlockCache {
  std::mutex mutex;
  std::vector<void*> free[kClasses];
  std::size_t cached = 0;
};

BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();  // never destroyed: a thread may free a tensor at exit
  return *cache;
}

int size_class(std::size_t bytes) {
  int k = 0;
  for (std::size_t c = 64; c < bytes && k < kClasses; c <<= 1) ++k;
  return k;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheBlocks = false;
#else
constexpr bool kCacheBlocks = true;
#endif

}  // namespace

void* CpuBackend::alloc(std::size_t bytes) {
  // 64-byte alignment for vector loads; aligned_alloc needs a size that is a multiple of the alignment.
  const int k = kCacheBlocks ? size_class(bytes) : kClasses;
  if (k < kClasses) {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (!c.free[k].empty()) {
      void* p = c.free[k].back();
      c.free[k].pop_back();
      c.cached -= std::size_t{64} << k;
      return p;
    }
  }
  const std::size_t rounded = k < kClasses ? std::size_t{64} << k : (bytes + 63) / 64 * 64;
  char* raw = static_cast<char*>(std::aligned_alloc(64, kHeader + rounded));
  if (!raw) return nullptr;
  const int tag = k < kClasses ? k : -1;
  std::memcpy(raw, &tag, sizeof tag);
  return raw + kHeader;
}

void CpuBackend::release(void* p) {
  if (!p) return;
  char* raw = static_cast<char*>(p) - kHeader;
  int k;
  std::memcpy(&k, raw, sizeof k);
  if (k >= 0 && k < kClasses) {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.cached + (std::size_t{64} << k) <= kCacheCap) {
      c.free[k].push_back(p);
      c.cached += std::size_t{64} << k;
      return;
    }
  }
  std::free(raw);
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

Status CpuBackend::gather_rows(const RowCopy* copies, int count, const int32_t* indices,
                               std::size_t n_indices, std::size_t start, const int32_t* counter,
                               std::size_t rows) {
  const std::size_t first = start + counter_value(counter) * rows;
  for (int c = 0; c < count; ++c) {
    const RowCopy& rc = copies[c];
    const std::size_t row_size = rc.row_size;
    if (!row_size) continue;
    parallel_chunks(rows, (kGrain + row_size - 1) / row_size, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const int32_t i = first + r < n_indices ? indices[first + r] : -1;
        float* out = rc.dst + r * row_size;
        if (i < 0 || static_cast<std::size_t>(i) >= rc.src_rows)
          std::memset(out, 0, sizeof(float) * row_size);
        else
          std::memcpy(out, rc.src + static_cast<std::size_t>(i) * row_size, sizeof(float) * row_size);
      }
    });
  }
  return Status::Ok();
}

Status CpuBackend::advance(int32_t* counter, int32_t* also) {
  if (*counter < INT32_MAX) ++*counter;
  if (also && *also < INT32_MAX) ++*also;
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
