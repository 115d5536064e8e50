// The controller's gRPC service (proto/farm.proto, the callback API) and the server around it.
// Reactions never block: each hands its work to a small thread pool and finishes from there;
// result reports go through one batching writer that commits many reports per transaction and
// acknowledges each only after the commit. A sweeper thread expires leases and marks silent
// agents offline. Every error is a gRPC status whose message names the field it is about.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "controller/store.h"

namespace grpc {
class Server;
}

namespace qfarm::controller {

// Wall-clock time in Unix seconds; tests inject their own.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual double Now() = 0;
};
Clock& SystemClock();

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0: any free port (see ControllerServer::port)
  double heartbeat_interval_s = 2;     // told to agents at registration
  double sweep_interval_s = 0.5;
  int workers = 4;
  int64_t max_message_bytes = int64_t{300} << 20;
  int64_t max_submit_blobs = 10000;
  Clock* clock = nullptr;              // default SystemClock()
  std::string tls_cert_pem, tls_key_pem;  // TLS when set (PEM contents, not paths)
};

class ControllerServer {
 public:
  // Starts serving; the store must outlive the server.
  static StatusOr<std::unique_ptr<ControllerServer>> Start(Store& store, ServerOptions options);
  ~ControllerServer();  // Shutdown()
  void Shutdown();
  int port() const { return port_; }
  std::string address() const;  // host:port agents and farmctl can dial

 private:
  struct Impl;
  ControllerServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string host_;
};

}  // namespace qfarm::controller
