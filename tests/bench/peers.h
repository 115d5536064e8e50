// Peer libraries measured in the same process as our kernels: oneDNN (int8 matmul/convolution,
// u8 source × s8 weights → u8) and XNNPACK (qs8 fully-connected/convolution). A peer op is
// created once for a shape; Run() executes it once. Zero points are 0 for the peers (our rows
// pay for theirs), scales are per-tensor.
#pragma once

#include <memory>
#include <string>

#include "tests/bench/shapes.h"

namespace qfarm::bench {

class PeerOp {
 public:
  virtual ~PeerOp() = default;
  virtual void Run() = 0;
};

// nullptr when the peer cannot run the shape here (the reason in *why).
std::unique_ptr<PeerOp> MakeOneDnn(const LayerShape& s, int threads, std::string* why);
std::unique_ptr<PeerOp> MakeXnnpack(const LayerShape& s, int threads, std::string* why);

// The tile loop of our AMX GEMM schedule without anything around it (loads, products, sum
// stores), on a GEMM shape: the ceiling that schedule sets on this machine. nullptr without AMX
// or where the shape does not fit the loop (the reason in *why).
std::unique_ptr<PeerOp> MakeAmxTileLoop(const LayerShape& s, std::string* why);

// The machine's int8 multiply-accumulate peak in GOPS (2 ops per MAC), with the assumption used.
double Int8PeakGops(int threads, std::string* assumption);

}  // namespace qfarm::bench
