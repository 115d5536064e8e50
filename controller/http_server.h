// The controller's HTTP side (Boost.Beast): the dashboard pages (dashboards/, one page app) and
// a read-only JSON API, GET /api/<kind>?arg=value, answering controller/queries.h's queries.
// Anything else is 404; any method but GET/HEAD is 405; the dashboard never changes state.
// Runs its own I/O thread; handlers never throw (errors become JSON {"error": "..."} replies).
// Queries run on that thread: they are short reads (indexed, bounded by `limit`), and a slow one
// only delays other dashboard requests, never the gRPC side.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "controller/store.h"

namespace qfarm::controller {

class HttpServer {
 public:
  // Listens on host:port (port 0: any free port), with TLS when a certificate and key (PEM
  // contents) are given; the store must outlive the server.
  static StatusOr<std::unique_ptr<HttpServer>> Start(Store& store, const std::string& listen,
                                                     const std::string& tls_cert_pem = "",
                                                     const std::string& tls_key_pem = "");
  ~HttpServer();
  void Shutdown();
  std::string address() const;

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
};

// Query-string arguments as query args: integers become numbers, the rest strings.
nlohmann::json ArgsFromQueryString(const std::string& query);

}  // namespace qfarm::controller
