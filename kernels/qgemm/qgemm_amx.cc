// AMX (Advanced Matrix Extensions: TDPBUSD and TDPBSUD on tile registers): the fused GEMM forms
// (qgemm.h) in blocks of 32 rows × one 32-column panel as four 16×16 int32 tiles, 64 bytes of
// k per step. A's tile rows are read in place at their stride; B's tiles are the panels as
// packed for every NR = 32 kernel ([K/4][32][4]: one 16-row tile of k-quads is 16 columns at a
// 128-byte stride). TDPBUSD sums exact u8·s8 products into int32 with wrap-around, the same
// sums as VPDPBUSD, so the k left over after the whole 64-byte steps is finished by the VNNI k
// loop in zmm registers (avx512_tile.h Accumulate), where the output stage runs too
// (Epilogue): integer adds, so the order cannot change the total. Rows left over after the
// 16-row tiles, short k (under 16 quads) and GEMV calls go to the VNNI kernels whole.
//
// A call configures the tiles unless they already have this file's configuration (LDTILECFG
// costs about 60 ns: a 16-row call at k = 64 took 134 ns with it, 80 without; STTILECFG and a
// compare, next to nothing), and leaves them configured: the GEMM driver releases them when a
// thread's share of a product ends (QGemmKernel::release). The Linux kernel saves tile state per
// thread; AmxUsable asks it once for the permission a process needs first.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common/no_init_allocator.h"
#include "kernels/qgemm/avx512_tile.h"
#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {
namespace {

constexpr int kStepBytes = 64;  // k bytes per tile step (a tile row)
constexpr int kStepK4 = kStepBytes / 4;
constexpr int kPanelRow = 128;  // bytes per k-quad row of a 32-column panel
constexpr int64_t kPanelStep = int64_t{kStepK4} * kPanelRow;  // bytes of a panel per step

// Palette 1, every tile 16 rows of 64 bytes. C: tiles 0–3 (rows 0–15 | 16–31 × columns 0–15 |
// 16–31), A: 4 (rows 0–15) and 5 (rows 16–31), B: 6 (columns 0–15) and 7 (columns 16–31).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void ConfigureTiles() {
  static const TileConfig config = [] {
    TileConfig c;
    for (int t = 0; t < 8; ++t) {
      c.colsb[t] = kStepBytes;
      c.rows[t] = 16;
    }
    return c;
  }();
  TileConfig now;
  _tile_storeconfig(&now);  // whoever used the tiles last on this thread may have set others
  asm volatile("" : : "r"(&now) : "memory");  // GCC 12 does not model STTILECFG's 64-byte write
  if (std::memcmp(&now, &config, sizeof config) != 0) _tile_loadconfig(&config);
}

// GCC 12's _tile_loadd is an asm statement with no memory operand or clobber, so the compiler
// does not know it reads memory: bytes this file stores for a tile load to read (a staged copy,
// the sums' start row) pass this barrier first, or the stores could move past the load.
inline __attribute__((always_inline)) void StoresBeforeTileLoads() { asm volatile("" : : : "memory"); }

// Sixteen rows of A as a tile operand: row i at base + i·stride.
struct TileRows {
  const uint8_t* base;
  int64_t stride;
};

// What a block's sum tiles start from: zero, or every row the per-column starting values
// start[0..31] (64-byte aligned; tile rows loaded at stride 0).
enum class SumsStart { kZero, kColumns };

// Sum tile c (0–3: rows 16·(c / 2).., columns 16·(c % 2)..) started as kStart says.
#define QFARM_TILE_START(kStart, c, start)                  \
  do {                                                      \
    if constexpr (kStart == SumsStart::kZero) {             \
      _tile_zero(c);                                        \
    } else {                                                \
      _tile_loadd(c, (start) + 16 * ((c) % 2), 0);          \
    }                                                       \
  } while (0)

// The sum tiles started (kGroups, 1 or 2, sixteen-row groups; kHalf: only the panel's first
// 16 columns).
template <int kGroups, bool kHalf, SumsStart kStart>
inline __attribute__((always_inline)) void StartSums(const int32_t* start) {
  QFARM_TILE_START(kStart, 0, start);
  if (!kHalf) QFARM_TILE_START(kStart, 1, start);
  if (kGroups == 2) {
    QFARM_TILE_START(kStart, 2, start);
    if (!kHalf) QFARM_TILE_START(kStart, 3, start);
  }
}

// `steps` 64-byte k steps into the sum tiles. kS8U8: A holds s8 rows and B u8 panels (TDPBSUD),
// otherwise u8 rows and s8 panels (TDPBUSD).
template <int kGroups, bool kS8U8, bool kHalf>
inline __attribute__((always_inline)) void TileSteps(int64_t steps, TileRows g0, TileRows g1, const uint8_t* b) {
  for (int64_t j = 0; j < steps; ++j, b += kPanelStep) {
    _tile_loadd(6, b, kPanelRow);
    if (!kHalf) _tile_loadd(7, b + 64, kPanelRow);
    _tile_loadd(4, g0.base + j * kStepBytes, g0.stride);
    if constexpr (kS8U8) {
      _tile_dpbsud(0, 4, 6);
      if (!kHalf) _tile_dpbsud(1, 4, 7);
    } else {
      _tile_dpbusd(0, 4, 6);
      if (!kHalf) _tile_dpbusd(1, 4, 7);
    }
    if (kGroups == 1) continue;
    _tile_loadd(5, g1.base + j * kStepBytes, g1.stride);
    if constexpr (kS8U8) {
      _tile_dpbsud(2, 5, 6);
      if (!kHalf) _tile_dpbsud(3, 5, 7);
    } else {
      _tile_dpbusd(2, 5, 6);
      if (!kHalf) _tile_dpbusd(3, 5, 7);
    }
  }
}

// The first product of a sum tile (kS8U8: TDPBSUD, s8 A and u8 B).
#define QFARM_TILE_PRODUCT(kS8U8, c, a, b) \
  do {                                     \
    if constexpr (kS8U8) {                 \
      _tile_dpbsud(c, a, b);               \
    } else {                               \
      _tile_dpbusd(c, a, b);               \
    }                                      \
  } while (0)

// The sum tiles of a block of kGroups groups into sums[32][32] (row stride 128 bytes), each one,
// once stored, started (StartSums) and given its first product of the next block (kNext groups, 0:
// none), whose first step's operands are already in tiles 4–7. kGroups 0: no block before (a
// call's first), nothing stored. The tile unit runs tile loads
// only after the tile stores before them: loading the next block's operands after the four
// stores, as until session 22, left it idle between blocks (the 128×768×768 GEMM's bare tile
// loop 30.4 µs against 28.4 this way, docs/kernels.md "session 22").
template <int kGroups, int kNext, bool kHalf, bool kS8U8, SumsStart kStart>
inline __attribute__((always_inline)) void StoreAndStart(int32_t* sums, const int32_t* start) {
  asm volatile("" : : : "memory");  // the sums' earlier readers have read them
  if constexpr (kGroups > 0) _tile_stored(0, sums, 128);
  if constexpr (kNext > 0) {
    QFARM_TILE_START(kStart, 0, start);
    QFARM_TILE_PRODUCT(kS8U8, 0, 4, 6);
  }
  if constexpr (!kHalf) {
    if constexpr (kGroups > 0) _tile_stored(1, sums + 16, 128);
    if constexpr (kNext > 0) {
      QFARM_TILE_START(kStart, 1, start);
      QFARM_TILE_PRODUCT(kS8U8, 1, 4, 7);
    }
  }
  if constexpr (kGroups == 2) _tile_stored(2, sums + 16 * 32, 128);
  if constexpr (kNext == 2) {
    QFARM_TILE_START(kStart, 2, start);
    QFARM_TILE_PRODUCT(kS8U8, 2, 5, 6);
  }
  if constexpr (!kHalf) {
    if constexpr (kGroups == 2) _tile_stored(3, sums + 16 * 32 + 16, 128);
    if constexpr (kNext == 2) {
      QFARM_TILE_START(kStart, 3, start);
      QFARM_TILE_PRODUCT(kS8U8, 3, 5, 7);
    }
  }
  asm volatile("" : : : "memory");  // the sums are read after (StoresBeforeTileLoads, the other way)
}

#undef QFARM_TILE_START
#undef QFARM_TILE_PRODUCT

// StoreAndStart for a next block of next_groups groups (0: none), its first step's operands
// loaded into tiles 4–7 first by load(std::integral_constant<int, next_groups>).
template <int kGroups, bool kHalf, bool kS8U8, SumsStart kStart, typename Load>
inline __attribute__((always_inline)) void StoreAndStartNext(int next_groups, int32_t* sums, const int32_t* start,
                                                             Load load) {
  if (next_groups == 2) {
    load(std::integral_constant<int, 2>{});
    StoreAndStart<kGroups, 2, kHalf, kS8U8, kStart>(sums, start);
  } else if (next_groups == 1) {
    load(std::integral_constant<int, 1>{});
    StoreAndStart<kGroups, 1, kHalf, kS8U8, kStart>(sums, start);
  } else {
    StoreAndStart<kGroups, 0, kHalf, kS8U8, kStart>(sums, start);
  }
}

// The rows of a call that go through the tiles (OnTiles): `blocks` blocks of 32 from row 0, one
// of 16 after them where `extra`, then, where last_groups is 1 or 2, one more of last_groups·16
// rows from row `last`, which overlaps rows already made (computed and stored again, the same
// values). One schedule per call, so the streamed forms keep their pipeline through the last
// block.
struct TileSchedule {
  int blocks = 0;
  bool extra = false;
  int last = 0, last_groups = 0;
};

// A block of a TileSchedule: its groups (1 or 2; 0: none, after the last) and first row.
struct TileBlock {
  int groups = 0, r0 = 0;
};

// block(groups, r0, next) for each block of t in order: groups (1 or 2) a
// std::integral_constant, next the TileBlock after it.
template <typename Block>
inline __attribute__((always_inline)) void ForEachBlock(const TileSchedule& t, Block block) {
  auto at = [&](int i) -> TileBlock {
    if (i < t.blocks) return {2, 32 * i};
    i -= t.blocks;
    if (t.extra && i-- == 0) return {1, 32 * t.blocks};
    if (t.last_groups && i == 0) return {t.last_groups, t.last};
    return {};
  };
  const int count = t.blocks + (t.extra ? 1 : 0) + (t.last_groups ? 1 : 0);
  for (int i = 0; i < count; ++i) {
    const TileBlock b = at(i), next = at(i + 1);
    b.groups == 2 ? block(std::integral_constant<int, 2>{}, b.r0, next)
                  : block(std::integral_constant<int, 1>{}, b.r0, next);
  }
}

// GCC 12's false warnings inside its intrinsics (avx512_tile.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// The block of kGroups·16 rows from row r0: its tile sums in eight-row pieces into zmm, plus
// the per-column terms unless the tiles started from them (kTileStart, StartSums) and row_const
// where set, finished by tail(r, lo, hi) for the k after the tile steps (rows r..r+7 of the
// block), then the output stage.
template <int kGroups, bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf, bool kClamp, bool kWide,
          bool kTileStart, typename Tail>
inline __attribute__((always_inline)) void Finish(const int32_t* sums,
                                                  const PanelStage<kSigned, kS8U8, kRowFactor, kHalf>& ps,
                                                  const FusedOutput& o, int r0, Tail tail) {
  for (int piece = 0; piece < kGroups * 2; ++piece) {
    const int r = piece * 8;
    __m512i lo[8], hi[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      lo[i] = _mm512_load_si512(sums + (r + i) * 32);
      if (!kHalf) hi[i] = _mm512_load_si512(sums + (r + i) * 32 + 16);
      if (!kTileStart && !kS8U8) {  // the s8·u8 form starts from zero
        lo[i] = _mm512_add_epi32(lo[i], ps.start_lo);
        if (!kHalf) hi[i] = _mm512_add_epi32(hi[i], ps.start_hi);
      }
    }
    if (o.row_const) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512i rc = _mm512_set1_epi32(o.row_const[r0 + r + i]);
        lo[i] = _mm512_add_epi32(lo[i], rc);
        if (!kHalf) hi[i] = _mm512_add_epi32(hi[i], rc);
      }
    }
    tail(r, lo, hi);
    Epilogue<8, kSigned, kS8U8, kRowFactor, kHalf, kClamp, kWide>(lo, hi, ps, o, r0 + r);
  }
}

// Rows [0, 32·blocks + 16·extra) of a block whose rows are `segments` runs of seg_k4 k-quads,
// B's k in run order: each run's whole k steps on tiles, every run's rest in zmm. The runs come
// from `runs` (StridedRuns, PointerRuns, SegmentRuns below): runs.tile(s, r, group) is rows
// r..r+15 of run s as a tile operand (group: 0 or 1, which half of the block), runs.rows(s, r,
// offset) the rows from r as the VNNI k loop reads them, `offset` bytes into the run.
template <bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf, bool kClamp, typename Runs>
__attribute__((noinline)) void Blocks(const TileSchedule& schedule, int segments, int64_t seg_k4, Runs& runs,
                                      const uint8_t* b, const FusedOutput& o) {
  // The padded-plane (wide) rows start their sum tiles from the per-column terms, sparing the
  // output stage an add per vector: the ResNet 3×3 kernel 73.5–75.9 → 67.5–70.0 µs. Matmul
  // rows keep zeroed tiles: loading the start made the 128×768×768 GEMM's calls 3–4% slower.
  // (The s8·u8 form has no per-column terms: its tiles start from zero.)
  constexpr bool kWide = Runs::kWide, kTileStart = Runs::kPlane && !kS8U8;
  constexpr SumsStart kSumsStart = kTileStart ? SumsStart::kColumns : SumsStart::kZero;
  const PanelStage<kSigned, kS8U8, kRowFactor, kHalf> ps(o);
  alignas(64) int32_t sums[32 * 32], start[32];
  if constexpr (kTileStart) {
    _mm512_store_si512(start, ps.start_lo);
    _mm512_store_si512(start + 16, ps.start_hi);
    StoresBeforeTileLoads();
  }
  const int64_t steps = seg_k4 / kStepK4, tail_k4 = seg_k4 % kStepK4;
  bool started = false;  // the block's first step made by the previous block's end
  auto block = [&](auto groups, int r0, TileBlock next) {
    constexpr int kGroups = decltype(groups)::value;
    if (!started) StartSums<kGroups, kHalf, kSumsStart>(start);
    for (int s = 0; s < segments; ++s) {
      const TileRows g0 = runs.tile(s, r0, 0);
      const TileRows g1 = kGroups == 2 ? runs.tile(s, r0 + 16, 1) : g0;
      const int64_t from = s == 0 && started ? 1 : 0;  // steps made
      TileSteps<kGroups, kS8U8, kHalf>(steps - from, {g0.base + from * kStepBytes, g0.stride},
                                       {g1.base + from * kStepBytes, g1.stride}, b + s * seg_k4 * kPanelRow + from * kPanelStep);
    }
    // The next block's first step started as this one's sums are stored (StoreAndStart), its
    // tile products running while this block's output stage does.
    StoreAndStartNext<kGroups, kHalf, kS8U8, kSumsStart>(next.groups, sums, start, [&](auto next_groups) {
      asm volatile("" : : : "memory");  // a staged copy (PointerRuns) is overwritten after this block's loads
      const TileRows n0 = runs.tile(0, next.r0, 0);
      _tile_loadd(6, b, kPanelRow);
      if (!kHalf) _tile_loadd(7, b + 64, kPanelRow);
      _tile_loadd(4, n0.base, n0.stride);
      if constexpr (decltype(next_groups)::value == 2) {
        const TileRows n1 = runs.tile(0, next.r0 + 16, 1);
        _tile_loadd(5, n1.base, n1.stride);
      }
    });
    started = next.groups != 0;
    Finish<kGroups, kSigned, kS8U8, kRowFactor, kHalf, kClamp, kWide, kTileStart>(sums, ps, o, r0, [&](int r, auto& lo, auto& hi) {
      for (int s = 0; s < segments && tail_k4; ++s) {
        Accumulate<8, kS8U8, kHalf>(tail_k4, runs.rows(s, r0 + r, steps * kStepBytes),
                                    b + (s * seg_k4 + steps * kStepK4) * kPanelRow, lo, hi);
      }
    });
  };
  ForEachBlock(schedule, block);
}

// Rows at a + r·lda, one run (qgemm.h QGemmFusedUkernel and its s8·u8 twin).
struct StridedRuns {
  static constexpr bool kPlane = false, kWide = false;
  const uint8_t* a;
  int64_t lda;
  TileRows tile(int, int r, int) const { return {a + r * lda, lda}; }
  StridedRows rows(int, int r, int64_t offset) const { return {a + r * lda + offset, lda}; }
};

// Run s of row r at base[s] + r·lda, every group of 16 rows a tile operand in place:
// a padded plane's wide rows (qgemm.h QGemmFusedSegmentsUkernel, FusedOutput::wide_period) or,
// kWideRows false, a dense stretch of output positions read from the image in place
// (conv_nhwc.cc ConvFlat), rows stored in order.
template <bool kWideRows>
struct SegmentRuns {
  static constexpr bool kPlane = true, kWide = kWideRows;
  const uint8_t* const* base;
  int64_t lda;
  TileRows tile(int s, int r, int) const { return {base[s] + r * lda, lda}; }
  StridedRows rows(int s, int r, int64_t offset) const { return {base[s] + r * lda + offset, lda}; }
};
using PlaneRuns = SegmentRuns<true>;
using FlatRuns = SegmentRuns<false>;

// Run s of indirect rows, read `offset` bytes in: p[r·stride] + offset.
struct RunRows {
  const uint8_t* const* p;
  int stride;
  int64_t offset;
  const uint8_t* operator()(int r) const { return p[r * stride] + offset; }
};

// Run s of row r at p[r·segments + s] (qgemm.h QGemmFusedIndirectUkernel). Sixteen rows of a run
// are a tile operand in place when equally spaced (positions along one output row, away from
// the image's edges), else their first `bytes` (the whole tile steps) are copied to the group's
// half of a staging buffer (16 rows of `bytes` each, cache-line aligned).
struct PointerRuns {
  static constexpr bool kPlane = false, kWide = false;
  const uint8_t* const* p;
  int segments;
  int64_t bytes;
  uint8_t* stage;  // 32 rows of `bytes`
  TileRows tile(int s, int r, int group) const {
    const uint8_t* const* q = p + r * segments + s;
    const uintptr_t base = reinterpret_cast<uintptr_t>(q[0]), d = reinterpret_cast<uintptr_t>(q[segments]) - base;
    bool even = true;
    for (int i = 2; i < 16; ++i) even &= reinterpret_cast<uintptr_t>(q[i * segments]) == base + i * d;
    if (even) return {q[0], static_cast<int64_t>(d)};
    uint8_t* dst = stage + group * 16 * bytes;
    for (int i = 0; i < 16; ++i) std::memcpy(dst + i * bytes, q[i * segments], static_cast<size_t>(bytes));
    StoresBeforeTileLoads();
    return {dst, bytes};
  }
  RunRows rows(int s, int r, int64_t offset) const { return {p + r * segments + s, segments, offset}; }
};

#pragma GCC diagnostic pop

// o for the rows from row r on (per-row terms and the output advanced; per_row_mult: the s8·u8
// form's multipliers are per row).
FusedOutput RowsFrom(const FusedOutput& o, int r, bool per_row_mult) {
  FusedOutput s = o;
  if (s.row_const) s.row_const += r;
  if (s.row_factor) s.row_factor += r;
  if (per_row_mult) s.mult += r;
  if (s.wide_period) {
    s.wide_row0 += r;
  } else {
    s.out = static_cast<uint8_t*>(o.out) + r * o.ldo;
  }
  return s;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// Rows through several panels, rows outermost (qgemm.h QGemmFusedPanelsUkernel): each 32-row
// block of A, read from L2 for its first panel and from L1 after, meets every panel of a group
// in turn; B streams from L2 and is loaded with TILELOADDT1, which keeps it from pushing A out of
// L1; and each block's output stage runs one block behind, a row after each tile product of the
// next block, while the tile unit works. A test program of this schedule on the 128×768×768 GEMM
// (one thread): panel by panel 52–55 µs; rows outermost, B loaded plainly 53–55; B streamed but
// the stage after each block 48–56; all three 33–35 (no output stage at all: 36–38).
// Groups of panels of at most kStreamGroupBytes stay in L2 (2 MiB per core on the AMX parts)
// while the row blocks pass: at k = 3072, 24 panels in one group took 440 µs, in groups of 1 MiB
// 265, panel by panel 257 (a block's A rows no longer fit L1); at k = 2048, 155 against 169.
// Past kStreamMaxK4 the form takes k in chunks of at most kChunkSteps steps (a block's A rows
// of a chunk, 24 KiB, stay in L1 while it meets the panels) for kChunkBlocks blocks at a time:
// the 128×3072×768 GEMM 229–238 µs block by block, 208–216 in chunks (test program, one
// thread, alternating runs); at k = 2048, chunks were slower (153 against 140), and chunks of
// 16 steps or 4 blocks at a time no faster. From one k step up (kStreamMinK4) streamed is
// as fast or faster since each block's end loads the next one's operands before its stores
// (StoreAndStart; before that, panel by panel was faster below k = 512). Test program, the
// panels form alone, median µs panel by panel against streamed: 784 rows × 2 panels at k = 64
// 6.0 against 5.2, at k = 256 11.0 against 9.2; 196 × 2 at k = 384 3.6 against 3.0; 784 × 5
// at k = 192 21.9 against 16.9; one panel, 784 rows at k = 256, 4.8 both.
constexpr int64_t kStreamGroupBytes = int64_t{1} << 20;
constexpr int64_t kStreamMinK4 = kStepK4;
constexpr int64_t kStreamMaxK4 = 2048 / 4;
constexpr int64_t kChunkSteps = 768 / kStepBytes;
constexpr size_t kChunkBlocks = 8;

// What the output stage makes of a unit's sums where a call takes k in chunks (StreamedBlocks):
// the first chunk's are saved as the block's partial sums, a later one's added to them, the
// last one's added to them and then requantized and stored. (Storing the sum tiles there and
// loading them back as the next chunk's start instead was 2% slower on the 128×3072×768 GEMM.)
enum class ChunkUse { kSave, kAdd, kFinish };

// The output stage of a block of one panel (no per-row terms) whose sums sit in `sums` (rows of
// 32 int32), run a row at a time, a few between the next block's tile products. `Pending` is
// such a block as StreamedBlocks keeps it: its panel's stage (made once per call), where its
// output starts and how many rows it has; for wide rows (PlaneRuns, FusedOutput::wide_period),
// the column of its first row in its wide row (a padding column's row is requantized and its
// store masked off; row pointers formed per block, RowOutputs, made the ResNet 3×3 kernel 15%
// slower than storing every wide row). A BehindStage is made from it at the top of the next
// block's k steps, its panel's constants in locals the compiler keeps in registers, and is done
// with at their end: copying one stage object into the steps and back around each block, as
// before, cost the ResNet 3×3 kernel about 5%.
template <bool kSigned>
struct Pending {
  const PanelStage<kSigned, false, false, false>* ps;
  uint8_t* out = nullptr;
  int64_t ox = 0;
  int rows = 0;
  int32_t* partial = nullptr;  // a chunked call's (StreamedUnit)
  ChunkUse use = ChunkUse::kFinish;
};

// What every block of a call shares: the sums, the output's row stride and the wide rows'
// period and valid columns.
struct StageShape {
  int32_t* sums;
  int64_t ldo, period, valid;
};

template <bool kSigned, bool kClamp, bool kWide, bool kChunked>
struct BehindStage {
  const int32_t* sums;
  __m512i start_lo, start_hi;
  __m512 mlo, mhi;
  __mmask64 kout;
  PackBounds512 bounds;
  uint8_t* out;  // the next row's output (kWide: the next output position's)
  int64_t ldo, ox, period, valid;  // ox: kWide, the next row's column in its wide row
  int next = 0, rows;
  int32_t* partial;  // kChunked
  ChunkUse use;

  BehindStage(const StageShape& shape, const Pending<kSigned>& p)
      : sums(shape.sums),
        start_lo(p.ps->start_lo),
        start_hi(p.ps->start_hi),
        mlo(p.ps->mlo),
        mhi(p.ps->mhi),
        kout(p.ps->kout),
        bounds(p.ps->bounds),
        out(p.out),
        ldo(shape.ldo),
        ox(p.ox),
        period(shape.period),
        valid(shape.valid),
        rows(p.rows),
        partial(p.partial),
        use(p.use) {}
  inline __attribute__((always_inline)) void Row() {
    const int r = next++;
    __m512i lo = _mm512_load_si512(sums + r * 32), hi = _mm512_load_si512(sums + r * 32 + 16);
    if constexpr (kChunked) {
      int32_t* row = partial + r * 32;
      if (use != ChunkUse::kSave) {
        lo = _mm512_add_epi32(lo, _mm512_load_si512(row));
        hi = _mm512_add_epi32(hi, _mm512_load_si512(row + 16));
      }
      if (use != ChunkUse::kFinish) {
        _mm512_store_si512(row, lo);
        _mm512_store_si512(row + 16, hi);
        return;
      }
    }
    const bool store = !kWide || ox < valid;
    lo = _mm512_add_epi32(lo, start_lo);
    hi = _mm512_add_epi32(hi, start_hi);
    RequantizeStore512<kSigned, false, kClamp>(lo, hi, mlo, mhi, bounds, out, store ? kout : 0);
    out += store ? ldo : 0;
    if (kWide) ox = ox + 1 == period ? 0 : ox + 1;
  }
  inline __attribute__((always_inline)) void Finish() {
    while (next < rows) Row();
  }
};

// A k step of a u8·s8 block (64 bytes at `offset` into the A rows of g0 and g1) into the sum
// tiles, B loaded with TILELOADDT1; where kBehind, four of behind's rows between the tile
// products (two after each of a 16-row block's two).
template <int kGroups, bool kBehind, typename Behind>
inline __attribute__((always_inline)) void StreamedStep(TileRows g0, TileRows g1, int64_t offset, const uint8_t* b,
                                                        Behind& behind) {
  auto rows = [&]() __attribute__((always_inline)) {
    for (int q = 0; kBehind && q < (kGroups == 2 ? 1 : 2); ++q) behind.Row();
  };
  _tile_stream_loadd(6, b, kPanelRow);
  _tile_stream_loadd(7, b + 64, kPanelRow);
  _tile_loadd(4, g0.base + offset, g0.stride);
  _tile_dpbusd(0, 4, 6);
  rows();
  if (kGroups == 2) _tile_loadd(5, g1.base + offset, g1.stride);
  _tile_dpbusd(1, 4, 7);
  rows();
  if (kGroups == 1) return;
  _tile_dpbusd(2, 5, 6);
  rows();
  _tile_dpbusd(3, 5, 7);
  rows();
}

// A block's panel over one k chunk in a streamed call: its groups (1 or 2), each of its k
// steps' A rows (a[t], and a[t] + 16·lda for the second group), B's panel from its first step,
// how many steps, which block and panel it is and, where the call takes k in chunks, the
// block's partial sums for the panel and what the output stage makes of its sums.
struct StreamedUnit {
  int groups = 0;  // 0: none (after a call's last)
  const uint8_t* const* a = nullptr;
  int64_t lda = 0;
  const uint8_t* b = nullptr;
  int64_t steps = 0;
  int block = 0, panel = 0;
  int32_t* partial = nullptr;
  ChunkUse use = ChunkUse::kFinish;
};

// The operands of u's first k step into tiles 4–7 (B with TILELOADDT1).
template <int kGroups>
inline __attribute__((always_inline)) void LoadFirstStep(const StreamedUnit& u) {
  _tile_stream_loadd(6, u.b, kPanelRow);
  _tile_stream_loadd(7, u.b + 64, kPanelRow);
  _tile_loadd(4, u.a[0], u.lda);
  if (kGroups == 2) _tile_loadd(5, u.a[0] + 16 * u.lda, u.lda);
}

// Unit u's k steps after its first (made by StoreAndStart or the call's start) with the output
// stage of the pending block, four rows per step from the first (rows a multiple of 4) and the
// rows that do not fit (steps too few) after them; then its sums stored and the next unit
// started. (A loop over the runs and their steps here spilled registers at each run's start:
// the ResNet 3×3 kernel's three runs of three steps took 4% longer.)
template <int kGroups, bool kSigned, bool kClamp, bool kWide, bool kChunked>
inline __attribute__((always_inline)) void StreamedSteps(const StreamedUnit& u, const StreamedUnit& next,
                                                         const StageShape& shape, const Pending<kSigned>& pending) {
  BehindStage<kSigned, kClamp, kWide, kChunked> behind(shape, pending);
  auto group = [&](int64_t t, int g) -> TileRows {
    return {g == 1 && kGroups == 2 ? u.a[t] + 16 * u.lda : u.a[t], u.lda};
  };
  const int64_t n = u.steps, with = std::min<int64_t>(n, 1 + pending.rows / 4);
  const uint8_t* b = u.b + kPanelStep;
  int64_t t = 1;
  for (; t < with; ++t, b += kPanelStep) StreamedStep<kGroups, true>(group(t, 0), group(t, 1), 0, b, behind);
  for (; t < n; ++t, b += kPanelStep) StreamedStep<kGroups, false>(group(t, 0), group(t, 1), 0, b, behind);
  behind.Finish();
  StoreAndStartNext<kGroups, false, false, SumsStart::kZero>(next.groups, shape.sums, nullptr, [&](auto next_groups) {
    LoadFirstStep<decltype(next_groups)::value>(next);
  });
}

// o for `panels` panels from panel p of a call over several (qgemm.h QGemmFusedPanelsUkernel),
// from row r.
FusedOutput PanelRows(const FusedOutput& o, int p, int r, int panels = 1) {
  FusedOutput s = RowsFrom(o, r, false);
  s.col_term += 32 * p;
  s.mult += 32 * p;
  s.out = static_cast<uint8_t*>(s.out) + 32 * p;
  s.cols = std::min(32 * panels, o.cols - 32 * p);
  return s;
}

// The tile blocks of one run of rows in a streamed call: its schedule (ScheduleTiles), its rows
// and its output.
template <typename Runs>
struct StreamedPiece {
  TileSchedule schedule;
  Runs runs;
  FusedOutput o;
};

// A tile block of a streamed call: its groups (1 or 2), its A rows' stride and its first output
// (kWide: with its first row's column in its wide row).
struct StreamedBlock {
  int groups;
  int64_t lda;
  uint8_t* out;
  int64_t ox;
};

// The blocks of `count` pieces, in order, over `panels` panels, one pipeline through them all;
// each piece's rows are `segments` runs of `steps` whole 64-byte k steps (runs as in Blocks; B's
// k in run order), taken `chunk` steps at a time. The pieces' o differ in out and wide_row0
// only. Each block's panel over a chunk is a unit (StreamedUnit) whose first step the previous
// unit's end starts (StoreAndStart). With one chunk, rows are outermost: each block meets every
// panel in turn. With several, kChunkBlocks blocks at a time meet every panel chunk by chunk,
// so that a block's A rows of a chunk stay in L1 while it meets the panels; the output stage
// keeps each block's partial sums per panel until the last chunk (ChunkUse).
template <bool kSigned, bool kClamp, typename Runs>
__attribute__((noinline)) void StreamedBlocks(const StreamedPiece<Runs>* pieces, int count, int panels, int segments,
                                              int64_t steps, int64_t chunk, const uint8_t* b, int64_t panel_bytes) {
  using Stage = PanelStage<kSigned, false, false, false>;
  constexpr bool kWide = Runs::kWide;
  alignas(64) int32_t sums[32 * 32];
  // Per thread, kept between calls: each panel's stage, the blocks and each block's k steps' A rows.
  thread_local std::vector<Stage> stages;
  thread_local std::vector<StreamedBlock> blocks;
  thread_local std::vector<const uint8_t*> rows;
  stages.clear();
  blocks.clear();
  rows.clear();
  for (int p = 0; p < panels; ++p) stages.emplace_back(PanelRows(pieces[0].o, p, 0));
  const FusedOutput& o = pieces[0].o;
  const StageShape shape{sums, o.ldo, o.wide_period, o.wide_valid};
  for (int i = 0; i < count; ++i) {
    const StreamedPiece<Runs>& piece = pieces[i];
    ForEachBlock(piece.schedule, [&](auto groups, int r0, TileBlock) {
      uint8_t* out = static_cast<uint8_t*>(piece.o.out);  // the block's first output (RowsFrom, BehindStage)
      int64_t ox = 0;
      if constexpr (kWide) {
        const int64_t row0 = piece.o.wide_row0 + r0, oy = row0 / shape.period;
        ox = row0 - oy * shape.period;
        out += (oy * shape.valid + std::min(ox, shape.valid)) * shape.ldo;
      } else {
        out += r0 * shape.ldo;
      }
      for (int s = 0; s < segments; ++s) {
        const uint8_t* run = piece.runs.tile(s, r0, 0).base;
        for (int64_t j = 0; j < steps; ++j) rows.push_back(run + j * kStepBytes);
      }
      blocks.push_back({decltype(groups)::value, piece.runs.tile(0, r0, 0).stride, out, ox});
    });
  }
  if (blocks.empty()) return;
  const int64_t n = segments * steps, chunks = (n + chunk - 1) / chunk;
  const size_t span = chunks > 1 ? kChunkBlocks : blocks.size();  // blocks that go through the chunks together
  thread_local std::vector<int32_t, NoInitAllocator<int32_t>> partials;  // per block of a span and panel: 32 × 32
  thread_local std::vector<StreamedUnit> units;
  if (chunks > 1) partials.resize(span * static_cast<size_t>(panels) * 32 * 32);
  units.clear();
  for (size_t i0 = 0; i0 < blocks.size(); i0 += span) {
    for (int64_t c = 0, t = 0; c < chunks; ++c, t += chunk) {
      const ChunkUse use = c == 0 ? ChunkUse::kSave : c + 1 < chunks ? ChunkUse::kAdd : ChunkUse::kFinish;
      for (size_t i = i0; i < std::min(blocks.size(), i0 + span); ++i) {
        for (int p = 0; p < panels; ++p) {
          int32_t* partial = chunks > 1 ? partials.data() + ((i - i0) * panels + p) * 32 * 32 : nullptr;
          units.push_back({blocks[i].groups, rows.data() + i * n + t, blocks[i].lda, b + p * panel_bytes + t * kPanelStep,
                           std::min(chunk, n - t), static_cast<int>(i), p, partial, use});
        }
      }
    }
  }
  units.emplace_back();  // none after the last
  // The first unit's first step, as a unit's end starts the next one's (no sums before it).
  StoreAndStartNext<0, false, false, SumsStart::kZero>(units[0].groups, sums, nullptr, [&](auto first_groups) {
    LoadFirstStep<decltype(first_groups)::value>(units[0]);
  });
  // The chunks' partial sums in the output stage only where there are chunks: checking for
  // them made the 128×768×768 GEMM's calls 2–3% slower.
  auto pass = [&](auto chunked) {
    Pending<kSigned> pending{stages.data()};
    for (size_t k = 0; k + 1 < units.size(); ++k) {
      const StreamedUnit& u = units[k];
      auto run = [&](auto groups) {
        StreamedSteps<decltype(groups)::value, kSigned, kClamp, kWide, chunked>(u, units[k + 1], shape, pending);
      };
      u.groups == 2 ? run(std::integral_constant<int, 2>{}) : run(std::integral_constant<int, 1>{});
      const StreamedBlock& block = blocks[static_cast<size_t>(u.block)];
      pending = {&stages[static_cast<size_t>(u.panel)], block.out + 32 * u.panel, block.ox, 16 * u.groups, u.partial, u.use};
    }
    BehindStage<kSigned, kClamp, kWide, chunked>(shape, pending).Finish();
  };
  chunks > 1 ? pass(std::true_type{}) : pass(std::false_type{});
}

#pragma GCC diagnostic pop

// Rows left after a call's whole 16-row groups from which its last 16 rows go through the tiles
// again instead of the VNNI loop: rows mr − 16.. are computed and stored twice, the same values
// both times. (A 16-row group's k steps cost about what the VNNI loop takes for 2–4 rows.)
constexpr int kOverlapRows = 4;

// The rows of a call the tiles take — whole 16-row groups, when there are k steps to make, and
// the last 16 again where kOverlapRows or more are left after them — as one TileSchedule, with
// how many rows that is in *tiled (the caller hands the rest to the VNNI kernel). One schedule
// per call: a pipelined form's last block, computed apart, cost it a pipeline start and an
// output stage of its own (54 rows of the ResNet 3×3 took 1.80 µs against 1.67 for 64, now
// 1.65–1.74 both; 112 rows 3.28 against 3.05 for 128, now 3.04–3.10). Where 16 or more rows
// are left after a call of at least 32 rows' whole 32-row blocks, its last 32 rows run as one
// more block instead (one B pass at four tile products per k step rather than two passes at
// two): MobileNetV2's 7×7 pointwise layers (49 rows, k = 960) 6.7 → 5.6 µs (960→160) and 11.9
// → 10.1 (960→320) single thread; with fewer left, a 16-row block is cheaper (the 14×14
// layers' 196 rows 3.9 → 4.2 µs as one more block of 32).
TileSchedule ScheduleTiles(int mr, int64_t k4, int* tiled) {
  const int whole = k4 >= kStepK4 ? mr / 16 * 16 : 0;  // rows in whole 16-row groups
  TileSchedule t{whole / 32, whole % 32 != 0};
  if (whole > 0 && mr >= 32 && mr % 32 >= 16) {
    t = {mr / 32, false, mr - 32, 2};
  } else if (whole > 0 && mr - whole >= kOverlapRows) {
    t.last = mr - 16;
    t.last_groups = 1;
  }
  *tiled = t.last_groups ? mr : whole;
  return t;
}

// f(ScheduleTiles) on configured tiles, where the tiles take any rows; returns how many.
template <typename F>
int OnTiles(int mr, int64_t k4, F f) {
  int tiled = 0;
  const TileSchedule t = ScheduleTiles(mr, k4, &tiled);
  if (tiled == 0) return 0;
  ConfigureTiles();
  f(t);
  return tiled;
}

// A run of rows for Panels: how many, how they are read (from its row 0) and their output.
template <typename Runs>
struct PanelsRun {
  int rows;
  Runs runs;
  FusedOutput o;
};

// The panels forms (qgemm.h QGemmFusedPanelsUkernel, QGemmFusedSegmentPiecesUkernel): `count`
// runs of rows × `panels` panels from b (each segments·seg_k4 k-quads), one output stage (their
// o differ in out only). Where the k allows, every run's tile blocks go rows outermost through
// one StreamedBlocks per group of panels, one pipeline through all the runs; then, panel by
// panel, each run's rows from its `tiled` on (0: all of them) through rest(run, tiled, panel, o
// for the panel from row tiled): the one-panel kernel, which hands rows short of a tile to the
// VNNI kernel.
template <typename Runs, typename Rest>
void Panels(const PanelsRun<Runs>* runs, int count, int segments, int64_t seg_k4, const int8_t* b, int panels,
            Rest rest) {
  const int64_t panel_bytes = segments * seg_k4 * kPanelRow;
  const FusedOutput& o = runs[0].o;
  // Panel by panel where k is left over after the whole steps (its VNNI k loop runs in the output
  // stage), where k is short, and with per-row terms (the driver's u8·s8 calls have none).
  const int64_t k4 = segments * seg_k4;
  const bool streamed = seg_k4 % kStepK4 == 0 && k4 >= kStreamMinK4 && !o.row_const;
  const int64_t steps = k4 / kStepK4, chunks = k4 <= kStreamMaxK4 ? 1 : (steps + kChunkSteps - 1) / kChunkSteps;
  // Per thread, kept between calls (a few runs each).
  thread_local std::vector<StreamedPiece<Runs>> tiles;
  thread_local std::vector<int> tiled;
  tiled.assign(static_cast<size_t>(count), 0);
  const int group = static_cast<int>(std::max<int64_t>(1, kStreamGroupBytes / panel_bytes));
  const uint8_t* pb = reinterpret_cast<const uint8_t*>(b);
  for (int p = 0; streamed && p < panels; p += group) {
    const int n = std::min(group, panels - p);
    tiles.clear();
    for (int i = 0; i < count; ++i) {
      const TileSchedule t = ScheduleTiles(runs[i].rows, seg_k4, &tiled[static_cast<size_t>(i)]);
      if (tiled[static_cast<size_t>(i)] > 0) tiles.push_back({t, runs[i].runs, PanelRows(runs[i].o, p, 0, n)});
    }
    if (tiles.empty()) break;
    if (p == 0) ConfigureTiles();
    auto run = [&](auto is_signed, auto clamp) {
      StreamedBlocks<is_signed, clamp>(tiles.data(), static_cast<int>(tiles.size()), n, segments, seg_k4 / kStepK4,
                                       (steps + chunks - 1) / chunks, pb + p * panel_bytes, panel_bytes);
    };
    auto clamp = [&](auto is_signed) {
      o.mult_below_one ? run(is_signed, std::false_type{}) : run(is_signed, std::true_type{});
    };
    o.out_signed ? clamp(std::true_type{}) : clamp(std::false_type{});
  }
  for (int i = 0; i < count; ++i) {
    const int from = tiled[static_cast<size_t>(i)];
    for (int p = 0; p < panels && from < runs[i].rows; ++p) {
      rest(runs[i], from, b + p * panel_bytes, PanelRows(runs[i].o, p, from));
    }
  }
}

}  // namespace

bool AmxUsable() {
  // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): Linux 5.16+ refuses tile data to
  // a process that has not asked for it (the first tile load would fault).
  static const bool usable = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
                             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni") &&
                             syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  return usable;
}

void ReleaseTiles__amx() { _tile_release(); }

void qgemm_u8s8_32x32__amx(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* c,
                           int64_t ldc) {
  qgemm_u8s8_8x32__avx512vnni(mr, k4, a, lda, b, c, ldc);  // mr ≤ kMaxMr: below a tile's 16 rows
}

void qgemm_u8s8_32x32_requant__amx(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                   const FusedOutput& o) {
  const int tiled = OnTiles(mr, k4, [&](const TileSchedule& t) {
    const StridedRuns runs{a, lda};
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      Blocks<is_signed, false, false, half, clamp>(t, 1, k4, runs, reinterpret_cast<const uint8_t*>(b), o);
    });
  });
  if (tiled < mr) qgemm_u8s8_8x32_requant__avx512vnni(mr - tiled, k4, a + tiled * lda, lda, b, RowsFrom(o, tiled, false));
}

void qgemm_u8s8_32x32_requant_panels__amx(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                          int panels, const FusedOutput& o) {
  if (mr < 16) {  // no tile rows (ScheduleTiles): every panel on the VNNI loop, directly (a GEMV's 48 panels 4% faster)
    for (int p = 0; p < panels; ++p) {
      qgemm_u8s8_8x32_requant__avx512vnni(mr, k4, a, lda, b + p * k4 * kPanelRow, PanelRows(o, p, 0));
    }
    return;
  }
  const PanelsRun<StridedRuns> run{mr, StridedRuns{a, lda}, o};
  Panels(&run, 1, 1, k4, b, panels, [&](const auto&, int tiled, const int8_t* panel, const FusedOutput& po) {
    qgemm_u8s8_32x32_requant__amx(mr - tiled, k4, a + tiled * lda, lda, panel, po);
  });
}

void qgemm_s8u8_32x32_requant__amx(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                   const FusedOutput& o) {
  const int tiled = OnTiles(mr, k4, [&](const TileSchedule& t) {
    const StridedRuns runs{reinterpret_cast<const uint8_t*>(a), lda};
    DispatchStage<false>(o, [&](auto is_signed, auto half, auto clamp) {
      o.row_factor ? Blocks<is_signed, true, true, half, clamp>(t, 1, k4, runs, b, o)
                   : Blocks<is_signed, true, false, half, clamp>(t, 1, k4, runs, b, o);
    });
  });
  if (tiled < mr) qgemm_s8u8_8x32_requant__avx512vnni(mr - tiled, k4, a + tiled * lda, lda, b, RowsFrom(o, tiled, true));
}

void qgemm_u8s8_32x32_requant_indirect__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* rows,
                                            const int8_t* b, const FusedOutput& o) {
  const int tiled = OnTiles(mr, seg_k4, [&](const TileSchedule& t) {
    const int64_t bytes = seg_k4 / kStepK4 * kStepBytes;
    thread_local std::vector<uint8_t, NoInitAllocator<uint8_t>> stage;
    if (stage.size() < static_cast<size_t>(32 * bytes)) stage.resize(static_cast<size_t>(32 * bytes));
    const PointerRuns runs{rows, segments, bytes, stage.data()};
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      Blocks<is_signed, false, false, half, clamp>(t, segments, seg_k4, runs, reinterpret_cast<const uint8_t*>(b), o);
    });
  });
  if (tiled < mr) {
    qgemm_u8s8_8x32_requant_indirect__avx512vnni(mr - tiled, segments, seg_k4, rows + tiled * segments, b,
                                                 RowsFrom(o, tiled, false));
  }
}

void qgemm_u8s8_32x32_requant_segments__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                            int64_t lda, const int8_t* b, const FusedOutput& o) {
  const int tiled = OnTiles(mr, seg_k4, [&](const TileSchedule& t) {
    const PlaneRuns runs{base, lda};
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      Blocks<is_signed, false, false, half, clamp>(t, segments, seg_k4, runs, reinterpret_cast<const uint8_t*>(b), o);
    });
  });
  if (tiled < mr) {
    const uint8_t* rest[kMaxSegments];
    for (int s = 0; s < segments; ++s) rest[s] = base[s] + tiled * lda;
    qgemm_u8s8_8x32_requant_segments__avx512vnni(mr - tiled, segments, seg_k4, rest, lda, b, RowsFrom(o, tiled, false));
  }
}

void qgemm_u8s8_32x32_requant_segments_panels__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                                   int64_t lda, const int8_t* b, int panels, const FusedOutput& o) {
  SegmentPiece piece;
  piece.rows = mr;
  std::copy(base, base + segments, piece.base);
  piece.lda = lda;
  piece.out = static_cast<uint8_t*>(o.out);
  qgemm_u8s8_32x32_requant_segment_pieces__amx(&piece, 1, segments, seg_k4, b, panels, o);
}

void qgemm_u8s8_32x32_requant_segment_pieces__amx(const SegmentPiece* pieces, int count, int segments, int64_t seg_k4,
                                                  const int8_t* b, int panels, const FusedOutput& o) {
  if (count == 0) return;
  // Wide rows (a padded plane) map to their outputs in the output stage (PlaneRuns).
  auto with = [&](auto runs_of) {
    using Runs = decltype(runs_of);
    thread_local std::vector<PanelsRun<Runs>> runs;  // per thread, kept between calls
    runs.clear();
    for (int i = 0; i < count; ++i) {
      FusedOutput po = o;
      po.out = pieces[i].out;
      runs.push_back({pieces[i].rows, Runs{pieces[i].base, pieces[i].lda}, po});
    }
    Panels(runs.data(), count, segments, seg_k4, b, panels,
           [&](const PanelsRun<Runs>& run, int tiled, const int8_t* panel, const FusedOutput& po) {
             const uint8_t* rows[kMaxSegments];
             for (int s = 0; s < segments; ++s) rows[s] = run.runs.base[s] + tiled * run.runs.lda;
             qgemm_u8s8_32x32_requant_segments__amx(run.rows - tiled, segments, seg_k4, rows, run.runs.lda, panel, po);
           });
  };
  o.wide_period ? with(PlaneRuns{}) : with(FlatRuns{});
}

}  // namespace qfarm::kernels
