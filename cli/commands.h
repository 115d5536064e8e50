// farmctl subcommands. Each returns the process exit status: 0 success, 1 a divergence (diff),
// 2 an error (already printed as one line on stderr by ReportError).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace qfarm::cli {

struct RunArgs {
  std::string model;
  std::string device = "reference";
  std::string profile;
  std::vector<std::string> inputs;
  uint64_t seed = 1;
  std::string output_dir;
  bool json = false;
  bool latency = false;  // measure latency by DESIGN.md's rules after the run
};

struct DiffArgs {
  RunArgs run;
  bool layers = false;
  bool json = false;
};

struct NightlyArgs {
  bool local = false;
  std::string db;
  uint64_t seed = 1;
  double warmup_s = 0.2;  // latency rules (DESIGN.md): warm-up ≥ 3 runs and warmup_s,
  double measure_s = 1.0; // then ≥ min_runs runs and measure_s
  int min_runs = 30;
  std::string junit;       // default nightly-junit.xml
  std::string html;        // default nightly-report.html
};

int RunCommand(const RunArgs& args);
int ProfilesCommand(bool json);
int DiffCommand(const DiffArgs& args);
// Lists the built-in models, or writes them (and their sample inputs as .pb) to a directory.
int ModelsCommand(const std::string& export_dir);
// Lists the devices this machine has, with declared profiles and fingerprints.
int DevicesCommand(bool json);
// The profiles a device's arithmetic is consistent with; 1 when none is.
int FingerprintCommand(const std::string& device, bool json);
int NightlyCommand(const NightlyArgs& args);

// Prints "farmctl: error: <message>" and returns 2.
int ReportError(const Status& status);

// A name usable as a file name: anything but [A-Za-z0-9._-] becomes '_'; never "", "." or "..".
std::string SafeFileName(const std::string& name);

}  // namespace qfarm::cli
