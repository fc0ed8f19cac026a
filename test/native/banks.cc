// Shared-memory bank conflicts of the GEMM kernels' tile layouts, counted from the formulas the kernels use
// (cuda/gemm_layout.cuh): for every warp access of every thread block, the passes it takes (the distinct
// words in its busiest bank; 16-byte accesses go 8 lanes at a time, 8-byte ones 16). Prints one JSON object
// per access pattern with its worst and its mean over the block: test/banks.test.ts reads them. The controls
// evaluate the same formulas without the padding, so the test also sees that the count can find a conflict.
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "../../cuda/gemm_layout.cuh"

using namespace kn::cu::layout;

// Passes of one warp access: word(lane) is the first word lane reads or writes, `words` words wide (1 or 4).
static int passes(const std::function<int(int)>& word, int words) {
  const int per_phase = 32 / words;
  int total = 0;
  for (int p0 = 0; p0 < 32; p0 += per_phase) {
    std::map<int, std::set<int>> banks;
    for (int lane = p0; lane < p0 + per_phase; ++lane)
      for (int w = 0; w < words; ++w) banks[(word(lane) + w) % 32].insert(word(lane) + w);
    int worst = 0;
    for (const auto& [bank, set] : banks) worst = set.size() > (size_t)worst ? (int)set.size() : worst;
    total += worst;
  }
  return total;
}

struct Stat {
  int worst = 0, ideal = 0;
  double sum = 0;
  int count = 0;
};
static std::map<std::string, Stat> stats;
static void add(const std::string& name, const std::function<int(int)>& word, int words) {
  Stat& s = stats[name];
  const int p = passes(word, words), ideal = words;  // a 16-byte access needs 4 passes at best
  s.worst = p > s.worst ? p : s.worst;
  s.ideal = ideal;
  s.sum += p;
  ++s.count;
}

// Kernel 1's inner-loop float4 reads of tile L, for each warp and k (the A rows' TM / 4 float4s each).
template <typename L>
static void simt_reads(const std::string& tile) {
  for (int warp = 0; warp < L::THREADS / 32; ++warp)
    for (int k = 0; k < L::BK; ++k) {
      for (int j = 0; j < L::TM / 4; ++j)
        add(
            tile + " A read (float4)", [&](int l) { return L::a_read_word(warp * 32 + l, k, j); }, 4);
      add(
          tile + " B read (float4)", [&](int l) { return L::b_read_word(warp * 32 + l, k); }, 4);
    }
}

// Kernel 1's tile stores of tile L, A and B as stored ("N") or transposed ("T"): element e = tid + THREADS i
// of a load, a warp's 32 consecutive e at a time.
template <typename L>
static void simt_stores(const std::string& tile, bool a_t, bool b_t) {
  const std::string ta = a_t ? "T" : "N", tb = b_t ? "T" : "N";
  for (int e0 = 0; e0 < L::BM * L::BK; e0 += 32)
    add(
        tile + " A" + ta + " store",
        [&](int l) { return L::a_word(L::a_load_m(a_t, e0 + l), L::a_load_k(a_t, e0 + l)); }, 1);
  for (int e0 = 0; e0 < L::BN * L::BK; e0 += 32)
    add(
        tile + " B" + tb + " store",
        [&](int l) { return L::b_word(L::b_load_k(b_t, e0 + l), L::b_load_n(b_t, e0 + l)); }, 1);
}

int main() {
  // Kernel 1 (SIMT): the tile loads' stores and the inner loop's float4 reads.
  for (int ta = 0; ta < 2; ++ta)
    for (int e0 = 0; e0 < Simt::BM * Simt::BK; e0 += 32) {
      const std::string t = ta ? "T" : "N";
      add(
          "simt A" + t + " store",
          [&](int l) { return Simt::a_word(Simt::a_load_m(ta, e0 + l), Simt::a_load_k(ta, e0 + l)); }, 1);
      add(
          "simt B" + t + " store",
          [&](int l) { return Simt::b_word(Simt::b_load_k(ta, e0 + l), Simt::b_load_n(ta, e0 + l)); }, 1);
      if (ta)
        add(
            "control: simt B" + t + " store unpadded",
            [&](int l) {
              return Simt::b_word(Simt::b_load_k(ta, e0 + l), Simt::b_load_n(ta, e0 + l), Simt::BN);
            },
            1);
    }
  simt_reads<Simt>("simt");
  // Kernel 1's narrow tile (the input gradient of 32 or fewer channels: A as stored, B transposed).
  using N = SimtNarrow;
  for (int e0 = 0; e0 < N::BM * N::BK; e0 += 32)
    add(
        "simt narrow AN store",
        [&](int l) { return N::a_word(N::a_load_m(false, e0 + l), N::a_load_k(false, e0 + l)); }, 1);
  for (int e0 = 0; e0 < N::BN * N::BK; e0 += 32)
    add(
        "simt narrow BT store",
        [&](int l) { return N::b_word(N::b_load_k(true, e0 + l), N::b_load_n(true, e0 + l)); }, 1);
  simt_reads<N>("simt narrow");
  // The 8 x 4 micro-tiles: SimtWide (every product, A and B either way) and SimtWideNarrow (the narrow input
  // gradient's).
  for (int t = 0; t < 2; ++t) simt_stores<SimtWide>("simt wide", t, t);
  simt_reads<SimtWide>("simt wide");
  simt_stores<SimtWideNarrow>("simt wide narrow", false, true);
  simt_reads<SimtWideNarrow>("simt wide narrow");
  // Kernel 3 (mma.sync): fragment loads for each warp, k step and register, and the cp.async stores.
  for (int t = 0; t < 2; ++t) {
    const std::string s = t ? "T" : "N";
    for (int warp = 0; warp < mma::THREADS / 32; ++warp)
      for (int kk = 0; kk < mma::BK; kk += 8) {
        const int wm = (warp % 4) * 32, wn = (warp / 4) * 32;
        for (int mi = 0; mi < 2; ++mi)
          for (int q = 0; q < 4; ++q) {
            auto m = [&](int l) { return mma::a_frag_m(wm + mi * 16, l, q); };
            auto k = [&](int l) { return mma::a_frag_k(kk, l, q); };
            add(
                "mma A" + s + " fragment", [&](int l) { return mma::a_word(t, m(l), k(l)); }, 1);
            add(
                "control: mma A" + s + " fragment, rows neither padded nor swizzled",
                [&](int l) { return t ? k(l) * mma::BM + m(l) : m(l) * mma::BK + k(l); }, 1);
          }
        for (int ni = 0; ni < 4; ++ni)
          for (int q = 0; q < 2; ++q) {
            auto n = [&](int l) { return mma::b_frag_n(wn + ni * 8, l); };
            auto k = [&](int l) { return mma::b_frag_k(kk, l, q); };
            add(
                "mma B" + s + " fragment", [&](int l) { return mma::b_word(t, k(l), n(l)); }, 1);
            add(
                "control: mma B" + s + " fragment, rows neither padded nor swizzled",
                [&](int l) { return t ? n(l) * mma::BK + k(l) : k(l) * mma::BN + n(l); }, 1);
          }
      }
    // cp.async stores, 16-byte runs: chunk c of the A tile as stored ([m][k], or [k][m] transposed) and B's.
    for (int c0 = 0; c0 < mma::BM * mma::BK / 4; c0 += 32) {
      const int a_cols = t ? mma::BM : mma::BK, b_cols = t ? mma::BK : mma::BN;
      add(
          "mma A" + s + " cp.async store (16 B)",
          [&](int l) {
            const int r = mma::chunk_row(a_cols, 4, c0 + l), c = mma::chunk_col(a_cols, 4, c0 + l);
            return t ? mma::a_word(true, c, r) : mma::a_word(false, r, c);
          },
          4);
      if (!t)
        add(
            "control: mma A" + s + " cp.async store (16 B), rows padded by 4 (not swizzled)",
            [&](int l) {
              const int r = mma::chunk_row(a_cols, 4, c0 + l), c = mma::chunk_col(a_cols, 4, c0 + l);
              return r * (a_cols + 4) + c;
            },
            4);
      if (c0 >= mma::BN * mma::BK / 4) continue;
      add(
          "mma B" + s + " cp.async store (16 B)",
          [&](int l) {
            const int r = mma::chunk_row(b_cols, 4, c0 + l), c = mma::chunk_col(b_cols, 4, c0 + l);
            return t ? mma::b_word(true, c, r) : mma::b_word(false, r, c);
          },
          4);
    }
  }
  // The kernel reads fragments through per-lane bases plus constant offsets: the same words as a_word/b_word.
  int mismatches = 0;
  for (int t = 0; t < 2; ++t)
    for (int warp = 0; warp < mma::THREADS / 32; ++warp)
      for (int lane = 0; lane < 32; ++lane)
        for (int kk = 0; kk < mma::BK; kk += 8) {
          const int wm = (warp % 4) * 32, wn = (warp / 4) * 32;
          for (int mi = 0; mi < 2; ++mi)
            for (int q = 0; q < 4; ++q)
              mismatches += mma::a_frag_base(t, wm, lane, mma::a_frag_chunk(kk, q)) +
                                (mi * 16 + (q & 1) * 8) * mma::a_row_step(t) !=
                            mma::a_word(t, mma::a_frag_m(wm + mi * 16, lane, q), mma::a_frag_k(kk, lane, q));
          for (int ni = 0; ni < 4; ++ni)
            for (int q = 0; q < 2; ++q)
              mismatches +=
                  mma::b_frag_base(t, wn, lane, mma::b_frag_chunk(kk, q)) + ni * 8 * mma::b_col_step(t) !=
                  mma::b_word(t, mma::b_frag_k(kk, lane, q), mma::b_frag_n(wn + ni * 8, lane));
        }
  std::printf(
      "{\"access\": \"fragment base + offset differs from the layout\", \"worst\": %d, \"ideal\": 0, "
      "\"mean\": 0}\n",
      mismatches);
  for (const auto& [name, s] : stats)
    std::printf("{\"access\": \"%s\", \"worst\": %d, \"ideal\": %d, \"mean\": %.3f}\n", name.c_str(), s.worst,
                s.ideal, s.sum / s.count);
}
