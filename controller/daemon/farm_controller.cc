// farm-controller --db PATH --listen ADDR: the farm's controller daemon (DESIGN.md). Serves the
// gRPC API until SIGINT or SIGTERM, then drains and exits 0. Errors: one line, exit status 2.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <pthread.h>

#include "common/file.h"
#include "controller/http_server.h"
#include "controller/service.h"
#include "controller/store.h"

namespace {

// SIGINT/SIGTERM are blocked before any thread starts and taken with sigwait: no handler runs.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Fail(const qfarm::Status& s) {
  std::fprintf(stderr, "farm-controller: error: %s\n", s.message().c_str());
  return 2;
}

bool Loopback(const std::string& listen) {
  return listen.rfind("127.", 0) == 0 || listen.rfind("localhost:", 0) == 0 || listen.rfind("[::1]:", 0) == 0;
}

int Main(int argc, char** argv) {
  using namespace qfarm::controller;
  CLI::App app{"farm-controller: schedules quantized-model jobs onto agents and stores their results"};
  std::string db_path, listen = "127.0.0.1:7700";
  StoreOptions store_options;
  ServerOptions server_options;
  bool no_health = false, insecure = false;
  std::string tls_cert, tls_key, issue_token, role = "agent", revoke_token;
  app.add_option("--tls-cert", tls_cert, "TLS certificate (PEM) for gRPC and HTTP");
  app.add_option("--tls-key", tls_key, "TLS private key (PEM)");
  app.add_flag("--insecure", insecure, "allow listening without TLS on an address other than loopback");
  app.add_option("--issue-token", issue_token, "print a new token for NAME (--role agent|operator) and exit");
  app.add_option("--role", role, "role of --issue-token: agent (its name is the agent's) or operator");
  app.add_option("--revoke-token", revoke_token, "revoke NAME's token and exit");
  app.add_option("--db", db_path, "SQLite database file")->required();
  std::string http;
  app.add_option("--listen", listen, "gRPC address (host:port; port 0 picks a free one)");
  app.add_option("--http", http, "dashboard and JSON API address (host:port), read-only");
  app.add_option("--lease-s", store_options.lease_s, "a lease lives this long past the last heartbeat");
  app.add_option("--heartbeat-timeout-s", store_options.heartbeat_timeout_s, "silent agents' devices go offline");
  app.add_option("--recheck-s", store_options.recheck_s, "a quarantined device's health is re-checked this often");
  app.add_flag("--no-health-checks", no_health, "let devices take jobs without the golden-vector check");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "farm-controller: error: %s\n", e.what());
    return 2;
  }
  store_options.health_checks = !no_health;
  const sigset_t stop_signals = BlockStopSignals();
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-reply must not end the daemon
  auto store = Store::Open(db_path, store_options);
  if (!store.ok()) return Fail(store.status());
  const double now = SystemClock().Now();
  if (!issue_token.empty()) {
    auto token = (*store)->IssueToken(issue_token, role, now);
    if (!token.ok()) return Fail(token.status());
    std::printf("%s\n", token->c_str());
    return 0;
  }
  if (!revoke_token.empty()) {
    qfarm::Status s = (*store)->RevokeToken(revoke_token, now);
    if (!s.ok()) return Fail(s);
    std::printf("farm-controller: token '%s' revoked\n", revoke_token.c_str());
    return 0;
  }
  if (tls_cert.empty() != tls_key.empty()) return Fail(qfarm::InvalidArgument("--tls-cert and --tls-key go together"));
  if (!tls_cert.empty()) {
    auto cert = qfarm::ReadTextFile(tls_cert);
    auto key = qfarm::ReadTextFile(tls_key);
    if (!cert.ok() || !key.ok()) return Fail((cert.ok() ? key : cert).status());
    server_options.tls_cert_pem = *cert;
    server_options.tls_key_pem = *key;
  }
  const bool tls = !tls_cert.empty();
  for (const std::string& addr : {listen, http}) {
    if (!addr.empty() && !tls && !insecure && !Loopback(addr)) {
      return Fail(qfarm::InvalidArgument(addr + ": without TLS (--tls-cert/--tls-key) the controller listens only on "
                                         "loopback; pass --insecure to listen there anyway"));
    }
  }
  server_options.listen = listen;
  auto server = ControllerServer::Start(**store, server_options);
  if (!server.ok()) {
    std::fprintf(stderr, "farm-controller: error: %s\n", server.status().message().c_str());
    return 2;
  }
  auto tokens = (*store)->TokensEnabled();
  std::printf("farm-controller: listening on %s, database %s, %s, %s\n", (*server)->address().c_str(), db_path.c_str(),
              tls ? "TLS" : Loopback(listen) ? "no TLS: loopback only" : "WARNING: no TLS on a non-loopback address (--insecure)",
              tokens.ok() && *tokens ? "tokens required" : "no tokens issued: any local caller is trusted");
  std::unique_ptr<HttpServer> dashboard;
  if (!http.empty()) {
    auto started = HttpServer::Start(**store, http, server_options.tls_cert_pem, server_options.tls_key_pem);
    if (!started.ok()) {
      std::fprintf(stderr, "farm-controller: error: %s\n", started.status().message().c_str());
      return 2;
    }
    dashboard = std::move(*started);
    std::printf("farm-controller: dashboard on %s://%s/%s\n", tls ? "https" : "http", dashboard->address().c_str(),
                Loopback(http) ? "" : " (WARNING: no TLS on a non-loopback address)");
  }
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("farm-controller: shutting down\n");
  (*server)->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "farm-controller: error: internal: %s\n", e.what());
    return 2;
  }
}
